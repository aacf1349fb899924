/* qsim companion kernels: clip (ReLU6 and friends) in place, q7 and q15 (qsim code, NOT CMSIS).
 * Arithmetic: qsim_companion.h. Lower bound first, then upper bound.
 */
#include "qsim_companion_util.h"

void qsim_clip_q7(int8_t *data, uint32_t size, int16_t min_val, int16_t max_val)
{
    uint32_t i;
    for (i = 0; i < size; i++) {
        int32_t v = data[i];
        v = v < min_val ? min_val : v;
        v = v > max_val ? max_val : v;
        data[i] = (int8_t)qsim_sat(v, INT8_MIN, INT8_MAX);
    }
}

void qsim_clip_q15(int16_t *data, uint32_t size, int16_t min_val, int16_t max_val)
{
    uint32_t i;
    for (i = 0; i < size; i++) {
        int32_t v = data[i];
        v = v < min_val ? min_val : v;
        v = v > max_val ? max_val : v;
        data[i] = (int16_t)v;
    }
}
