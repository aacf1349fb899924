"""Companion kernels of codegen/companion/qsim_pool_HWC_nonsquare.c (qsim's own C, not CMSIS):
non-square max and average pooling, q7 and q15, top/left padding and an explicit output size.

Single path: the same bytes on every core and release, so these take no path/release options;
`truncate` mirrors a build with -DARM_NN_TRUNCATE (the average's half-up rounding becomes a floor).
"""
import numpy as np
from numba import njit, prange, uint64

from ..fixedpoint import ssat
from ..kernel_args import bind, out_array
from ._companion import average, check_sum_range, check_window, refuse


@njit(cache=True, parallel=True)
def _maxpool(im, geo, lowest, out):
    """out[n, (oy*OX + ox)*C + c] = max over the valid taps, `lowest` for a window of padding only.

    Works in the data's own type with uint64 indices, so LLVM vectorises the channel loops.
    """
    in_x, in_y, ch, k_x, k_y, pad_x, pad_y, s_x, s_y, out_x, out_y = geo
    nch = uint64(ch)
    for n in prange(im.shape[0]):
        row, dst_row = im[n], out[n]
        for oy in range(out_y):
            y0 = oy * s_y - pad_y
            y1, y0 = min(y0 + k_y, in_y), max(y0, 0)
            for ox in range(out_x):
                x0 = ox * s_x - pad_x
                x1, x0 = min(x0 + k_x, in_x), max(x0, 0)
                dst = uint64((oy * out_x + ox) * ch)
                for c in range(nch):
                    dst_row[dst + c] = lowest
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        src = uint64((y * in_x + x) * ch)
                        for c in range(nch):
                            dst_row[dst + c] = max(dst_row[dst + c], row[src + c])


@njit(cache=True, parallel=True)
def _avepool(im, geo, include_pad, rounding, out_lshift, truncate, bits, out):
    """out[n, (oy*OX + ox)*C + c] = sat(average of the valid taps) (see the public docstrings)."""
    in_x, in_y, ch, k_x, k_y, pad_x, pad_y, s_x, s_y, out_x, out_y = geo
    nch = uint64(ch)
    for n in prange(im.shape[0]):
        row, dst_row = im[n], out[n]
        acc = np.empty(ch, np.int32)           # |sum| <= 2**30 by the wrapper's check
        for oy in range(out_y):
            y0 = oy * s_y - pad_y
            y1, y0 = min(y0 + k_y, in_y), max(y0, 0)
            for ox in range(out_x):
                x0 = ox * s_x - pad_x
                x1, x0 = min(x0 + k_x, in_x), max(x0, 0)
                acc[:] = 0
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        src = uint64((y * in_x + x) * ch)
                        for c in range(nch):
                            acc[c] += row[src + c]
                count = k_x * k_y if include_pad else max(y1 - y0, 0) * max(x1 - x0, 0)
                dst = uint64((oy * out_x + ox) * ch)
                for c in range(nch):
                    dst_row[dst + c] = ssat(average(acc[c], count, out_lshift, rounding, truncate), bits)


def _geometry(b):
    return tuple(b[k] for k in ("dim_im_in_x", "dim_im_in_y", "ch_im_in", "dim_kernel_x", "dim_kernel_y",
                                "padding_x", "padding_y", "stride_x", "stride_y", "dim_im_out_x",
                                "dim_im_out_y"))


def _run(fn, bits, args, truncate, average_mode):
    b = bind(fn, args, {}, truncate=truncate)
    check_window(fn, b)
    opts = ()
    if average_mode:
        opts = (b["count_include_pad"], b["rounding"], b["out_lshift"])
        refuse(fn, opts[0] in (0, 1), f"count_include_pad={opts[0]}", "pass 0 (divide by the valid taps) "
               "or 1 (divide by dim_kernel_x*dim_kernel_y)")
        refuse(fn, opts[1] in (0, 1), f"rounding={opts[1]}", "pass 0 (round half up) or 1 (toward zero)")
        check_sum_range(fn, b["dim_kernel_x"] * b["dim_kernel_y"], bits, opts[2])
    dtype = np.int8 if bits == 8 else np.int16
    out = out_array(b, dtype)
    if out.size and average_mode:
        _avepool(b["Im_in"], _geometry(b), *opts, bool(truncate), bits, out.reshape(b.n, -1))
    elif out.size:
        _maxpool(b["Im_in"], _geometry(b), dtype(-(1 << (bits - 1))), out.reshape(b.n, -1))
    return out


def qsim_maxpool_q7_HWC_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y,
                                  padding_x, padding_y, stride_x, stride_y, dim_im_out_x, dim_im_out_y, *,
                                  truncate=False):
    """Q7 max pooling, HWC, non-square, batched over the leading axis of `Im_in`.

    Arithmetic, per output (oy, ox, c): the window is rows oy*stride_y - padding_y + [0,
    dim_kernel_y) and columns ox*stride_x - padding_x + [0, dim_kernel_x), clipped to the image;
        out = max of Im_in over the valid taps, or -128 when the window holds padding only.
    padding_x/_y are the left/top padding; the explicit output size sets the right/bottom one.

    Parameters
    ----------
    Im_in : (N, dim_im_in_y, dim_im_in_x, ch_im_in) int8 (or (N, size)); never modified.
    dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y, padding_x, padding_y,
    stride_x, stride_y, dim_im_out_x, dim_im_out_y : uint16_t geometry (x = width).
    truncate : accepted for a uniform call; max pooling does not round.

    Returns
    -------
    (N, dim_im_out_y, dim_im_out_x, ch_im_in) int8

    Constraints: kernel sizes and strides >= 1 (KernelArgumentError otherwise). Buffers: none.
    """
    return _run("qsim_maxpool_q7_HWC_nonsquare", 8, (
        Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y, padding_x, padding_y,
        stride_x, stride_y, dim_im_out_x, dim_im_out_y), truncate, False)


def qsim_maxpool_q15_HWC_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y,
                                   padding_x, padding_y, stride_x, stride_y, dim_im_out_x, dim_im_out_y, *,
                                   truncate=False):
    """Q15 max pooling: as qsim_maxpool_q7_HWC_nonsquare on int16 data (empty window -> -32768)."""
    return _run("qsim_maxpool_q15_HWC_nonsquare", 16, (
        Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y, padding_x, padding_y,
        stride_x, stride_y, dim_im_out_x, dim_im_out_y), truncate, False)


def qsim_avepool_q7_HWC_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y,
                                  padding_x, padding_y, stride_x, stride_y, count_include_pad, rounding,
                                  out_lshift, dim_im_out_x, dim_im_out_y, *, truncate=False):
    """Q7 average pooling with its own output format, HWC, non-square, batched over `Im_in`.

    Arithmetic, per output (oy, ox, c), windows as in qsim_maxpool_q7_HWC_nonsquare (int32 in C):
        sum   = sum of Im_in over the valid taps
        count = dim_kernel_x*dim_kernel_y if count_include_pad else the number of valid taps
        v     = sum * 2**out_lshift                     # output frac_bits = input + out_lshift
        q     = floor((v + count // 2) / count)         # rounding 0: half up (floor(v/count + 1/2));
                                                        #   truncate=True: floor(v / count)
              = C division v / count (toward zero)      # rounding 1
        out   = sat8(q), and 0 when count == 0 (a window of padding only, count_include_pad 0)
    For count = 2**k, rounding 0 is exactly NN_ROUND's asr(v + 2**(k-1), k). count_include_pad 1
    is PyTorch/ONNX count_include_pad=True when every window lies inside the padded image;
    count_include_pad 0 with rounding 1 is ML-KWS-for-MCU's non-square average pool.

    Parameters
    ----------
    Im_in : (N, dim_im_in_y, dim_im_in_x, ch_im_in) int8; never modified.
    count_include_pad : 0 or 1.  rounding : 0 (half up) or 1 (toward zero).
    out_lshift : left shift of the sum before the divide.
    truncate : a build with -DARM_NN_TRUNCATE: rounding 0 becomes a floor.

    Returns
    -------
    (N, dim_im_out_y, dim_im_out_x, ch_im_in) int8

    Constraints: kernel sizes and strides >= 1; dim_kernel_x*dim_kernel_y * 128 * 2**out_lshift
    <= 2**30 (int32 sum). Buffers: none.
    """
    return _run("qsim_avepool_q7_HWC_nonsquare", 8, (
        Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y, padding_x, padding_y,
        stride_x, stride_y, count_include_pad, rounding, out_lshift, dim_im_out_x, dim_im_out_y),
        truncate, True)


def qsim_avepool_q15_HWC_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y,
                                   padding_x, padding_y, stride_x, stride_y, count_include_pad, rounding,
                                   out_lshift, dim_im_out_x, dim_im_out_y, *, truncate=False):
    """Q15 average pooling: as qsim_avepool_q7_HWC_nonsquare on int16 data with sat16; the int32
    bound is dim_kernel_x*dim_kernel_y * 32768 * 2**out_lshift <= 2**30."""
    return _run("qsim_avepool_q15_HWC_nonsquare", 16, (
        Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y, padding_x, padding_y,
        stride_x, stride_y, count_include_pad, rounding, out_lshift, dim_im_out_x, dim_im_out_y),
        truncate, True)
