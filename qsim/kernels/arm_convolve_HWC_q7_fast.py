"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q7_fast.c (CMSIS_5 5.7.0, 5.9.0)."""
from ..kernel_args import bind
from ._conv import conv_prepare


def arm_convolve_HWC_q7_fast(Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride,
                             bias, bias_shift, out_shift, dim_im_out, *,
                             path, release, truncate=False):
    """Q7 HWC convolution, square geometry, fast variant (semantics doc §1.3).

    Same arguments, arithmetic and result as arm_convolve_HWC_q7_basic, including the REF path's
    signed-char index quirk in 5.7.0; only the checks and the DSP data movement differ.

    Parameters
    ----------
    Im_in : (N, dim_im_in, dim_im_in, ch_im_in) int8
    wt : (ch_im_out, dim_kernel, dim_kernel, ch_im_in) int8, OHWI
    bias : (ch_im_out,) int8
    bias_shift, out_shift : 0..31
    path, release, truncate : as arm_convolve_HWC_q7_basic.

    Returns
    -------
    (N, dim_im_out, dim_im_out, ch_im_out) int8

    Constraints: ch_im_in % 4 == 0 and ch_im_out % 2 == 0 (else ARM_MATH_SIZE_MISMATCH, both
    paths). path="dsp" skips bounds tests in the middle of the output plane, so it also needs
    padding <= dim_im_out and, when that middle region exists,
    (dim_im_out - padding - 1)*stride - padding + dim_kernel <= dim_im_in (true for the natural
    output size); other geometries are refused. Buffers (DSP): bufferA 2*ch_im_in*dim_kernel**2 q15_t.
    """
    fn = "arm_convolve_HWC_q7_fast"
    b = bind(fn, (Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride, bias,
                  bias_shift, out_shift, dim_im_out), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_convolve_HWC_q7_fast(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_convolve_HWC_q7_fast = conv_prepare("arm_convolve_HWC_q7_fast", 8)
