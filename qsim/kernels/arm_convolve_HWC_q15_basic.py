"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q15_basic.c (CMSIS_5 5.7.0, 5.9.0)."""
from ..kernel_args import bind
from ._conv import conv_prepare


def arm_convolve_HWC_q15_basic(Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride,
                               bias, bias_shift, out_shift, dim_im_out, *,
                               path, release, truncate=False):
    """Q15 HWC convolution, square geometry (semantics doc §1.7).

    Arithmetic (§0.4, int32 wrapping; q15*q15 products are exact in int32 but their sum wraps
    easily, e.g. two (-32768)**2 products already reach 2**31):
        acc = (int32(bias[o]) << bias_shift) + NN_ROUND(out_shift) + sum of Im_in * wt over valid taps
        out = __SSAT(acc >> out_shift, 16)
    The REF path of 5.7.0 has the signed-char index quirk of arm_convolve_HWC_q7_basic.

    Parameters
    ----------
    Im_in : (N, dim_im_in, dim_im_in, ch_im_in) int16
    wt : (ch_im_out, dim_kernel, dim_kernel, ch_im_in) int16, OHWI
    bias : (ch_im_out,) int16
    bias_shift, out_shift : 0..31
    path, release, truncate : as arm_convolve_HWC_q7_basic.

    Returns
    -------
    (N, dim_im_out, dim_im_out, ch_im_out) int16

    Constraints: none. Buffers (DSP): bufferA ch_im_in*dim_kernel**2 q15_t.
    """
    fn = "arm_convolve_HWC_q15_basic"
    b = bind(fn, (Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride, bias,
                  bias_shift, out_shift, dim_im_out), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_convolve_HWC_q15_basic(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_convolve_HWC_q15_basic = conv_prepare("arm_convolve_HWC_q15_basic", 16)
