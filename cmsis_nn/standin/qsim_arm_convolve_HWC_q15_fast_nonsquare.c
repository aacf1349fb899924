/* qsim stand-in for CMSIS-NN's arm_convolve_HWC_q15_fast_nonsquare.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §0.4, §0.5, §1.9), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

arm_status arm_convolve_HWC_q15_fast_nonsquare(const q15_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                               uint16_t ch_im_in, const q15_t *wt, uint16_t ch_im_out,
                                               uint16_t dim_kernel_x, uint16_t dim_kernel_y, uint16_t padding_x,
                                               uint16_t padding_y, uint16_t stride_x, uint16_t stride_y, const q15_t *bias,
                                               uint16_t bias_shift, uint16_t out_shift, q15_t *Im_out, uint16_t dim_im_out_x,
                                               uint16_t dim_im_out_y, q15_t *bufferA, q7_t *bufferB)
{
    qs_conv_geom g = qs_nonsquare(dim_im_in_x, dim_im_in_y, ch_im_in, ch_im_out, dim_kernel_x,
                                  dim_kernel_y, padding_x, padding_y, stride_x, stride_y, bias_shift,
                                  out_shift, dim_im_out_x, dim_im_out_y);
    (void)bufferA;
    (void)bufferB;
    if (ch_im_in % 2 != 0 || ch_im_out % 2 != 0) {
        return ARM_MATH_SIZE_MISMATCH;
    }
    g.char_index = QS_CHAR_INDEX;
    qs_conv_q15(Im_in, wt, bias, Im_out, &g);
    return ARM_MATH_SUCCESS;
}
