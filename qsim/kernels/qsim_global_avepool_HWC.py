"""Companion kernels of codegen/companion/qsim_global_avepool_HWC.c (qsim's own C, not CMSIS):
global average pooling with requantization, q7 and q15.

Single path (no path/release options); `truncate` mirrors -DARM_NN_TRUNCATE.
"""
import numpy as np
from numba import njit, uint64

from ..fixedpoint import ssat
from ..kernel_args import bind, out_array
from ._companion import ROUND_HALF_UP, average, check_sum_range, refuse


@njit(cache=True)
def _finish(sums, pixels, out_lshift, truncate, bits, out):
    """out = sat(average(sums, pixels)) element-wise (sums are the per-channel int32 totals)."""
    for i in range(uint64(sums.shape[0])):
        out[i] = ssat(average(sums[i], pixels, out_lshift, ROUND_HALF_UP, truncate), bits)


def _run(fn, bits, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    pixels = b["dim_im_in_x"] * b["dim_im_in_y"]
    refuse(fn, pixels >= 1, "the image has no pixels", "pass dim_im_in_x, dim_im_in_y >= 1")
    check_sum_range(fn, pixels, bits, b["out_lshift"])
    out = out_array(b, np.int8 if bits == 8 else np.int16)
    if out.size:
        # numpy's reduction over the pixel axis runs along contiguous channels; int32 is exact
        # (|sum| <= 2**30 by check_sum_range)
        sums = b["Im_in"].reshape(b.n, pixels, b["ch_im_in"]).sum(axis=1, dtype=np.int32)
        _finish(sums.reshape(-1), pixels, b["out_lshift"], bool(truncate), bits, out.reshape(-1))
    return out


def qsim_global_avepool_q7_HWC(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, out_lshift, *, truncate=False):
    """Q7 global average pooling into its own output format, batched over `Im_in`.

    Arithmetic, per channel c (int32 in C), with P = dim_im_in_x*dim_im_in_y:
        out[c] = sat8(floor((sum of the P pixels' channel c * 2**out_lshift + P // 2) / P))
    i.e. round half up (a floor with truncate=True); output frac_bits = input + out_lshift. The
    same bytes as qsim_avepool_q7_HWC_nonsquare with the whole image as window, rounding 0.

    Parameters
    ----------
    Im_in : (N, dim_im_in_y, dim_im_in_x, ch_im_in) int8
    out_lshift : left shift of the sum before the divide.

    Returns
    -------
    (N, 1, 1, ch_im_in) int8

    Constraints: P >= 1 and P * 128 * 2**out_lshift <= 2**30. Buffers: none.
    """
    return _run("qsim_global_avepool_q7_HWC", 8, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, out_lshift),
                truncate)


def qsim_global_avepool_q15_HWC(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, out_lshift, *, truncate=False):
    """Q15 global average pooling: as qsim_global_avepool_q7_HWC with sat16 and the bound
    P * 32768 * 2**out_lshift <= 2**30."""
    return _run("qsim_global_avepool_q15_HWC", 16, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, out_lshift),
                truncate)
