/* qsim stand-in for CMSIS-NN's arm_softmax_with_batch_q7.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §4.5), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

void arm_softmax_with_batch_q7(const q7_t *vec_in, uint16_t nb_batches, uint16_t dim_vec, q7_t *p_out)
{
    uint16_t b;
    for (b = 0; b < nb_batches; b++) {
        arm_softmax_q7(vec_in + (long)b * dim_vec, dim_vec, p_out + (long)b * dim_vec);
    }
}
