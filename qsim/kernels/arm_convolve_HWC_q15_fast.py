"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q15_fast.c (CMSIS_5 5.7.0, 5.9.0)."""
from ..kernel_args import bind
from ._conv import conv_prepare


def arm_convolve_HWC_q15_fast(Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride,
                              bias, bias_shift, out_shift, dim_im_out, *,
                              path, release, truncate=False):
    """Q15 HWC convolution, square geometry, fast variant (semantics doc §1.8).

    Arithmetic, options and the REF path's 5.7.0 signed-char quirk as arm_convolve_HWC_q15_basic.

    Parameters
    ----------
    Im_in : (N, dim_im_in, dim_im_in, ch_im_in) int16
    wt : (ch_im_out, dim_kernel, dim_kernel, ch_im_in) int16, OHWI
    bias : (ch_im_out,) int16
    bias_shift, out_shift : 0..31

    Returns
    -------
    (N, dim_im_out, dim_im_out, ch_im_out) int16

    Constraints: ch_im_in % 2 == 0, ch_im_out % 2 == 0 (ARM_MATH_SIZE_MISMATCH, both paths);
    path="dsp" refuses an odd dim_im_out: 5.7.0's C gives wrong, partly unwritten output and
    overruns bufferA, 5.9.0's returns ARM_MATH_SIZE_MISMATCH.
    Buffers (DSP): bufferA 2*ch_im_in*dim_kernel**2 q15_t.
    """
    fn = "arm_convolve_HWC_q15_fast"
    b = bind(fn, (Im_in, dim_im_in, ch_im_in, wt, ch_im_out, dim_kernel, padding, stride, bias,
                  bias_shift, out_shift, dim_im_out), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_convolve_HWC_q15_fast(b)(b["Im_in"].reshape(b.n, -1))


# PREPARE (qsim.kernels): b -> run(Im_in)
prepare_arm_convolve_HWC_q15_fast = conv_prepare("arm_convolve_HWC_q15_fast", 16)
