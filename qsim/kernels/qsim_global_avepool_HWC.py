"""Companion kernels of codegen/companion/qsim_global_avepool_HWC.c (qsim's own C, not CMSIS):
global average pooling with requantization, q7 and q15.

One numba pass per item, parallel over the batch: int32 sums over the pixels in long contiguous
(vectorised) loops, then the average of every channel at once (_companion.finish_window).
Single path (no path/release options); `truncate` mirrors -DARM_NN_TRUNCATE.
"""
import numpy as np
from numba import njit, prange, uint64

from ..kernel_args import bind, out_array
from ._companion import ROUND_HALF_UP, check_sum_range, finish_window, refuse


@njit(cache=True, nogil=True, parallel=True)
def _global_avepool(im, pixels, ch, out_lshift, truncate, lo, hi, part_type, flush, out):
    """out[n, c] = clamp(average of im[n, p*ch + c] over the pixels p, lo, hi).

    The pixels are summed `group` at a time into group*ch partial sums (one contiguous loop of
    >= 256 elements per group, vectorised, instead of one short loop per pixel) of part_type's
    dtype: int16 for q7 data, flushed into the int32 totals every `flush` = 256 groups, so no
    partial exceeds 256 * 128 (twice the lanes of int32 per instruction); int32 for q15. The
    totals are exact (|sum| <= 2**30 by the wrapper's check_sum_range), so the order of the
    additions does not matter."""
    group = max(1, 256 // ch)
    span, full = uint64(group * ch), pixels // group
    for n in prange(im.shape[0]):
        row = im[n]
        acc = np.zeros(ch, np.int32)
        part = np.empty(group * ch, part_type.dtype)
        for g0 in range(0, full, flush):
            for i in range(span):
                part[i] = 0
            for g in range(g0, min(g0 + flush, full)):
                base = uint64(g) * span
                for i in range(span):
                    part[i] += row[base + i]
            for b in range(group):
                for c in range(ch):
                    acc[c] += part[b * ch + c]
        for p in range(full * group, pixels):
            for c in range(ch):
                acc[c] += row[p * ch + c]
        finish_window(acc, pixels, out_lshift, ROUND_HALF_UP, truncate, lo, hi, out[n], 0)


def _run(fn, bits, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    pixels = b["dim_im_in_x"] * b["dim_im_in_y"]
    refuse(fn, pixels >= 1, "the image has no pixels", "pass dim_im_in_x, dim_im_in_y >= 1")
    check_sum_range(fn, pixels, bits, b["out_lshift"])
    out = out_array(b, np.int8 if bits == 8 else np.int16)
    if out.size:
        part_type, flush = (np.zeros(0, np.int16), 256) if bits == 8 else (np.zeros(0, np.int32), 1 << 30)
        _global_avepool(b["Im_in"].reshape(b.n, -1), pixels, b["ch_im_in"], b["out_lshift"], bool(truncate),
                        -(1 << (bits - 1)), (1 << (bits - 1)) - 1, part_type, flush, out.reshape(b.n, -1))
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
