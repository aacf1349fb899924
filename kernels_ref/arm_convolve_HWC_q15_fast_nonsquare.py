"""Readable twin of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q15_fast_nonsquare.c (REF loops)."""
from qsim.kernel_args import bind
from qsim.ops import ConvGeometry

from ._conv import conv, dsp_check, dsp_limits, size_check


def arm_convolve_HWC_q15_fast_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                        dim_kernel_x, dim_kernel_y, padding_x, padding_y, stride_x,
                                        stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                                        dim_im_out_y, *, path, release,
                                        truncate=False):
    fn = "arm_convolve_HWC_q15_fast_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x,
             dim_kernel_y, padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift,
             dim_im_out_x, dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    g = ConvGeometry.from_args(b)
    size_check(fn, g.ch_in % 2 == 0 and g.ch_out % 2 == 0, "ch_im_in % 2 == 0 and ch_im_out % 2 == 0")
    dsp_limits(fn, b, g)
    dsp_check(fn, b, g.out_x % 2 == 0, "odd output width")
    quirk = b.path == "ref" and b.version == "5.7.0"   # signed-char indices, fixed in 5.8.0
    return conv(b, g, 16, quirk)
