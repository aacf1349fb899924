"""Readable twin of codegen/companion/qsim_pool_HWC_nonsquare.c (qsim's own C): non-square max
and average pooling, q7 and q15, one output value at a time with Python ints.

The argument checks are restated here on purpose rather than imported from qsim.kernels.
"""
import numpy as np

from qsim.errors import KernelArgumentError
from qsim.kernel_args import bind, out_array

from ._fixed import sat, tdiv

GEOMETRY = ("dim_im_in_x", "dim_im_in_y", "ch_im_in", "dim_kernel_x", "dim_kernel_y", "padding_x",
            "padding_y", "stride_x", "stride_y", "dim_im_out_x", "dim_im_out_y")


def valid(o, k, pad, stride, dim):
    """Image coordinates of window o: o*stride - pad + [0, k), clipped to [0, dim)."""
    s = o * stride - pad
    return range(max(s, 0), min(s + k, dim))


def average(total, count, out_lshift, rounding, truncate):
    """The output-format average of qsim_companion.h: half up (floor under truncate) or toward zero."""
    if count == 0:
        return 0
    v = total * 2**out_lshift
    if rounding == 1:
        return tdiv(v, count)
    if truncate:
        return v // count                      # Python // is a floor
    return (v + count // 2) // count


def _pool(fn, bits, args, truncate, average_mode):
    b = bind(fn, args, {}, truncate=truncate)
    in_x, in_y, ch, k_x, k_y, pad_x, pad_y, s_x, s_y, out_x, out_y = (b[k] for k in GEOMETRY)
    if min(k_x, k_y, s_x, s_y) < 1:
        raise KernelArgumentError(f"{fn}: kernel sizes and strides must be >= 1")
    if average_mode:
        include_pad, rounding, lshift = b["count_include_pad"], b["rounding"], b["out_lshift"]
        if include_pad not in (0, 1) or rounding not in (0, 1):
            raise KernelArgumentError(f"{fn}: count_include_pad and rounding are 0 or 1")
        if k_x * k_y * 2**(bits - 1) * 2**lshift > 2**30:
            raise KernelArgumentError(f"{fn}: the int32 sum can overflow")
    out = out_array(b, np.int8 if bits == 8 else np.int16)
    for n in range(b.n):
        im = b["Im_in"][n]
        for oy in range(out_y):
            rows = valid(oy, k_y, pad_y, s_y, in_y)
            for ox in range(out_x):
                cols = valid(ox, k_x, pad_x, s_x, in_x)
                for c in range(ch):
                    taps = [int(im[(y * in_x + x) * ch + c]) for y in rows for x in cols]
                    if not average_mode:
                        out[n, oy, ox, c] = max(taps, default=-2**(bits - 1))
                        continue
                    count = k_x * k_y if include_pad else len(taps)
                    out[n, oy, ox, c] = sat(average(sum(taps), count, lshift, rounding, truncate), bits)
    return out


def qsim_maxpool_q7_HWC_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y,
                                  padding_x, padding_y, stride_x, stride_y, dim_im_out_x, dim_im_out_y, *,
                                  truncate=False):
    return _pool("qsim_maxpool_q7_HWC_nonsquare", 8, (
        Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y, padding_x, padding_y,
        stride_x, stride_y, dim_im_out_x, dim_im_out_y), truncate, False)


def qsim_maxpool_q15_HWC_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y,
                                   padding_x, padding_y, stride_x, stride_y, dim_im_out_x, dim_im_out_y, *,
                                   truncate=False):
    return _pool("qsim_maxpool_q15_HWC_nonsquare", 16, (
        Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y, padding_x, padding_y,
        stride_x, stride_y, dim_im_out_x, dim_im_out_y), truncate, False)


def qsim_avepool_q7_HWC_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y,
                                  padding_x, padding_y, stride_x, stride_y, count_include_pad, rounding,
                                  out_lshift, dim_im_out_x, dim_im_out_y, *, truncate=False):
    return _pool("qsim_avepool_q7_HWC_nonsquare", 8, (
        Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y, padding_x, padding_y,
        stride_x, stride_y, count_include_pad, rounding, out_lshift, dim_im_out_x, dim_im_out_y),
        truncate, True)


def qsim_avepool_q15_HWC_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y,
                                   padding_x, padding_y, stride_x, stride_y, count_include_pad, rounding,
                                   out_lshift, dim_im_out_x, dim_im_out_y, *, truncate=False):
    return _pool("qsim_avepool_q15_HWC_nonsquare", 16, (
        Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, dim_kernel_x, dim_kernel_y, padding_x, padding_y,
        stride_x, stride_y, count_include_pad, rounding, out_lshift, dim_im_out_x, dim_im_out_y),
        truncate, True)
