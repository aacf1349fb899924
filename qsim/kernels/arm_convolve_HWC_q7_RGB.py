"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q7_RGB.c (CMSIS_5 5.7.0, 5.9.0)."""
from ..kernel_args import bind
from ._conv import conv_prepare


def arm_convolve_HWC_q7_RGB(Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride,
                            bias, bias_shift, out_shift, dim_im_out, *,
                            path, release, truncate=False):
    """Q7 HWC convolution for 3-channel input, square geometry (semantics doc §1.6).

    Arithmetic, options and the REF path's 5.7.0 signed-char index quirk exactly as
    arm_convolve_HWC_q7_basic.

    Parameters
    ----------
    Im_in : (N, dim_im_in, dim_im_in, 3) int8
    wt : (ch_im_out, dim_kernel, dim_kernel, 3) int8, OHWI
    bias : (ch_im_out,) int8
    bias_shift, out_shift : 0..31

    Returns
    -------
    (N, dim_im_out, dim_im_out, ch_im_out) int8

    Constraints: ch_im_in == 3 (else ARM_MATH_SIZE_MISMATCH, both paths). Buffers (DSP): bufferA
    6*dim_kernel**2 q15_t; the DSP im2col reads one byte past the image (give the C buffer a spare
    byte; the value is discarded).
    """
    fn = "arm_convolve_HWC_q7_RGB"
    b = bind(fn, (Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride, bias,
                  bias_shift, out_shift, dim_im_out), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_convolve_HWC_q7_RGB(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_convolve_HWC_q7_RGB = conv_prepare("arm_convolve_HWC_q7_RGB", 8)
