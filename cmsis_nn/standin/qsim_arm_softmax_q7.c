/* qsim stand-in for CMSIS-NN's arm_softmax_q7.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §4.1 (REF path; 5.7.0 and 5.9.0 agree there)), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

/* Base-2 softmax: m = max(-128, max x), base = m - 8, sum = sum 2^usat3(x - base),
 * ob = tdiv(2^20, sum), out = sat8(asr(ob, usat5(13 + base - x))). dim_vec = 0 writes nothing. */
void arm_softmax_q7(const q7_t *vec_in, uint16_t dim_vec, q7_t *p_out)
{
    int32_t top = -128, base, sum = 0, ob;
    uint16_t i;
    if (dim_vec == 0) {
        return;
    }
    for (i = 0; i < dim_vec; i++) {
        top = vec_in[i] > top ? vec_in[i] : top;
    }
    base = top - 8;
    for (i = 0; i < dim_vec; i++) {
        sum += INT32_C(1) << qs_usat(vec_in[i] - base, 3);
    }
    ob = qs_tdiv(INT32_C(1) << 20, sum);
    for (i = 0; i < dim_vec; i++) {
        p_out[i] = (q7_t)qs_sat(qs_asr(ob, (uint16_t)qs_usat(13 + base - vec_in[i], 5)), 8);
    }
}
