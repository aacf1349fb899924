/* qsim stand-in for CMSIS-NN's arm_q7_to_q15_no_shift.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §7.4), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

void arm_q7_to_q15_no_shift(const q7_t *pSrc, q15_t *pDst, uint32_t blockSize)
{
    uint32_t i;
    for (i = 0; i < blockSize; i++) {
        pDst[i] = (q15_t)pSrc[i];
    }
}
