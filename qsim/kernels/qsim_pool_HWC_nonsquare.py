"""Companion kernels of codegen/companion/qsim_pool_HWC_nonsquare.c (qsim's own C, not CMSIS):
non-square max and average pooling, q7 and q15, top/left padding and an explicit output size.

Single path: the same bytes on every core and release, so these take no path/release options;
`truncate` mirrors a build with -DARM_NN_TRUNCATE (the average's half-up rounding becomes a floor).
"""
import numpy as np
from numba import njit, prange, uint64

from ..kernel_args import bind, out_array
from ._companion import check_sum_range, check_window, finish_window, refuse


@njit(cache=True, nogil=True)
def _taps(o, k, pad, stride, dim):
    """[start, stop) of window o's valid taps along one axis (the C's qsim_window)."""
    s = o * stride - pad
    return max(s, 0), min(s + k, dim)


@njit(cache=True, nogil=True)
def _outputs(kx, pad, stride, dim_in, dim_out):
    """[start, stop) of the outputs ox whose tap kx reads an input column:
    0 <= ox*stride + kx - pad < dim_in."""
    return max(0, -((kx - pad) // stride)), min(dim_out, max((dim_in - 1 - kx + pad) // stride + 1, 0))


@njit(cache=True, nogil=True, parallel=True)
def _maxpool(im, geo, lowest, out):
    """out[n, (oy*OX + ox)*C + c] = max over the valid taps, `lowest` for a window of padding only.

    Separable, per output row: v[x, c] = max over the window's input rows (one contiguous loop
    over the whole row, in the data's own type: LLVM vectorises it), then out[ox, c] = max over
    the window's columns of v (for stride 1 one contiguous loop per tap column as well). Max is
    associative, so this is the C's result.
    """
    in_x, in_y, ch, k_x, k_y, pad_x, pad_y, s_x, s_y, out_x, out_y = geo
    row_len, out_len = uint64(in_x * ch), uint64(out_x * ch)
    for n in prange(im.shape[0]):
        row, dst_row = im[n], out[n]
        v = np.empty(in_x * ch, im.dtype)
        for oy in range(out_y):
            y0, y1 = _taps(oy, k_y, pad_y, s_y, in_y)
            for i in range(row_len):
                v[i] = lowest
            for y in range(y0, y1):
                base = uint64(y) * row_len
                for i in range(row_len):
                    v[i] = max(v[i], row[base + i])
            dst = uint64(oy) * out_len
            for i in range(out_len):
                dst_row[dst + i] = lowest
            for kx in range(k_x):
                o0, o1 = _outputs(kx, pad_x, s_x, in_x, out_x)
                if o1 <= o0:
                    continue
                if s_x == 1:                     # tap kx of outputs o0..o1: one contiguous span of v
                    shift = uint64((o0 + kx - pad_x) * ch)
                    for i in range(uint64(o0 * ch), uint64(o1 * ch)):
                        dst_row[dst + i] = max(dst_row[dst + i], v[i - uint64(o0 * ch) + shift])
                else:
                    for ox in range(o0, o1):
                        d, src = dst + uint64(ox * ch), uint64((ox * s_x + kx - pad_x) * ch)
                        for c in range(uint64(ch)):
                            dst_row[d + c] = max(dst_row[d + c], v[src + c])


@njit(cache=True, nogil=True, parallel=True)
def _avepool(im, geo, include_pad, rounding, out_lshift, truncate, lo, hi, out):
    """out[n, (oy*OX + ox)*C + c] = clamp(average of the valid taps, lo, hi) (see the public
    docstrings). Separable like _maxpool: int32 column sums over the window's rows in one
    contiguous loop per input row, window sums across the columns, then every channel's average
    at once (finish_window). The int32 sums are exact (|sum| <= 2**30 by the wrapper's check),
    so the order of the additions does not matter."""
    in_x, in_y, ch, k_x, k_y, pad_x, pad_y, s_x, s_y, out_x, out_y = geo
    row_len, out_len = uint64(in_x * ch), uint64(out_x * ch)
    for n in prange(im.shape[0]):
        row, dst_row = im[n], out[n]
        v = np.empty(in_x * ch, np.int32)
        h = np.empty(out_x * ch, np.int32)
        for oy in range(out_y):
            y0, y1 = _taps(oy, k_y, pad_y, s_y, in_y)
            for i in range(row_len):
                v[i] = 0
            for y in range(y0, y1):
                base = uint64(y) * row_len
                for i in range(row_len):
                    v[i] += row[base + i]
            for i in range(out_len):
                h[i] = 0
            for kx in range(k_x):
                o0, o1 = _outputs(kx, pad_x, s_x, in_x, out_x)
                if o1 <= o0:
                    continue
                if s_x == 1:
                    shift = uint64((o0 + kx - pad_x) * ch)
                    for i in range(uint64(o0 * ch), uint64(o1 * ch)):
                        h[i] += v[i - uint64(o0 * ch) + shift]
                else:
                    for ox in range(o0, o1):
                        d, src = uint64(ox * ch), uint64((ox * s_x + kx - pad_x) * ch)
                        for c in range(uint64(ch)):
                            h[d + c] += v[src + c]
            rows = max(y1 - y0, 0)
            for ox in range(out_x):
                x0, x1 = _taps(ox, k_x, pad_x, s_x, in_x)
                count = k_x * k_y if include_pad else rows * max(x1 - x0, 0)
                finish_window(h[ox * ch:(ox + 1) * ch], count, out_lshift, rounding, truncate, lo, hi,
                              dst_row, uint64((oy * out_x + ox) * ch))


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
        _avepool(b["Im_in"], _geometry(b), *opts, bool(truncate), -(1 << (bits - 1)), (1 << (bits - 1)) - 1,
                 out.reshape(b.n, -1))
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
