"""Readable twin of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q7_basic.c and
arm_convolve_HWC_q7_basic_nonsquare.c (REF loops)."""
from qsim.kernel_args import bind
from qsim.ops import ConvGeometry

from ._conv import conv, dsp_limits


def arm_convolve_HWC_q7_basic(Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding,
                              stride, bias, bias_shift, out_shift, dim_im_out, *, path,
                              release, truncate=False):
    fn = "arm_convolve_HWC_q7_basic"
    b = bind(fn, (Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride, bias,
             bias_shift, out_shift, dim_im_out), {}, path=path, release=release, truncate=truncate)
    g = ConvGeometry.from_args(b)
    dsp_limits(fn, b, g)
    quirk = b.path == "ref" and b.version == "5.7.0"   # signed-char indices, fixed in 5.8.0
    return conv(b, g, 8, quirk)


def arm_convolve_HWC_q7_basic_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                        dim_kernel_x, dim_kernel_y, padding_x, padding_y, stride_x,
                                        stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                                        dim_im_out_y, *, path, release,
                                        truncate=False):
    fn = "arm_convolve_HWC_q7_basic_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x,
             dim_kernel_y, padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift,
             dim_im_out_x, dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    g = ConvGeometry.from_args(b)
    dsp_limits(fn, b, g)
    quirk = b.path == "ref" and b.version == "5.7.0"   # signed-char indices, fixed in 5.8.0
    return conv(b, g, 8, quirk)
