"""Argument checking shared by the numba kernels, their kernels_ref twins and the cffi harness.

Everything a user can get wrong is caught here, in plain Python, before any jitted loop or C
function runs: wrong dtype or shape, out-of-range scalars, shifts C leaves undefined, unknown
path/release. Each error names the CMSIS function, the argument and the fix.

Shapes are checked in full, not by size: a data input is (N, size) (the C memory of each item)
or (N,) + its logical shape ((N, H, W, C) for images, (N, nb_batches, dim_vec) for batched
softmax); weights are flat (size,) or their logical shape (conv OHWI, depthwise (KY, KX, C), fc
(num_of_rows, dim_vec); `_opt` fc weights only as the flat interleaved array). Anything else (HWIO
weights, NCHW or (N, W, H, C) images, a 1-D data input without its batch axis) is refused with
the expected shape: a single item is passed as x[None].
"""
import numpy as np

from .cmsis_signatures import CTYPES, SIGNATURES
from .companion_signatures import signature
from .errors import KernelArgumentError, ShapeError
from .releases import PATH_HELP, PATHS, UnknownRelease, release as find_release

_SCALAR_RANGE = {"uint16_t": (0, 65535), "uint32_t": (0, 2**32 - 1), "arm_nn_activation_type": (0, 1),
                 "int16_t": (-32768, 32767)}


class Bound(dict):
    """Checked arguments of one call: arrays as C-contiguous (N, size) or flat, scalars as int."""

    n: int
    out_shape: tuple
    path: str              # None for a companion kernel (one path)
    release: object        # qsim.releases.Release; None for a companion kernel (any release)
    truncate: bool

    @property
    def version(self) -> str:
        """The release's CMSIS_5 tag (for messages and the kernels_ref twins); None for a companion."""
        return None if self.release is None else self.release.name


def check_options(fn, path, release):
    """The Release of `release` (a Release or a tag); KernelArgumentError for an unknown path/tag."""
    if path not in PATHS:
        raise KernelArgumentError(f"{fn}: path={path!r} is not one of {PATHS}. help: {PATH_HELP}.")
    try:
        return find_release(release)
    except UnknownRelease as e:
        raise KernelArgumentError(f"{fn}: {e}") from None


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


def bind(fn, args, kwargs, *, path=None, release=None, truncate=False):
    """Match a call's positional/keyword args to the C prototype of `fn` and check them all.

    For a CMSIS-NN function `path` ("ref"|"dsp") and `release` (a qsim.releases.Release or its
    tag) are required: the caller says which build it simulates. A companion kernel
    (qsim.companion_signatures) gives the same bytes on every path and release and takes neither.
    Returns a Bound dict: scalars as Python ints, 'batched'/'inout' arrays as (N, size), 'const'
    arrays flat. All batched arrays must share N.
    """
    sig = signature(fn)
    if fn in SIGNATURES:
        if path is None or release is None:
            raise TypeError(f"{fn}: bind() needs path= and release= (CMSIS-NN results depend on both)")
        rel = check_options(fn, path, release)
    elif path is not None or release is not None:
        raise TypeError(f"{fn}: a companion kernel takes no path= or release= (one C body for all)")
    else:
        rel = None
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
        shape = tuple(a.shape(b)) if a.shape else (size,)
        if a.role == "const":
            if arr.shape not in ((size,), shape):
                also = f" or flat ({size},)" if shape != (size,) else ""
                raise ShapeError(f"{fn}: '{a.name}' has shape {arr.shape}; the geometry needs {shape}"
                                 f"{also}. help: check the layout ({_layout_hint(fn, a.name)}).")
            b[a.name] = arr.reshape(size)
            continue
        if arr.ndim < 2:
            raise ShapeError(f"{fn}: '{a.name}' has shape {arr.shape}; it needs a leading batch axis: "
                             f"(N, {size}){_or_shape(shape, size)}. help: pass x[None] for one item.")
        batch = arr.shape[0]
        if arr.shape[1:] not in ((size,), shape):
            raise ShapeError(f"{fn}: '{a.name}' has shape {arr.shape}; the geometry arguments need "
                             f"(N, {size}){_or_shape(shape, size)}. help: {_layout_hint(fn, a.name)}.")
        if n is not None and batch != n:
            raise ShapeError(f"{fn}: '{a.name}' has batch {batch} but another input has {n}")
        n = batch
        b[a.name] = arr.reshape(batch, size)
    if n == 0:
        raise ShapeError(f"{fn}: empty batch (N = 0)")
    b.n = n
    b.out_shape = tuple(sig.out_shape(b))
    b.path, b.release, b.truncate = path, rel, bool(truncate)
    return b


def _or_shape(shape, size):
    return "" if shape == (size,) else f" or (N, {', '.join(map(str, shape))})"


def _layout_hint(fn, name):
    if name == "Im_in":
        return "images are HWC: (N, dim_im_in_y, dim_im_in_x, ch_im_in), not NCHW or (N, W, H, C)"
    if fn == "arm_softmax_with_batch_q7":
        return "pass (N, nb_batches, dim_vec) or (N, nb_batches * dim_vec)"
    if name in ("Im_in", "vec_in", "pV", "data", "pSrcA", "pSrcB", "input", "dst", "src", "pSrc"):
        return "pass (N, size) with one item per row"
    if name == "wt":
        return "depthwise weights are (KY, KX, C)" if "depthwise" in fn else \
            "conv weights are OHWI: (ch_im_out, KY, KX, ch_im_in)"
    if name == "pM":
        return ("_opt variants take the 1-D interleaved array, qsim.kernels.INTERLEAVE[fn](mat) of "
                "the (num_of_rows, dim_vec) matrix" if fn.endswith("_opt") else
                "(num_of_rows, dim_vec), row-major over the flattened HWC input")
    return "one value per output channel"


def out_array(b, dtype):
    return np.empty((b.n,) + b.out_shape, dtype)
