"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q7_basic.c and
arm_convolve_HWC_q7_basic_nonsquare.c (CMSIS_5 5.7.0, 5.9.0); both live here, as in the design card."""
from ..kernel_args import bind
from ._conv import conv_prepare


def arm_convolve_HWC_q7_basic(Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride,
                              bias, bias_shift, out_shift, dim_im_out, *,
                              path, release, truncate=False):
    """Q7 HWC convolution, square image and kernel (legacy shift API), batched over Im_in's axis 0.

    Arithmetic, per output (oy, ox, o) (semantics doc §0.4, §1.1; int32, wrapping):
        acc  = (int32(bias[o]) << bias_shift) + NN_ROUND(out_shift)
        acc += sum over ky, kx, c of Im_in[r, col, c] * wt[o, ky, kx, c],
               r = oy*stride + ky - padding, col = ox*stride + kx - padding, taps outside the image skipped
        out  = __SSAT(acc >> out_shift, 8)

    Parameters
    ----------
    Im_in : (N, dim_im_in, dim_im_in, ch_im_in) int8, HWC (or (N, H*W*C))
    wt : (ch_im_out, dim_kernel, dim_kernel, ch_im_in) int8, OHWI
    bias : (ch_im_out,) int8
    bias_shift, out_shift : 0..31
    dim_im_out : output size; the C never checks it, any value is legal.
    path : "ref" (plain C) or "dsp" (ARM_MATH_DSP); required.
    release : qsim.releases.Release or its tag "5.7.0" / "5.9.0"; required. Where
        release.signed_char_index(path) (REF path of 5.7.0) the C keeps r and col in a signed char:
        they wrap modulo 256 before the bounds test (images of about 128 pixels or more, §1.1).
        5.9.0 and the DSP path compute the true convolution.
    truncate : model -DARM_NN_TRUNCATE (NN_ROUND = 0).

    Returns
    -------
    (N, dim_im_out, dim_im_out, ch_im_out) int8

    Constraints: none (always ARM_MATH_SUCCESS). path="dsp" refuses ch_im_in*dim_kernel**2 outside
    1..65535 and coordinates >= 32768. Buffers (DSP): bufferA 2*ch_im_in*dim_kernel**2 q15_t.
    """
    fn = "arm_convolve_HWC_q7_basic"
    b = bind(fn, (Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride, bias,
                  bias_shift, out_shift, dim_im_out), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_convolve_HWC_q7_basic(b)(b["Im_in"].reshape(b.n, -1))


def arm_convolve_HWC_q7_basic_nonsquare(Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out,
                                        dim_kernel_x, dim_kernel_y, padding_x, padding_y, stride_x,
                                        stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                                        dim_im_out_y, *, path, release, truncate=False):
    """Q7 HWC convolution with separate x (width) and y (height) geometry (§1.2).

    Same arithmetic, options and signed-char quirk (REF, 5.7.0) as arm_convolve_HWC_q7_basic, with
    r = oy*stride_y + ky - padding_y tested against dim_im_in_y and col against dim_im_in_x.

    Parameters
    ----------
    Im_in : (N, dim_im_in_y, dim_im_in_x, ch_im_in) int8
    wt : (ch_im_out, dim_kernel_y, dim_kernel_x, ch_im_in) int8
    bias : (ch_im_out,) int8

    Returns
    -------
    (N, dim_im_out_y, dim_im_out_x, ch_im_out) int8

    Constraints: none. Buffers (DSP): bufferA 2*ch_im_in*dim_kernel_x*dim_kernel_y q15_t.
    """
    fn = "arm_convolve_HWC_q7_basic_nonsquare"
    b = bind(fn, (Im_in, dim_im_in_x, dim_im_in_y, ch_im_in, wt, ch_im_out, dim_kernel_x, dim_kernel_y,
                  padding_x, padding_y, stride_x, stride_y, bias, bias_shift, out_shift, dim_im_out_x,
                  dim_im_out_y), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_convolve_HWC_q7_basic_nonsquare(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_convolve_HWC_q7_basic = conv_prepare("arm_convolve_HWC_q7_basic", 8)
prepare_arm_convolve_HWC_q7_basic_nonsquare = conv_prepare("arm_convolve_HWC_q7_basic_nonsquare", 8)
