"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_depthwise_separable_conv_HWC_q7_nonsquare.c
(CMSIS_5 5.7.0, 5.9.0)."""
from ..kernel_args import bind
from ._conv import depthwise_prepare


def arm_depthwise_separable_conv_HWC_q7_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt,
                                                  ch_im_out, dim_kernel_x, dim_kernel_y, padding_x,
                                                  padding_y, stride_x, stride_y, bias, bias_shift,
                                                  out_shift, dim_im_out_x, dim_im_out_y, *,
                                                  path, release, truncate=False):
    """Q7 depthwise convolution (multiplier 1) with separate x (width) / y (height) geometry (§1.11).

    Arithmetic as arm_depthwise_separable_conv_HWC_q7, rows tested against dim_im_in_y and columns
    against dim_im_in_x. No path or release difference.

    Parameters
    ----------
    Im_in : (N, dim_im_in_y, dim_im_in_x, ch_im_in) int8
    wt : (dim_kernel_y, dim_kernel_x, ch_im_in) int8
    bias : (ch_im_out,) int8
    bias_shift, out_shift : 0..31

    Returns
    -------
    (N, dim_im_out_y, dim_im_out_x, ch_im_out) int8

    Constraints: ch_im_in == ch_im_out (else ARM_MATH_SIZE_MISMATCH).
    """
    fn = "arm_depthwise_separable_conv_HWC_q7_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x, dim_kernel_y,
                  padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                  dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_depthwise_separable_conv_HWC_q7_nonsquare(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_depthwise_separable_conv_HWC_q7_nonsquare = depthwise_prepare(
    "arm_depthwise_separable_conv_HWC_q7_nonsquare")
