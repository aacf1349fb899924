"""Readable twin of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q7_fast_nonsquare.c (REF loops)."""
from qsim.kernel_args import bind
from qsim.ops import ConvGeometry

from ._conv import conv, dsp_limits, fast_geometry, size_check


def arm_convolve_HWC_q7_fast_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                       dim_kernel_x, dim_kernel_y, padding_x, padding_y, stride_x,
                                       stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                                       dim_im_out_y, *, path, release,
                                       truncate=False):
    fn = "arm_convolve_HWC_q7_fast_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x,
             dim_kernel_y, padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift,
             dim_im_out_x, dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    g = ConvGeometry.from_args(b)
    size_check(fn, g.ch_in % 4 == 0 and g.ch_out % 2 == 0, "ch_im_in % 4 == 0 and ch_im_out % 2 == 0")
    dsp_limits(fn, b, g)
    fast_geometry(fn, b, g)
    return conv(b, g, 8, False)   # int indices in every release
