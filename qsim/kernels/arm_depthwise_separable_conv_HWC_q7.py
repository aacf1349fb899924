"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_depthwise_separable_conv_HWC_q7.c
(CMSIS_5 5.7.0, 5.9.0)."""
from ..kernel_args import bind
from ._conv import depthwise_prepare


def arm_depthwise_separable_conv_HWC_q7(Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding,
                                        stride, bias, bias_shift, out_shift, dim_im_out, *,
                                        path, release, truncate=False):
    """Q7 depthwise convolution (multiplier 1), HWC, square geometry (semantics doc §1.10).

    Arithmetic, per output (oy, ox, c) (§0.4, int32 wrapping):
        acc = (int32(bias[c]) << bias_shift) + NN_ROUND(out_shift)
              + sum over valid (ky, kx) of Im_in[r, col, c] * wt[ky, kx, c]
        out = __SSAT(acc >> out_shift, 8)
    Int indices on both paths (no quirk); same bytes on both paths and in both releases.

    Parameters
    ----------
    Im_in : (N, dim_im_in, dim_im_in, ch_im_in) int8
    wt : (dim_kernel, dim_kernel, ch_im_in) int8 (channel innermost)
    bias : (ch_im_out,) int8
    bias_shift, out_shift : 0..31

    Returns
    -------
    (N, dim_im_out, dim_im_out, ch_im_out) int8

    Constraints: ch_im_in == ch_im_out (else ARM_MATH_SIZE_MISMATCH). Buffers (DSP): bufferA is used
    as ch_im_in*dim_kernel**2 bytes (documented as twice that many q15_t).
    """
    fn = "arm_depthwise_separable_conv_HWC_q7"
    b = bind(fn, (Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride, bias,
                  bias_shift, out_shift, dim_im_out), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_depthwise_separable_conv_HWC_q7(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_depthwise_separable_conv_HWC_q7 = depthwise_prepare("arm_depthwise_separable_conv_HWC_q7")
