"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_1x1_HWC_q7_fast_nonsquare.c
(CMSIS_5 5.7.0, 5.9.0)."""
from ..kernel_args import bind
from ._conv import conv_prepare


def arm_convolve_1x1_HWC_q7_fast_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                           dim_kernel_x, dim_kernel_y, padding_x, padding_y, stride_x,
                                           stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                                           dim_im_out_y, *, path, release, truncate=False):
    """Q7 pointwise (1x1) convolution, HWC (semantics doc §1.5).

    out[y, x, o] = __SSAT(wrap32(init(bias[o]) + sum_c Im_in[y, x, c] * wt[o, c]) >> out_shift, 8)
    with init as in §0.4. Int indices on the REF path (no quirk); same bytes on both paths.

    Parameters
    ----------
    Im_in : (N, dim_im_in_y, dim_im_in_x, ch_im_in) int8
    wt : (ch_im_out, 1, 1, ch_im_in) int8
    bias : (ch_im_out,) int8
    dim_kernel_x, dim_kernel_y : must be 1; padding_x, padding_y : 0; stride_x, stride_y : 1.
    path, release, truncate : as arm_convolve_HWC_q7_basic.

    Returns
    -------
    (N, dim_im_out_y, dim_im_out_x, ch_im_out) int8. On the REF path, output pixels beyond the
    input get the bias-only value.

    Constraints: ch_im_in % 4 == 0, ch_im_out % 2 == 0, 1x1 kernel, no padding, stride 1 (else
    ARM_MATH_SIZE_MISMATCH, both paths). path="dsp" addresses the input with the output
    coordinates, so it also needs dim_im_out_x == dim_im_in_x and dim_im_out_y <= dim_im_in_y.
    Buffers (DSP): bufferA 2*ch_im_in q15_t.
    """
    fn = "arm_convolve_1x1_HWC_q7_fast_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x, dim_kernel_y,
                  padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                  dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_convolve_1x1_HWC_q7_fast_nonsquare(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_convolve_1x1_HWC_q7_fast_nonsquare = conv_prepare("arm_convolve_1x1_HWC_q7_fast_nonsquare", 8)
