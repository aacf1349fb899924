"""Readable twin of codegen/companion/qsim_depthwise_conv_HWC_q15_nonsquare.c (qsim's own C):
q15 depthwise convolution, one output value at a time with Python ints and explicit wraps."""
import numpy as np

from qsim.errors import KernelArgumentError
from qsim.kernel_args import bind, out_array

from ._fixed import sat, wrap32
from .qsim_pool_HWC_nonsquare import GEOMETRY


def qsim_depthwise_conv_HWC_q15_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                          dim_kernel_x, dim_kernel_y, padding_x, padding_y, stride_x,
                                          stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                                          dim_im_out_y, *, truncate=False):
    fn = "qsim_depthwise_conv_HWC_q15_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x, dim_kernel_y,
                  padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                  dim_im_out_y), {}, truncate=truncate)
    if b["ch_im_in"] != b["ch_im_out"]:
        raise KernelArgumentError(f"{fn}: QSIM_SIZE_MISMATCH: ch_im_in != ch_im_out")
    in_x, in_y, ch, k_x, k_y, pad_x, pad_y, s_x, s_y, out_x, out_y = (b[k] for k in GEOMETRY)
    bs, s = b["bias_shift"], b["out_shift"]
    rnd = 0 if truncate or s == 0 else 2**(s - 1)         # unsigned NN_ROUND: +2**30 at s = 31
    out = out_array(b, np.int16)
    for n in range(b.n):
        for oy in range(out_y):
            for ox in range(out_x):
                for c in range(ch):
                    acc = wrap32(wrap32(int(b["bias"][c]) << bs) + rnd)
                    for ky in range(k_y):
                        for kx in range(k_x):
                            y, x = oy * s_y - pad_y + ky, ox * s_x - pad_x + kx
                            if 0 <= y < in_y and 0 <= x < in_x:
                                x_val = int(b["Im_in"][n, (y * in_x + x) * ch + c])
                                acc += x_val * int(b["wt"][(ky * k_x + kx) * ch + c])
                    out[n, oy, ox, c] = sat(wrap32(acc) >> s, 16)
    return out
