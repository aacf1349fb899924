/* qsim stand-in for CMSIS-NN's arm_fully_connected_mat_q7_vec_q15.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §0.4, §2), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

arm_status arm_fully_connected_mat_q7_vec_q15(const q15_t *pV, const q7_t *pM, uint16_t dim_vec, uint16_t num_of_rows,
                                              uint16_t bias_shift, uint16_t out_shift, const q7_t *bias, q15_t *pOut,
                                              q15_t *vec_buffer)
{
    QS_FC_BODY(qs_fc_rowmajor, q15_t, 16)
}
