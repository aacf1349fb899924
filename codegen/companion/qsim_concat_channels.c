/* qsim companion kernels: channel concat as a strided copy, q7 and q15 (qsim code, NOT CMSIS).
 * Arithmetic and constraints: qsim_companion.h.
 */
#include <string.h>

#include "qsim_companion_util.h"

void qsim_concat_channels_q7(const int8_t *Im_in, uint32_t num_pixels, uint16_t ch_im_in,
                             int8_t *Im_out, uint16_t ch_im_out, uint16_t ch_offset)
{
    uint32_t p;
    for (p = 0; p < num_pixels; p++) {
        memcpy(Im_out + p * ch_im_out + ch_offset, Im_in + p * ch_im_in, ch_im_in);
    }
}

void qsim_concat_channels_q15(const int16_t *Im_in, uint32_t num_pixels, uint16_t ch_im_in,
                              int16_t *Im_out, uint16_t ch_im_out, uint16_t ch_offset)
{
    uint32_t p;
    for (p = 0; p < num_pixels; p++) {
        memcpy(Im_out + p * ch_im_out + ch_offset, Im_in + p * ch_im_in, ch_im_in * sizeof(int16_t));
    }
}
