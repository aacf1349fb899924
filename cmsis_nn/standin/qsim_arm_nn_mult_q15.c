/* qsim stand-in for CMSIS-NN's arm_nn_mult_q15.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §7.1, §10), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

/* Element-wise product with rounding shift.
 *   5.9.0: sat16(asr(wrap32(a*b + NN_ROUND(s)), s))
 *   5.7.0: the unsigned rounding constant makes the sum unsigned and the shift logical:
 *          sat16(int32((uint32(a*b) + NN_ROUND(s)) >> s)); under ARM_NN_TRUNCATE sat16(asr(a*b, s)). */
void arm_nn_mult_q15(q15_t *pSrcA, q15_t *pSrcB, q15_t *pDst, uint16_t out_shift, uint32_t blockSize)
{
    uint32_t i;
    for (i = 0; i < blockSize; i++) {
        int32_t p = (int32_t)pSrcA[i] * (int32_t)pSrcB[i];
        uint32_t sum = (uint32_t)p + (uint32_t)qs_round(out_shift);
#if defined(QSIM_STANDIN_CMSIS_570) && !defined(ARM_NN_TRUNCATE)
        pDst[i] = (q15_t)qs_sat(qs_i32(sum >> out_shift), 16);
#else
        pDst[i] = (q15_t)qs_sat(qs_asr(qs_i32(sum), out_shift), 16);
#endif
    }
}
