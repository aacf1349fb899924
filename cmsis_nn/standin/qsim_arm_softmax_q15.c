/* qsim stand-in for CMSIS-NN's arm_softmax_q15.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §4.4), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

/* m = max x, base = m - 16, sum = sum over x > base of 2^(x - base), ob = int32(2^32 / sum),
 * out = x > base ? sat16(asr(ob, 1 + m - x)) : 0. dim_vec = 0 writes nothing. */
void arm_softmax_q15(const q15_t *vec_in, uint16_t dim_vec, q15_t *p_out)
{
    int32_t top, base;
    uint64_t sum = 0;
    int32_t ob;
    uint16_t i;
    if (dim_vec == 0) {
        return;
    }
    top = vec_in[0];
    for (i = 1; i < dim_vec; i++) {
        top = vec_in[i] > top ? vec_in[i] : top;
    }
    base = top - 16;
    for (i = 0; i < dim_vec; i++) {
        if (vec_in[i] > base) {
            sum += UINT64_C(1) << (vec_in[i] - base);
        }
    }
    ob = qs_i32((uint32_t)((UINT64_C(1) << 32) / sum));
    for (i = 0; i < dim_vec; i++) {
        p_out[i] = vec_in[i] > base
                       ? (q15_t)qs_sat(qs_asr(ob, (uint16_t)(1 + top - vec_in[i])), 16)
                       : 0;
    }
}
