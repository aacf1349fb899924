"""Readable twin of CMSIS/NN/Source/ConvolutionFunctions/arm_depthwise_separable_conv_HWC_q7_nonsquare.c
(REF loops)."""
from qsim.kernel_args import bind
from qsim.ops import ConvGeometry

from ._conv import depthwise, dsp_limits, size_check


def arm_depthwise_separable_conv_HWC_q7_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt,
                                                  ch_im_out, dim_kernel_x, dim_kernel_y, padding_x,
                                                  padding_y, stride_x, stride_y, bias, bias_shift,
                                                  out_shift, dim_im_out_x, dim_im_out_y, *,
                                                  path, release, truncate=False):
    fn = "arm_depthwise_separable_conv_HWC_q7_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x,
             dim_kernel_y, padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift,
             dim_im_out_x, dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    g = ConvGeometry.from_args(b)
    size_check(fn, g.ch_in == g.ch_out, "ch_im_in == ch_im_out")
    dsp_limits(fn, b, g)
    return depthwise(b, g)
