"""Companion kernel of codegen/companion/qsim_depthwise_conv_HWC_q15_nonsquare.c (qsim's own C,
not CMSIS): q15 depthwise convolution with channel multiplier 1, HWC, non-square.

The arithmetic is that of the legacy q7 depthwise convolution (semantics doc §0.4, §1.10) on q15
data; the loop is its own because _conv.depthwise is fixed to q7 output. Single path: no
path/release options (NN_ROUND is the unsigned 2**(s-1) on every target); `truncate` mirrors
-DARM_NN_TRUNCATE.
"""
import numpy as np
from numba import int32, njit, prange, uint64

from ..fixedpoint import ssat
from ..kernel_args import bind, out_array
from ._companion import refuse
from ._fc import init_values


@njit(cache=True, nogil=True, parallel=True)
def _depthwise(im, wt, init, geo, out_shift, out):
    """out[n, oy, ox, c] = sat16(wrap32(init[c] + sum over valid taps of x * w[ky, kx, c]) >> s).

    The accumulator is int32: each q15 product fits, and storing the sum back into int32 wraps
    it modulo 2**32, which is exactly the C's wrap32 (and lets LLVM vectorise the channel loop).
    """
    in_x, in_y, ch, k_x, k_y, pad_x, pad_y, s_x, s_y, out_x, out_y = geo
    nch = uint64(ch)
    for n in prange(im.shape[0]):
        row = im[n]
        acc = np.empty(ch, np.int32)
        for oy in range(out_y):
            for ox in range(out_x):
                for c in range(nch):
                    acc[c] = init[c]
                for ky in range(k_y):
                    r = oy * s_y + ky - pad_y
                    if r < 0 or r >= in_y:
                        continue
                    for kx in range(k_x):
                        col = ox * s_x + kx - pad_x
                        if col < 0 or col >= in_x:
                            continue
                        src = uint64((r * in_x + col) * ch)
                        w0 = uint64((ky * k_x + kx) * ch)
                        for c in range(nch):
                            acc[c] += int32(row[src + c]) * int32(wt[w0 + c])
                for c in range(nch):
                    out[n, oy, ox, c] = ssat(np.int64(acc[c]) >> out_shift, 16)


def qsim_depthwise_conv_HWC_q15_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                          dim_kernel_x, dim_kernel_y, padding_x, padding_y, stride_x,
                                          stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                                          dim_im_out_y, *, truncate=False):
    """Q15 depthwise convolution (multiplier 1), HWC, non-square, batched over `Im_in`.

    Arithmetic, per output (oy, ox, c), int32 wrapping like the legacy convolutions (§0.4):
        acc = wrap32((int32(bias[c]) << bias_shift) + NN_ROUND(out_shift)
                     + sum over valid (ky, kx) of Im_in[y, x, c] * wt[ky, kx, c])
        out = sat16(acc >> out_shift)          # arithmetic shift
    NN_ROUND(s) = 2**(s-1) (0 at s = 0 or with truncate=True), +2**30 at s = 31 on every target.
    Window rows oy*stride_y - padding_y + ky, columns ox*stride_x - padding_x + kx; taps outside
    the image contribute nothing (top/left padding, explicit output size).

    Parameters
    ----------
    Im_in : (N, dim_im_in_y, dim_im_in_x, ch_im_in) int16
    wt : (dim_kernel_y, dim_kernel_x, ch_im_in) int16 (channel innermost)
    bias : (ch_im_out,) int16
    bias_shift, out_shift : 0..31

    Returns
    -------
    (N, dim_im_out_y, dim_im_out_x, ch_im_out) int16

    Constraints: ch_im_in == ch_im_out (the C returns QSIM_SIZE_MISMATCH = -3 and writes
    nothing). Buffers: bufferA, bufferB unused (may be NULL).
    """
    fn = "qsim_depthwise_conv_HWC_q15_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x, dim_kernel_y,
                  padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                  dim_im_out_y), {}, truncate=truncate)
    refuse(fn, b["ch_im_in"] == b["ch_im_out"],
           f"needs ch_im_in == ch_im_out (channel multiplier 1), got {b['ch_im_in']} and {b['ch_im_out']}; "
           "the C returns QSIM_SIZE_MISMATCH and writes nothing",
           "follow it with a 1x1 convolution to change the channel count")
    s = b["out_shift"]
    rnd = 0 if truncate or s == 0 else 1 << (s - 1)
    out = out_array(b, np.int16)
    if out.size:
        geo = tuple(b[k] for k in ("dim_im_in_x", "dim_im_in_y", "ch_im_in", "dim_kernel_x", "dim_kernel_y",
                                   "padding_x", "padding_y", "stride_x", "stride_y", "dim_im_out_x",
                                   "dim_im_out_y"))
        init = init_values(b["bias"], b["bias_shift"], rnd).astype(np.int32)   # already wrapped to int32
        _depthwise(b["Im_in"], b["wt"], init, geo, s, out)
    return out
