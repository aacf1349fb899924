"""Readable twin of CMSIS/NN/Source/ConvolutionFunctions/arm_depthwise_separable_conv_HWC_q7.c (REF loops)."""
from qsim.kernel_args import bind
from qsim.ops import ConvGeometry

from ._conv import depthwise, dsp_limits, size_check


def arm_depthwise_separable_conv_HWC_q7(Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel,
                                        padding, stride, bias, bias_shift, out_shift, dim_im_out, *,
                                        path, release, truncate=False):
    fn = "arm_depthwise_separable_conv_HWC_q7"
    b = bind(fn, (Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride, bias,
             bias_shift, out_shift, dim_im_out), {}, path=path, release=release, truncate=truncate)
    g = ConvGeometry.from_args(b)
    size_check(fn, g.ch_in == g.ch_out, "ch_im_in == ch_im_out")
    dsp_limits(fn, b, g)
    return depthwise(b, g)
