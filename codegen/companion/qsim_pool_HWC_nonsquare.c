/* qsim companion kernels: non-square max and average pooling, q7 and q15 (qsim code, NOT CMSIS).
 * Arithmetic and constraints: qsim_companion.h. Loops: output pixel, then window taps, then channels
 * (contiguous in HWC), so max pooling reads each input byte once per window it belongs to.
 */
#include "qsim_companion_util.h"

#define QSIM_MAXPOOL_BODY(T, LOWEST)                                                              \
    int32_t oy, ox, y, x, c, y0, y1, x0, x1;                                                      \
    for (oy = 0; oy < dim_im_out_y; oy++) {                                                       \
        qsim_window(oy, dim_kernel_y, padding_y, stride_y, dim_im_in_y, &y0, &y1);                \
        for (ox = 0; ox < dim_im_out_x; ox++) {                                                   \
            T *dst = Im_out + ((int32_t)oy * dim_im_out_x + ox) * ch_im_in;                       \
            qsim_window(ox, dim_kernel_x, padding_x, stride_x, dim_im_in_x, &x0, &x1);            \
            for (c = 0; c < ch_im_in; c++) {                                                      \
                dst[c] = LOWEST;                                                                  \
            }                                                                                     \
            for (y = y0; y < y1; y++) {                                                           \
                for (x = x0; x < x1; x++) {                                                       \
                    const T *src = Im_in + ((int32_t)y * dim_im_in_x + x) * ch_im_in;             \
                    for (c = 0; c < ch_im_in; c++) {                                              \
                        if (src[c] > dst[c]) {                                                    \
                            dst[c] = src[c];                                                      \
                        }                                                                         \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

#define QSIM_AVEPOOL_BODY(T, LO, HI)                                                              \
    int32_t oy, ox, y, x, c, y0, y1, x0, x1, count;                                               \
    for (oy = 0; oy < dim_im_out_y; oy++) {                                                       \
        qsim_window(oy, dim_kernel_y, padding_y, stride_y, dim_im_in_y, &y0, &y1);                \
        for (ox = 0; ox < dim_im_out_x; ox++) {                                                   \
            T *dst = Im_out + ((int32_t)oy * dim_im_out_x + ox) * ch_im_in;                       \
            qsim_window(ox, dim_kernel_x, padding_x, stride_x, dim_im_in_x, &x0, &x1);            \
            if (count_include_pad) {                                                              \
                count = (int32_t)dim_kernel_x * dim_kernel_y;                                     \
            } else {                                                                              \
                count = (y1 > y0 && x1 > x0) ? (y1 - y0) * (x1 - x0) : 0;                         \
            }                                                                                     \
            for (c = 0; c < ch_im_in; c++) {                                                      \
                int32_t sum = 0;                                                                  \
                for (y = y0; y < y1; y++) {                                                       \
                    const T *src = Im_in + ((int32_t)y * dim_im_in_x + x0) * ch_im_in + c;        \
                    for (x = x0; x < x1; x++) {                                                   \
                        sum += *src;                                                              \
                        src += ch_im_in;                                                          \
                    }                                                                             \
                }                                                                                 \
                dst[c] = (T)qsim_sat(qsim_average(sum, count, out_lshift, rounding), LO, HI);     \
            }                                                                                     \
        }                                                                                         \
    }

void qsim_maxpool_q7_HWC_nonsquare(const int8_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                   uint16_t ch_im_in, uint16_t dim_kernel_x, uint16_t dim_kernel_y,
                                   uint16_t padding_x, uint16_t padding_y, uint16_t stride_x,
                                   uint16_t stride_y, int8_t *Im_out, uint16_t dim_im_out_x,
                                   uint16_t dim_im_out_y)
{
    QSIM_MAXPOOL_BODY(int8_t, INT8_MIN)
}

void qsim_maxpool_q15_HWC_nonsquare(const int16_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                    uint16_t ch_im_in, uint16_t dim_kernel_x, uint16_t dim_kernel_y,
                                    uint16_t padding_x, uint16_t padding_y, uint16_t stride_x,
                                    uint16_t stride_y, int16_t *Im_out, uint16_t dim_im_out_x,
                                    uint16_t dim_im_out_y)
{
    QSIM_MAXPOOL_BODY(int16_t, INT16_MIN)
}

void qsim_avepool_q7_HWC_nonsquare(const int8_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                   uint16_t ch_im_in, uint16_t dim_kernel_x, uint16_t dim_kernel_y,
                                   uint16_t padding_x, uint16_t padding_y, uint16_t stride_x,
                                   uint16_t stride_y, uint16_t count_include_pad, uint16_t rounding,
                                   uint16_t out_lshift, int8_t *Im_out, uint16_t dim_im_out_x,
                                   uint16_t dim_im_out_y)
{
    QSIM_AVEPOOL_BODY(int8_t, INT8_MIN, INT8_MAX)
}

void qsim_avepool_q15_HWC_nonsquare(const int16_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                    uint16_t ch_im_in, uint16_t dim_kernel_x, uint16_t dim_kernel_y,
                                    uint16_t padding_x, uint16_t padding_y, uint16_t stride_x,
                                    uint16_t stride_y, uint16_t count_include_pad, uint16_t rounding,
                                    uint16_t out_lshift, int16_t *Im_out, uint16_t dim_im_out_x,
                                    uint16_t dim_im_out_y)
{
    QSIM_AVEPOOL_BODY(int16_t, INT16_MIN, INT16_MAX)
}
