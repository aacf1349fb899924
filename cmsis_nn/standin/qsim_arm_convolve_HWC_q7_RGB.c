/* qsim stand-in for CMSIS-NN's arm_convolve_HWC_q7_RGB.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §0.4, §0.5, §1.6), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

arm_status arm_convolve_HWC_q7_RGB(const q7_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, const q7_t *wt,
                                   uint16_t ch_im_out, uint16_t dim_kernel, uint16_t padding, uint16_t stride,
                                   const q7_t *bias, uint16_t bias_shift, uint16_t out_shift, q7_t *Im_out,
                                   uint16_t dim_im_out, q15_t *bufferA, q7_t *bufferB)
{
    qs_conv_geom g = qs_square(dim_im_in, ch_im_in, ch_im_out, dim_kernel, padding, stride,
                               bias_shift, out_shift, dim_im_out);
    (void)bufferA;
    (void)bufferB;
    if (ch_im_in != 3) {
        return ARM_MATH_SIZE_MISMATCH;
    }
    g.char_index = QS_CHAR_INDEX;
    qs_conv_q7(Im_in, wt, bias, Im_out, &g);
    return ARM_MATH_SUCCESS;
}
