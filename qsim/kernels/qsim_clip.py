"""Companion kernels of codegen/companion/qsim_clip.c (qsim's own C, not CMSIS): clip / ReLU6 in
any format, in place in C, q7 and q15.

A flat numba loop in the data's own type (vectorised: 64 q7 lanes per AVX-512 register), over
BLOCK-element spans run in parallel (serial under the engine's one-thread workers). Memory-bound:
see BENCHMARKS.md for the bandwidth figures. Single path, no rounding: no path/release options;
`truncate` is accepted for a uniform call and changes nothing.
"""
import numpy as np
from numba import njit, prange, uint64

from ..kernel_args import bind
from ._companion import BLOCK, refuse


@njit(cache=True, nogil=True)
def _clip_span(data, lo, hi, out, start, stop):
    for i in range(uint64(start), uint64(stop)):
        out[i] = min(max(data[i], lo), hi)


@njit(cache=True, nogil=True, parallel=True)
def _clip(data, lo, hi, out):
    """out = min(max(data, lo), hi) element-wise (flat arrays; out may be data: in place)."""
    n = data.shape[0]
    for k in prange((n + BLOCK - 1) // BLOCK):
        _clip_span(data, lo, hi, out, k * BLOCK, min(n, (k + 1) * BLOCK))


def _clip_in_place(dtype):
    def run(data, min_val, max_val):
        """Clip the flat `data` in place (as the C does) and return it; for qsim.simulate, whose
        arrays are contiguous of the right dtype. The bounds are clamped to the type (lo <= hi)."""
        info = np.iinfo(dtype)
        _clip(data, dtype(min(max(min_val, info.min), info.max)), dtype(min(max(max_val, info.min), info.max)),
              data)
        return data
    return run


CLIP_IN_PLACE = {"qsim_clip_q7": _clip_in_place(np.int8), "qsim_clip_q15": _clip_in_place(np.int16)}


def _run(fn, dtype, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    lo, hi = b["min_val"], b["max_val"]
    refuse(fn, lo <= hi, f"min_val={lo} > max_val={hi}", "pass the lower bound first")
    info = np.iinfo(dtype)
    out = np.empty_like(b["data"])
    # with lo <= hi, clamping the bounds to the type first gives the C's bytes
    _clip(b["data"].reshape(-1), dtype(min(max(lo, info.min), info.max)), dtype(min(max(hi, info.min), info.max)),
          out.reshape(-1))
    return out


def qsim_clip_q7(data, size, min_val, max_val, *, truncate=False):
    """Q7 clip, batched over `data` (the C works in place).

    Arithmetic: out = min(max(data, min_val), max_val), bounds as integers of the data's format;
    ReLU6 on Qm.f data is min_val 0, max_val min(6 * 2**f, 127).

    Parameters
    ----------
    data : (N, size) int8
    min_val, max_val : int16 bounds, min_val <= max_val (the C gives max_val everywhere otherwise).

    Returns
    -------
    (N, size) int8, the new data; the caller's array is not modified.
    """
    return _run("qsim_clip_q7", np.int8, (data, size, min_val, max_val), truncate)


def qsim_clip_q15(data, size, min_val, max_val, *, truncate=False):
    """Q15 clip: as qsim_clip_q7 on int16 data."""
    return _run("qsim_clip_q15", np.int16, (data, size, min_val, max_val), truncate)
