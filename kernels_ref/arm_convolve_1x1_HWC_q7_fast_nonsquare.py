"""Readable twin of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_1x1_HWC_q7_fast_nonsquare.c
(REF loops)."""
from qsim.kernel_args import bind
from qsim.ops import ConvGeometry

from ._conv import conv, dsp_check, dsp_limits, size_check


def arm_convolve_1x1_HWC_q7_fast_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                           dim_kernel_x, dim_kernel_y, padding_x, padding_y,
                                           stride_x, stride_y, bias, bias_shift, out_shift,
                                           dim_im_out_x, dim_im_out_y, *, path,
                                           release, truncate=False):
    fn = "arm_convolve_1x1_HWC_q7_fast_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x,
             dim_kernel_y, padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift,
             dim_im_out_x, dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    g = ConvGeometry.from_args(b)
    size_check(fn, g.ch_in % 4 == 0 and g.ch_out % 2 == 0, "ch_im_in % 4 == 0 and ch_im_out % 2 == 0")
    one_by_one = (g.k_x, g.k_y, g.pad_x, g.pad_y, g.stride_x, g.stride_y)
    size_check(fn, one_by_one == (1, 1, 0, 0, 1, 1),
               "a 1x1 kernel, padding 0 and stride 1")
    dsp_limits(fn, b, g)
    dsp_check(fn, b, g.out_x == g.in_x and g.out_y <= g.in_y, "output larger than input")
    return conv(b, g, 8, False)   # int indices in every release
