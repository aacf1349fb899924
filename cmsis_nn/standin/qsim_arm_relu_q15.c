/* qsim stand-in for CMSIS-NN's arm_relu_q15.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §5.1), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

void arm_relu_q15(q15_t *data, uint16_t size)
{
    uint16_t i;
    for (i = 0; i < size; i++) {
        if (data[i] < 0) {
            data[i] = 0;
        }
    }
}
