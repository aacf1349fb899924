/* qsim companion kernels: storage-width change between layers of different precision, q7 -> q15
 * and q15 -> q7, with a format change (qsim code, NOT CMSIS). Arithmetic and constraints:
 * qsim_companion.h. A q7 -> q15 widening with an unchanged format is CMSIS-NN's
 * arm_q7_to_q15_no_shift, which qsim calls instead.
 */
#include "qsim_companion_util.h"

void qsim_requantize_q7_q15(const int8_t *pSrc, uint16_t lshift, uint16_t rshift, int16_t *pDst,
                            uint32_t block_size)
{
    const int32_t m = INT32_C(1) << lshift;
    const int32_t rnd = (int32_t)qsim_nn_round(rshift);
    uint32_t i;
    for (i = 0; i < block_size; i++) {
        int32_t v = pSrc[i] * m + rnd;
        pDst[i] = (int16_t)qsim_sat(qsim_asr(v, rshift), INT16_MIN, INT16_MAX);
    }
}

void qsim_requantize_q15_q7(const int16_t *pSrc, uint16_t lshift, uint16_t rshift, int8_t *pDst,
                            uint32_t block_size)
{
    const int32_t m = INT32_C(1) << lshift;
    const int32_t rnd = (int32_t)qsim_nn_round(rshift);
    uint32_t i;
    for (i = 0; i < block_size; i++) {
        int32_t v = pSrc[i] * m + rnd;
        pDst[i] = (int8_t)qsim_sat(qsim_asr(v, rshift), INT8_MIN, INT8_MAX);
    }
}
