/* qsim stand-in for CMSIS-NN's arm_nn_mult_q7.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §7.1, §10), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

/* Element-wise product with rounding shift.
 *   5.9.0: sat8(asr(i16(a*b + NN_ROUND(s)), s))
 *   5.7.0: the unsigned rounding constant makes the sum unsigned and the shift logical:
 *          sat8(int32((uint32(a*b) + NN_ROUND(s)) >> s)); under ARM_NN_TRUNCATE sat8(asr(a*b, s)). */
void arm_nn_mult_q7(q7_t *pSrcA, q7_t *pSrcB, q7_t *pDst, uint16_t out_shift, uint32_t blockSize)
{
    uint32_t i;
    for (i = 0; i < blockSize; i++) {
        int32_t p = (int32_t)pSrcA[i] * (int32_t)pSrcB[i];
#if defined(QSIM_STANDIN_CMSIS_570) && !defined(ARM_NN_TRUNCATE)
        uint32_t u = ((uint32_t)p + (uint32_t)qs_round(out_shift)) >> out_shift;
        pDst[i] = (q7_t)qs_sat(qs_i32(u), 8);
#else
        pDst[i] = (q7_t)qs_sat(qs_asr(qs_i16(qs_i32((uint32_t)p + (uint32_t)qs_round(out_shift))),
                                      out_shift), 8);
#endif
    }
}
