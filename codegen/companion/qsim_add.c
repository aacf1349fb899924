/* qsim companion kernels: requantizing element-wise add, q7 and q15 (qsim code, NOT CMSIS).
 * Arithmetic and constraints: qsim_companion.h. Element-wise, so pDst may alias an input.
 */
#include "qsim_companion_util.h"

void qsim_add_q7(const int8_t *pSrcA, uint16_t lshift_a, const int8_t *pSrcB, uint16_t lshift_b,
                 uint16_t out_shift, int8_t *pDst, uint32_t block_size)
{
    const int32_t ma = INT32_C(1) << lshift_a, mb = INT32_C(1) << lshift_b;
    const int32_t rnd = (int32_t)qsim_nn_round(out_shift);
    uint32_t i;
    for (i = 0; i < block_size; i++) {
        int32_t v = pSrcA[i] * ma + pSrcB[i] * mb + rnd;
        pDst[i] = (int8_t)qsim_sat(qsim_asr(v, out_shift), INT8_MIN, INT8_MAX);
    }
}

void qsim_add_q15(const int16_t *pSrcA, uint16_t lshift_a, const int16_t *pSrcB, uint16_t lshift_b,
                  uint16_t out_shift, int16_t *pDst, uint32_t block_size)
{
    const int32_t ma = INT32_C(1) << lshift_a, mb = INT32_C(1) << lshift_b;
    const int32_t rnd = (int32_t)qsim_nn_round(out_shift);
    uint32_t i;
    for (i = 0; i < block_size; i++) {
        int32_t v = pSrcA[i] * ma + pSrcB[i] * mb + rnd;
        pDst[i] = (int16_t)qsim_sat(qsim_asr(v, out_shift), INT16_MIN, INT16_MAX);
    }
}
