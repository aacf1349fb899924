"""Readable twin of codegen/companion/qsim_global_avepool_HWC.c (qsim's own C): global average
pooling with requantization, q7 and q15, written as the C's per-channel loop."""
import numpy as np

from qsim.errors import KernelArgumentError
from qsim.kernel_args import bind, out_array

from ._fixed import sat
from .qsim_pool_HWC_nonsquare import average


def _global(fn, bits, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    pixels, ch, lshift = b["dim_im_in_x"] * b["dim_im_in_y"], b["ch_im_in"], b["out_lshift"]
    if pixels < 1 or pixels * 2**(bits - 1) * 2**lshift > 2**30:
        raise KernelArgumentError(f"{fn}: empty image, or the int32 sum can overflow")
    out = out_array(b, np.int8 if bits == 8 else np.int16)
    for n in range(b.n):
        for c in range(ch):
            total = sum(int(b["Im_in"][n, p * ch + c]) for p in range(pixels))
            out[n, 0, 0, c] = sat(average(total, pixels, lshift, 0, truncate), bits)
    return out


def qsim_global_avepool_q7_HWC(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, out_lshift, *, truncate=False):
    return _global("qsim_global_avepool_q7_HWC", 8, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, out_lshift),
                   truncate)


def qsim_global_avepool_q15_HWC(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, out_lshift, *, truncate=False):
    return _global("qsim_global_avepool_q15_HWC", 16, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, out_lshift),
                   truncate)
