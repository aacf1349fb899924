"""Mirror of CMSIS/NN/Source/ConvolutionFunctions/arm_convolve_HWC_q15_fast.c (CMSIS_5 5.7.0, 5.9.0)."""
from ..errors import KernelArgumentError
from ..kernel_args import bind
from ._conv import check_dsp_limits, conv_hwc, dsp_refuse, geometry, index_quirk, size_mismatch


def check_q15_fast(fn, b, g, x):
    """Both paths: even channel counts (§1.8). DSP: the 2-pixel block only fires at odd x, so an
    odd output width misplaces and overruns outputs: refused, with what the release's C does
    (5.9.0's square function returns ARM_MATH_SIZE_MISMATCH, Release.q15_fast_odd_width_check)."""
    size_mismatch(fn, g.ch_in % 2 == 0, "ch_im_in % 2 == 0", f"ch_im_in={g.ch_in}",
                  "use arm_convolve_HWC_q15_basic, or pad the input channels to an even count.")
    size_mismatch(fn, g.ch_out % 2 == 0, "ch_im_out % 2 == 0", f"ch_im_out={g.ch_out}",
                  "use arm_convolve_HWC_q15_basic, or an even number of output channels.")
    check_dsp_limits(fn, b, g)
    fix = "use an even output width, arm_convolve_HWC_q15_basic, or path='ref'"
    square = x == ""             # 5.9.0 added the odd-width check to the square function only
    if b.path == "dsp" and g.out_x % 2 and square and b.release.q15_fast_odd_width_check:
        raise KernelArgumentError(
            f"{fn}: path='dsp' needs an even dim_im_out, got {g.out_x}; CMSIS {b.release} returns "
            f"ARM_MATH_SIZE_MISMATCH and writes nothing (semantics doc §1.8). help: {fix}")
    dsp_refuse(fn, b, g.out_x % 2 == 0, f"dim_im_out{x}={g.out_x} is odd: CMSIS {b.release}'s DSP "
               "body writes wrong output slots, leaves the last ones unwritten and overruns bufferA "
               "(semantics doc §1.8)", fix)


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
    g = geometry(b)
    check_q15_fast(fn, b, g, "")
    return conv_hwc(b, g, 16, index_quirk(b))
