/* qsim stand-in for CMSIS-NN's arm_pool_q7_HWC.c -- NOT CMSIS.
 * Written by qsim from its own documented semantics (cmsis-nn-legacy-semantics.md §3 (REF path only)), without
 * Arm's code. Agreement with qsim's simulator is never proof of parity with the real library.
 */
#include "qsim_standin.h"

/* Valid taps of window o along one axis: o*stride - padding + [0, k) clipped to [0, dim). */
static void qs_window(int o, int k, int pad, int stride, int dim, int *first, int *stop)
{
    int s = o * stride - pad;
    *first = s < 0 ? 0 : s;
    *stop = s + k < dim ? s + k : dim;
}

/* REF path [3.1]: max over valid taps starting from -129, narrowed to q7 (empty window -> 127).
 * Im_in is left untouched (only the DSP path of CMSIS overwrites it). */
void arm_maxpool_q7_HWC(q7_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, uint16_t dim_kernel,
                        uint16_t padding, uint16_t stride, uint16_t dim_im_out, q7_t *bufferA,
                        q7_t *Im_out)
{
    int oy, ox, c, y, x, y0, y1, x0, x1;
    (void)bufferA;
    for (oy = 0; oy < dim_im_out; oy++) {
        qs_window(oy, dim_kernel, padding, stride, dim_im_in, &y0, &y1);
        for (ox = 0; ox < dim_im_out; ox++) {
            qs_window(ox, dim_kernel, padding, stride, dim_im_in, &x0, &x1);
            for (c = 0; c < ch_im_in; c++) {
                int32_t best = -129;
                for (y = y0; y < y1; y++) {
                    for (x = x0; x < x1; x++) {
                        int32_t v = Im_in[((long)y * dim_im_in + x) * ch_im_in + c];
                        best = v > best ? v : best;
                    }
                }
                Im_out[((long)oy * dim_im_out + ox) * ch_im_in + c] = (q7_t)qs_i8(best);
            }
        }
    }
}

/* REF path [3.2]: i8(tdiv(sum of valid taps, their count)). A window without a valid tap divides
 * by zero in CMSIS (SIGFPE on x86); the stand-in writes 0 there, as Cortex-M3+ do by default. */
void arm_avepool_q7_HWC(q7_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, uint16_t dim_kernel,
                        uint16_t padding, uint16_t stride, uint16_t dim_im_out, q7_t *bufferA,
                        q7_t *Im_out)
{
    int oy, ox, c, y, x, y0, y1, x0, x1;
    (void)bufferA;
    for (oy = 0; oy < dim_im_out; oy++) {
        qs_window(oy, dim_kernel, padding, stride, dim_im_in, &y0, &y1);
        for (ox = 0; ox < dim_im_out; ox++) {
            qs_window(ox, dim_kernel, padding, stride, dim_im_in, &x0, &x1);
            for (c = 0; c < ch_im_in; c++) {
                int32_t sum = 0, count = 0;
                for (y = y0; y < y1; y++) {
                    for (x = x0; x < x1; x++) {
                        sum += Im_in[((long)y * dim_im_in + x) * ch_im_in + c];
                        count++;
                    }
                }
                Im_out[((long)oy * dim_im_out + ox) * ch_im_in + c] =
                    (q7_t)qs_i8(count ? qs_tdiv(sum, count) : 0);
            }
        }
    }
}
