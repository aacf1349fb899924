"""Companion kernels of codegen/companion/qsim_requantize.c (qsim's own C, not CMSIS): the storage
change between layers of different precision (qsim.quantize's `layer_bits`), q7 -> q15 and
q15 -> q7, with any format change.

One flat serial numba loop with int32 steps, as qsim_add (memory-bound: no threads). Single path
(no path/release options); `truncate` mirrors -DARM_NN_TRUNCATE (NN_ROUND becomes 0).
"""
import numpy as np
from numba import int32, njit, uint64

from ..kernel_args import bind, check_shift
from ._companion import refuse


@njit(cache=True, nogil=True)
def _requantize(src, ls, rnd, rs, lo, hi, out):
    """out = clamp(((src << ls) + rnd) >> rs, lo, hi) element-wise (flat, int32 steps)."""
    for i in range(uint64(src.shape[0])):
        v = ((int32(src[i]) << ls) + rnd) >> rs
        out[i] = min(max(v, lo), hi)


def _run(fn, bits_in, dtype_out, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    refuse(fn, b["lshift"] <= 30 - bits_in, f"lshift={b['lshift']} > {30 - bits_in} can overflow "
           "int32", "choose an output format closer to the input's")
    check_shift(fn, "rshift", b["rshift"])
    s = b["rshift"]
    rnd = 0 if truncate or s == 0 else 1 << (s - 1)
    info = np.iinfo(dtype_out)
    out = np.empty(b["pSrc"].shape, dtype_out)
    _requantize(b["pSrc"].reshape(-1), np.int32(b["lshift"]), np.int32(rnd), np.int32(s),
                np.int32(info.min), np.int32(info.max), out.reshape(-1))
    return out


def qsim_requantize_q7_q15(pSrc, lshift, rshift, block_size, *, truncate=False):
    """q7 -> q15 with a format change, batched over the leading axis of pSrc.

    Arithmetic, per element (int32 in C, never overflowing within the constraints):
        out = sat16( (pSrc * 2**lshift + NN_ROUND(rshift)) >> rshift )
    NN_ROUND(s) = 2**(s-1) (0 for s = 0 or truncate=True), arithmetic shift. Input Q.f gives
    output Q.(f + lshift - rshift).

    Parameters
    ----------
    pSrc : (N, block_size) int8
    lshift : 0..22.  rshift : 0..31.

    Returns
    -------
    (N, block_size) int16

    Constraints: as above (KernelArgumentError otherwise). Buffers: none; pDst must not alias pSrc.
    """
    return _run("qsim_requantize_q7_q15", 8, np.int16, (pSrc, lshift, rshift, block_size), truncate)


def qsim_requantize_q15_q7(pSrc, lshift, rshift, block_size, *, truncate=False):
    """q15 -> q7: as qsim_requantize_q7_q15 with sat8 and int16 input; lshift 0..14."""
    return _run("qsim_requantize_q15_q7", 16, np.int8, (pSrc, lshift, rshift, block_size), truncate)
