/* qsim stand-in for CMSIS-NN's arm_nn_accumulate_q7_to_q15.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §7.3, §10), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

/* dst[i] += src[i]. 5.9.0 REF build: wrapping (i16) everywhere. 5.7.0 (no path split): saturating
 * on the first 4*floor(n/4) elements, wrapping on the last n % 4. */
void arm_nn_accumulate_q7_to_q15(q15_t *dst, const q7_t *src, uint32_t block_size)
{
    uint32_t i;
#ifdef QSIM_STANDIN_CMSIS_570
    uint32_t saturated = block_size / 4 * 4;
#else
    uint32_t saturated = 0;
#endif
    for (i = 0; i < block_size; i++) {
        int32_t v = (int32_t)dst[i] + (int32_t)src[i];
        dst[i] = (q15_t)(i < saturated ? qs_sat(v, 16) : qs_i16(v));
    }
}
