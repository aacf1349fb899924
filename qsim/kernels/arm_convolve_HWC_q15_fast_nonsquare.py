"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q15_fast_nonsquare.c
(CMSIS_5 5.7.0, 5.9.0)."""
from ..kernel_args import bind
from ._conv import conv_prepare


def arm_convolve_HWC_q15_fast_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                        dim_kernel_x, dim_kernel_y, padding_x, padding_y, stride_x,
                                        stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                                        dim_im_out_y, *, path, release, truncate=False):
    """Q15 HWC convolution with separate x (width) / y (height) geometry, fast variant (§1.9).

    Arithmetic as arm_convolve_HWC_q15_basic. Unlike the q7 fast nonsquare function, this one's REF
    path keeps indices in a signed char in 5.7.0 (the quirk of §1.1, per axis).

    Parameters
    ----------
    Im_in : (N, dim_im_in_y, dim_im_in_x, ch_im_in) int16
    wt : (ch_im_out, dim_kernel_y, dim_kernel_x, ch_im_in) int16, OHWI
    bias : (ch_im_out,) int16
    bias_shift, out_shift : 0..31

    Returns
    -------
    (N, dim_im_out_y, dim_im_out_x, ch_im_out) int16

    Constraints: ch_im_in % 2 == 0, ch_im_out % 2 == 0 (ARM_MATH_SIZE_MISMATCH, both paths);
    path="dsp" refuses an odd dim_im_out_x (wrong, partly unwritten output and a bufferA overrun
    in both releases: 5.9.0 added its odd-width check to the square function only).
    Buffers (DSP): bufferA 2*ch_im_in*dim_kernel_x*dim_kernel_y q15_t.
    """
    fn = "arm_convolve_HWC_q15_fast_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x, dim_kernel_y,
                  padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                  dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_convolve_HWC_q15_fast_nonsquare(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_convolve_HWC_q15_fast_nonsquare = conv_prepare("arm_convolve_HWC_q15_fast_nonsquare", 16)
