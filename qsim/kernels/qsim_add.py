"""Companion kernels of codegen/companion/qsim_add.c (qsim's own C, not CMSIS): requantizing
element-wise add for residual blocks, q7 and q15.

The flat data is cut into BLOCK-element spans run in parallel (serial under the engine's
one-thread workers). Each step is cast back to int32 and the shift counts are masked to 0..31
(they are within that already, by the wrapper's checks), so LLVM keeps 16 int32 lanes per AVX-512
register instead of widening to int64 (numba's default, 2x slower); within the constraints every
step fits int32, as in the C, so the casts never wrap. Single path (no path/release options);
`truncate` mirrors -DARM_NN_TRUNCATE (NN_ROUND becomes 0).
"""
import numpy as np
from numba import int32, njit, prange, uint64

from ..kernel_args import bind, check_shift
from ._companion import BLOCK, refuse


@njit(cache=True, nogil=True)
def _add_span(a, la, b, lb, rnd, s, lo, hi, out, start, stop):
    """out[i] = clamp(((a[i] << la) + (b[i] << lb) + rnd) >> s, lo, hi) for start <= i < stop."""
    la, lb, s = la & 31, lb & 31, s & 31
    for i in range(uint64(start), uint64(stop)):
        v = int32(int32(int32(a[i]) << la) + int32(int32(b[i]) << lb) + rnd)
        out[i] = min(max(int32(v >> s), lo), hi)


@njit(cache=True, nogil=True, parallel=True)
def _add(a, la, b, lb, rnd, s, lo, hi, out):
    n = a.shape[0]
    for k in prange((n + BLOCK - 1) // BLOCK):
        _add_span(a, la, b, lb, rnd, s, lo, hi, out, k * BLOCK, min(n, (k + 1) * BLOCK))


def _run(fn, bits, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    for name in ("lshift_a", "lshift_b"):
        refuse(fn, b[name] <= 30 - bits, f"{name}={b[name]} > {30 - bits} can overflow the int32 sum",
               "choose a common format closer to the inputs' formats")
    check_shift(fn, "out_shift", b["out_shift"])
    s = b["out_shift"]
    rnd = 0 if truncate or s == 0 else 1 << (s - 1)
    out = np.empty_like(b["pSrcA"])
    _add(b["pSrcA"].reshape(-1), np.int32(b["lshift_a"]), b["pSrcB"].reshape(-1), np.int32(b["lshift_b"]),
         np.int32(rnd), np.int32(s), np.int32(-(1 << (bits - 1))), np.int32((1 << (bits - 1)) - 1),
         out.reshape(-1))
    return out


def qsim_add_q7(pSrcA, lshift_a, pSrcB, lshift_b, out_shift, block_size, *, truncate=False):
    """Q7 requantizing add, batched over the leading axis of pSrcA / pSrcB.

    Arithmetic, per element (int32 in C, never overflowing within the constraints):
        out = sat8( (pSrcA * 2**lshift_a + pSrcB * 2**lshift_b + NN_ROUND(out_shift)) >> out_shift )
    with NN_ROUND(s) = 2**(s-1) (0 for s = 0 or truncate=True) and an arithmetic shift. Inputs in
    formats fa, fb meet in the common format fa + lshift_a = fb + lshift_b; the output has that
    minus out_shift fractional bits.

    Parameters
    ----------
    pSrcA, pSrcB : (N, block_size) int8
    lshift_a, lshift_b : 0..22.  out_shift : 0..31.

    Returns
    -------
    (N, block_size) int8

    Constraints: as above (KernelArgumentError otherwise). Buffers: none; pDst may alias an input.
    """
    return _run("qsim_add_q7", 8, (pSrcA, lshift_a, pSrcB, lshift_b, out_shift, block_size), truncate)


def qsim_add_q15(pSrcA, lshift_a, pSrcB, lshift_b, out_shift, block_size, *, truncate=False):
    """Q15 requantizing add: as qsim_add_q7 on int16 data with sat16; lshift_a, lshift_b 0..14."""
    return _run("qsim_add_q15", 16, (pSrcA, lshift_a, pSrcB, lshift_b, out_shift, block_size), truncate)
