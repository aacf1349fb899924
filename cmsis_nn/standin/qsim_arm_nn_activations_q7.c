/* qsim stand-in for CMSIS-NN's arm_nn_activations_q7.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §5.2, §5.3), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

/* out = T[(x >> (3 - int_width)) mod 256]. int_width > 3 is undefined in CMSIS; here it leaves the
 * data unchanged. */
void arm_nn_activations_direct_q7(q7_t *data, uint16_t size, uint16_t int_width,
                                  arm_nn_activation_type type)
{
    const q7_t *table = qs_table_q7((int)type);
    uint16_t i;
    if (int_width > 3) {
        return;
    }
    for (i = 0; i < size; i++) {
        data[i] = table[qs_asr(data[i], (uint16_t)(3 - int_width)) & 0xFF];
    }
}
