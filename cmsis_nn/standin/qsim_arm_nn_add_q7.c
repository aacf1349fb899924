/* qsim stand-in for CMSIS-NN's arm_nn_add_q7.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §7.2), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

/* *output = wrap32(sum of the inputs); overwrites, does not accumulate. */
void arm_nn_add_q7(const q7_t *input, q31_t *output, uint32_t block_size)
{
    uint32_t sum = 0, i;
    for (i = 0; i < block_size; i++) {
        sum += (uint32_t)(int32_t)input[i];
    }
    *output = qs_i32(sum);
}
