/* qsim companion kernels: q15 depthwise convolution (multiplier 1), HWC, non-square (qsim code,
 * NOT CMSIS). Arithmetic and constraints: qsim_companion.h. The accumulator is a uint32_t so the
 * int32 wrap-around of the legacy convolutions is defined C; its bits are read back as int32.
 */
#include "qsim_companion_util.h"

int32_t qsim_depthwise_conv_HWC_q15_nonsquare(const int16_t *Im_in, uint16_t dim_im_in_x,
                                              uint16_t dim_im_in_y, uint16_t ch_im_in, const int16_t *wt,
                                              uint16_t ch_im_out, uint16_t dim_kernel_x,
                                              uint16_t dim_kernel_y, uint16_t padding_x,
                                              uint16_t padding_y, uint16_t stride_x, uint16_t stride_y,
                                              const int16_t *bias, uint16_t bias_shift,
                                              uint16_t out_shift, int16_t *Im_out,
                                              uint16_t dim_im_out_x, uint16_t dim_im_out_y,
                                              int16_t *bufferA, int8_t *bufferB)
{
    const uint32_t rnd = qsim_nn_round(out_shift);
    int32_t oy, ox, y, x, c, y0, y1, x0, x1;
    (void)bufferA;
    (void)bufferB;
    if (ch_im_in != ch_im_out) {
        return QSIM_SIZE_MISMATCH;
    }
    for (oy = 0; oy < dim_im_out_y; oy++) {
        qsim_window(oy, dim_kernel_y, padding_y, stride_y, dim_im_in_y, &y0, &y1);
        for (ox = 0; ox < dim_im_out_x; ox++) {
            int16_t *dst = Im_out + ((int32_t)oy * dim_im_out_x + ox) * ch_im_out;
            qsim_window(ox, dim_kernel_x, padding_x, stride_x, dim_im_in_x, &x0, &x1);
            for (c = 0; c < ch_im_in; c++) {
                uint32_t acc = ((uint32_t)(int32_t)bias[c] << bias_shift) + rnd;
                for (y = y0; y < y1; y++) {
                    int32_t ky = y - (oy * stride_y - padding_y);
                    for (x = x0; x < x1; x++) {
                        int32_t kx = x - (ox * stride_x - padding_x);
                        int32_t xv = Im_in[((int32_t)y * dim_im_in_x + x) * ch_im_in + c];
                        int32_t wv = wt[(ky * dim_kernel_x + kx) * ch_im_in + c];
                        acc += (uint32_t)(xv * wv);
                    }
                }
                dst[c] = (int16_t)qsim_sat(qsim_asr(qsim_i32(acc), out_shift), INT16_MIN, INT16_MAX);
            }
        }
    }
    return QSIM_SUCCESS;
}
