"""Argument checking shared by the numba kernels, their kernels_ref twins and the cffi harness.

Everything a user can get wrong is caught here, in plain Python, before any jitted loop or C
function runs: wrong dtype or size, out-of-range scalars, shifts C leaves undefined, unknown
path/version. Each error names the CMSIS function, the argument and the fix.
"""
import numpy as np

from .cmsis_signatures import CTYPES
from .companion_signatures import signature
from .errors import KernelArgumentError, ShapeError

PATHS = ("ref", "dsp")
VERSIONS = ("5.7.0", "5.9.0")
_SCALAR_RANGE = {"uint16_t": (0, 65535), "uint32_t": (0, 2**32 - 1), "arm_nn_activation_type": (0, 1),
                 "int16_t": (-32768, 32767)}


class Bound(dict):
    """Checked arguments of one call: arrays as C-contiguous (N, size) or flat, scalars as int."""

    n: int
    out_shape: tuple
    path: str
    version: str
    truncate: bool


def check_options(fn, path, version):
    if path not in PATHS:
        raise KernelArgumentError(f"{fn}: path={path!r} is not one of {PATHS}. help: 'ref' is the "
                                  "plain-C build (x86 host, Cortex-M0/M3), 'dsp' Cortex-M4/M7/M33.")
    if version not in VERSIONS:
        raise KernelArgumentError(f"{fn}: version={version!r} is not one of {VERSIONS}.")


def _as_int_array(fn, name, value, ctype):
    dtype = np.dtype(CTYPES[ctype])
    arr = np.asarray(value)
    if arr.dtype == dtype:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind not in "iub" or arr.dtype == np.bool_:
        raise KernelArgumentError(
            f"{fn}: argument '{name}' must hold integers ({ctype} = {dtype}), got dtype {arr.dtype}. "
            f"help: quantize floats first, e.g. QFormat(8, frac_bits).quantize(x).")
    info = np.iinfo(dtype)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise KernelArgumentError(
            f"{fn}: argument '{name}' has values in [{arr.min()}, {arr.max()}], outside {ctype} "
            f"[{info.min}, {info.max}]. help: saturate or rescale before calling.")
    return np.ascontiguousarray(arr.astype(dtype))


def check_shift(fn, name, value, hi=31):
    if not 0 <= value <= hi:
        raise KernelArgumentError(
            f"{fn}: {name}={value} is outside 0..{hi}; C leaves larger shifts undefined (x86 and "
            f"Cortex-M disagree). help: change the layer's QFormats so the shift fits.")


def bind(fn, args, kwargs, *, path="ref", version="5.7.0", truncate=False):
    """Match a call's positional/keyword args to the C prototype of `fn` and check them all.

    Returns a Bound dict: scalars as Python ints, 'batched'/'inout' arrays as (N, size),
    'const' arrays flat. All batched arrays must share N.
    """
    sig = signature(fn)
    check_options(fn, path, version)
    names = [a.name for a in sig.py_args]
    if len(args) > len(names):
        raise KernelArgumentError(f"{fn} takes {len(names)} arguments ({', '.join(names)}), got {len(args)}")
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise KernelArgumentError(f"{fn}: unknown argument '{k}'. Arguments: {', '.join(names)}")
        if k in values:
            raise KernelArgumentError(f"{fn}: argument '{k}' given twice")
        values[k] = v
    missing = [n for n in names if n not in values]
    if missing:
        raise KernelArgumentError(f"{fn}: missing argument(s) {', '.join(missing)}")
    b = Bound()
    for a in sig.py_args:
        if a.role != "scalar":
            continue
        v = values[a.name]
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise KernelArgumentError(f"{fn}: argument '{a.name}' must be an integer, got {v!r}")
        lo, hi = _SCALAR_RANGE[a.ctype]
        if not lo <= int(v) <= hi:
            raise KernelArgumentError(f"{fn}: argument '{a.name}'={v} is outside {a.ctype} range {lo}..{hi}")
        b[a.name] = int(v)
    for s in ("bias_shift", "out_shift"):
        if s in b:
            check_shift(fn, s, b[s])
    n = None
    for a in sig.py_args:
        if a.role == "scalar":
            continue
        arr = _as_int_array(fn, a.name, values[a.name], a.ctype)
        size = a.size(b)
        if a.role == "const":
            if arr.size != size:
                raise ShapeError(f"{fn}: '{a.name}' has {arr.size} values, the geometry needs {size}. "
                                 f"help: check the layout ({_layout_hint(fn, a.name)}).")
            b[a.name] = arr.reshape(size)
            continue
        if arr.ndim == 0 or arr.size == 0 and size != 0:
            raise ShapeError(f"{fn}: '{a.name}' must have a leading batch axis, got shape {arr.shape}")
        batch = arr.shape[0]
        if arr.size != batch * size:
            raise ShapeError(f"{fn}: '{a.name}' has shape {arr.shape}; each of the {batch} batch items "
                             f"must have {size} values from the geometry arguments. help: pass "
                             f"(N, {size}) or (N, H, W, C) in HWC order.")
        if n is not None and batch != n:
            raise ShapeError(f"{fn}: '{a.name}' has batch {batch} but another input has {n}")
        n = batch
        b[a.name] = arr.reshape(batch, size)
    if n == 0:
        raise ShapeError(f"{fn}: empty batch (N = 0)")
    b.n = n
    b.out_shape = tuple(sig.out_shape(b))
    b.path, b.version, b.truncate = path, version, bool(truncate)
    return b


def _layout_hint(fn, name):
    if name == "wt":
        return "depthwise weights are (KY, KX, C)" if "depthwise" in fn else \
            "conv weights are OHWI: (ch_im_out, KY, KX, ch_im_in)"
    if name == "pM":
        return "rows x dim_vec; _opt variants take the interleaved array of the same size"
    return "one value per output channel"


def out_array(b, dtype):
    return np.empty((b.n,) + b.out_shape, dtype)
