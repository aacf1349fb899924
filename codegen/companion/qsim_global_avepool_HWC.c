/* qsim companion kernels: global average pooling with requantization, q7 and q15 (qsim code, NOT
 * CMSIS). Arithmetic and constraints: qsim_companion.h. One strided pass per channel, no scratch.
 */
#include "qsim_companion_util.h"

#define QSIM_GLOBAL_AVEPOOL_BODY(T, LO, HI)                                                       \
    int32_t count = (int32_t)dim_im_in_x * dim_im_in_y;                                           \
    int32_t c, p;                                                                                 \
    for (c = 0; c < ch_im_in; c++) {                                                              \
        const T *src = Im_in + c;                                                                 \
        int32_t sum = 0;                                                                          \
        for (p = 0; p < count; p++) {                                                             \
            sum += *src;                                                                          \
            src += ch_im_in;                                                                      \
        }                                                                                         \
        Im_out[c] = (T)qsim_sat(qsim_average(sum, count, out_lshift, QSIM_ROUND_HALF_UP), LO, HI); \
    }

void qsim_global_avepool_q7_HWC(const int8_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                uint16_t ch_im_in, uint16_t out_lshift, int8_t *Im_out)
{
    QSIM_GLOBAL_AVEPOOL_BODY(int8_t, INT8_MIN, INT8_MAX)
}

void qsim_global_avepool_q15_HWC(const int16_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                 uint16_t ch_im_in, uint16_t out_lshift, int16_t *Im_out)
{
    QSIM_GLOBAL_AVEPOOL_BODY(int16_t, INT16_MIN, INT16_MAX)
}
