"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q7_fast_nonsquare.c
(CMSIS_5 5.7.0, 5.9.0)."""
from ..kernel_args import bind
from ._conv import conv_prepare


def arm_convolve_HWC_q7_fast_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                       dim_kernel_x, dim_kernel_y, padding_x, padding_y, stride_x,
                                       stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                                       dim_im_out_y, *, path, release, truncate=False):
    """Q7 HWC convolution with separate x (width) / y (height) geometry, fast variant (§1.4).

    Arithmetic as arm_convolve_HWC_q7_basic_nonsquare (§0.4), but this function's REF path uses int
    indices: no signed-char quirk in any release; both paths compute the true convolution.

    Parameters
    ----------
    Im_in : (N, dim_im_in_y, dim_im_in_x, ch_im_in) int8
    wt : (ch_im_out, dim_kernel_y, dim_kernel_x, ch_im_in) int8, OHWI
    bias : (ch_im_out,) int8
    bias_shift, out_shift : 0..31
    path, release, truncate : as arm_convolve_HWC_q7_basic.

    Returns
    -------
    (N, dim_im_out_y, dim_im_out_x, ch_im_out) int8

    Constraints: ch_im_in % 4 == 0, ch_im_out % 2 == 0 (ARM_MATH_SIZE_MISMATCH, both paths).
    path="dsp" also needs, per axis, padding <= dim_im_out and the §1.3 middle-region condition
    (true for the natural output size). Buffers (DSP): bufferA 2*ch_im_in*dim_kernel_x*dim_kernel_y q15_t.
    """
    fn = "arm_convolve_HWC_q7_fast_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x, dim_kernel_y,
                  padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                  dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_convolve_HWC_q7_fast_nonsquare(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_convolve_HWC_q7_fast_nonsquare = conv_prepare("arm_convolve_HWC_q7_fast_nonsquare", 8)
