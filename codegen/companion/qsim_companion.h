/* qsim companion kernels: qsim's own C functions for layers the legacy CMSIS-NN q7/q15 API has no
 * kernel for. Written by qsim from the arithmetic specified below; NOT CMSIS code, and not derived
 * from CMSIS, ML-KWS-for-MCU, NNoM or any other library.
 *
 * Style of the legacy library: q7 (int8_t) and q15 (int16_t) data, HWC activations
 * (element (y, x, c) of a W-wide, C-channel image at (y*W + x)*C + c), power-of-two shifts,
 * round-half-up rounding and saturation. Arguments are named as in CMSIS-NN (x = width, y =
 * height; the x member of a pair comes first). Every function is single-path: the same bytes on
 * any core (Cortex-M0..M7, x86), no scratch buffer, no write to its inputs; outputs must not
 * overlap inputs unless a function says otherwise.
 *
 * Notation: sat_b(v) clamps to [-2^(b-1), 2^(b-1)-1] (b = 8 for q7, 16 for q15);
 * asr(v, s) = floor(v / 2^s); NN_ROUND(s) = 2^(s-1) for s >= 1, 0 for s = 0. Compiling with
 * -DARM_NN_TRUNCATE (as for CMSIS-NN) makes NN_ROUND 0 and every "round half up" below a floor.
 * A "valid tap" of a window is one inside the image: window of output (oy, ox) = input rows
 * oy*stride_y - padding_y + [0, dim_kernel_y) and columns ox*stride_x - padding_x + [0,
 * dim_kernel_x). padding_x/_y are the left/top padding; the output size is given explicitly, so
 * any bottom/right padding (TensorFlow "SAME" with even kernels) follows from it.
 *
 * Constraints are the caller's duty (qsim's quantizer and Python kernels check them); the C does
 * not check sizes except where it returns a status.
 */
#ifndef QSIM_COMPANION_H
#define QSIM_COMPANION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QSIM_SUCCESS 0
#define QSIM_SIZE_MISMATCH (-3)     /* same value as CMSIS-NN's ARM_MATH_SIZE_MISMATCH */

#define QSIM_ROUND_HALF_UP 0        /* avepool rounding: floor(v + 1/2) (a floor under ARM_NN_TRUNCATE) */
#define QSIM_ROUND_TOWARD_ZERO 1    /* avepool rounding: C integer division */

/* ---- Max pooling, non-square, q7 and q15 ---------------------------------------------------------
 * out(oy, ox, c) = max over the valid taps of Im_in(y, x, c); a window without a valid tap gives the
 * type's minimum (-128 / -32768). Padding never contributes. Buffers: none.
 * Constraints: dim_kernel_x, dim_kernel_y, stride_x, stride_y >= 1.
 */
void qsim_maxpool_q7_HWC_nonsquare(const int8_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                   uint16_t ch_im_in, uint16_t dim_kernel_x, uint16_t dim_kernel_y,
                                   uint16_t padding_x, uint16_t padding_y, uint16_t stride_x,
                                   uint16_t stride_y, int8_t *Im_out, uint16_t dim_im_out_x,
                                   uint16_t dim_im_out_y);
void qsim_maxpool_q15_HWC_nonsquare(const int16_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                    uint16_t ch_im_in, uint16_t dim_kernel_x, uint16_t dim_kernel_y,
                                    uint16_t padding_x, uint16_t padding_y, uint16_t stride_x,
                                    uint16_t stride_y, int16_t *Im_out, uint16_t dim_im_out_x,
                                    uint16_t dim_im_out_y);

/* ---- Average pooling, non-square, q7 and q15, with its own output format -------------------------
 * Per output (oy, ox, c), in int32:
 *   sum   = sum of Im_in(y, x, c) over the valid taps
 *   count = dim_kernel_x*dim_kernel_y      if count_include_pad (padding counts as zeros)
 *           number of valid taps            otherwise
 *   v     = sum * 2^out_lshift              (output frac_bits = input frac_bits + out_lshift)
 *   q     = floor((v + floor(count/2)) / count)   rounding QSIM_ROUND_HALF_UP (= floor(v/count + 1/2);
 *                                                 for count = 2^k exactly asr(v + NN_ROUND(k), k));
 *                                                 under ARM_NN_TRUNCATE floor(v / count)
 *           v / count (C division)                rounding QSIM_ROUND_TOWARD_ZERO
 *   out   = sat_b(q);   a window with count 0 gives 0.
 * count_include_pad = 1 matches PyTorch/ONNX count_include_pad=True whenever every window lies in
 * the padded image (floor-mode output size). count_include_pad = 0 with QSIM_ROUND_TOWARD_ZERO is
 * the arithmetic of ML-KWS-for-MCU's non-square average pool: (sum of valid taps << out_lshift)
 * divided by the number of valid taps with C division, then saturated.
 * Constraints: kernel and stride >= 1; dim_kernel_x*dim_kernel_y * 2^(b-1) * 2^out_lshift <= 2^30
 * (no int32 overflow). Buffers: none.
 */
void qsim_avepool_q7_HWC_nonsquare(const int8_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                   uint16_t ch_im_in, uint16_t dim_kernel_x, uint16_t dim_kernel_y,
                                   uint16_t padding_x, uint16_t padding_y, uint16_t stride_x,
                                   uint16_t stride_y, uint16_t count_include_pad, uint16_t rounding,
                                   uint16_t out_lshift, int8_t *Im_out, uint16_t dim_im_out_x,
                                   uint16_t dim_im_out_y);
void qsim_avepool_q15_HWC_nonsquare(const int16_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                    uint16_t ch_im_in, uint16_t dim_kernel_x, uint16_t dim_kernel_y,
                                    uint16_t padding_x, uint16_t padding_y, uint16_t stride_x,
                                    uint16_t stride_y, uint16_t count_include_pad, uint16_t rounding,
                                    uint16_t out_lshift, int16_t *Im_out, uint16_t dim_im_out_x,
                                    uint16_t dim_im_out_y);

/* ---- Global average pooling with requantization, q7 and q15 --------------------------------------
 * Per channel c: sum = sum of all dim_im_in_x*dim_im_in_y pixels, count = that pixel count,
 * out(c) = sat_b(floor((sum * 2^out_lshift + floor(count/2)) / count)) (round half up; a floor under
 * ARM_NN_TRUNCATE). Output: ch_im_in values (a 1x1xC image) with frac_bits = input + out_lshift.
 * Identical to qsim_avepool_*_HWC_nonsquare with the whole image as kernel, no padding, half-up.
 * Constraints: dim_im_in_x*dim_im_in_y >= 1 and * 2^(b-1) * 2^out_lshift <= 2^30. Buffers: none.
 */
void qsim_global_avepool_q7_HWC(const int8_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                uint16_t ch_im_in, uint16_t out_lshift, int8_t *Im_out);
void qsim_global_avepool_q15_HWC(const int16_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y,
                                 uint16_t ch_im_in, uint16_t out_lshift, int16_t *Im_out);

/* ---- Requantizing element-wise add (residual blocks), q7 and q15 ---------------------------------
 * For i < block_size, in int32:
 *   pDst[i] = sat_b( asr( pSrcA[i]*2^lshift_a + pSrcB[i]*2^lshift_b + NN_ROUND(out_shift), out_shift ) )
 * With input formats fa, fb: the common format has frac bits fa + lshift_a = fb + lshift_b = f, and
 * the output has f - out_shift. Constraints: lshift_a, lshift_b <= 30 - b (q7 22, q15 14),
 * out_shift <= 31 (no int32 overflow). pDst may be pSrcA or pSrcB (element-wise, in place). Buffers: none.
 */
void qsim_add_q7(const int8_t *pSrcA, uint16_t lshift_a, const int8_t *pSrcB, uint16_t lshift_b,
                 uint16_t out_shift, int8_t *pDst, uint32_t block_size);
void qsim_add_q15(const int16_t *pSrcA, uint16_t lshift_a, const int16_t *pSrcB, uint16_t lshift_b,
                  uint16_t out_shift, int16_t *pDst, uint32_t block_size);

/* ---- Clip (ReLU6 and friends), in place, q7 and q15 ----------------------------------------------
 * data[i] = min(max(data[i], min_val), max_val) for i < size: the bounds are integers of the data's
 * format (ReLU6 on Qm.f data: min_val 0, max_val min(6*2^f, 2^(b-1)-1)). With min_val > max_val
 * every value becomes max_val. Buffers: none.
 */
void qsim_clip_q7(int8_t *data, uint32_t size, int16_t min_val, int16_t max_val);
void qsim_clip_q15(int16_t *data, uint32_t size, int16_t min_val, int16_t max_val);

/* ---- Q15 depthwise convolution (channel multiplier 1), HWC, non-square ---------------------------
 * Weights wt[ky][kx][c] (channel innermost), bias per channel; per output (oy, ox, c), int32
 * arithmetic wrapping modulo 2^32 exactly like the legacy CMSIS-NN convolutions:
 *   acc = wrap32( int32(bias[c]) << bias_shift + NN_ROUND(out_shift)
 *                 + sum over valid taps of Im_in(y, x, c) * wt[ky][kx][c] )
 *   out = sat_16( asr(acc, out_shift) )
 * NN_ROUND(s) is the unsigned 2^(s-1) (so +2^30 at s = 31 on every target).
 * Returns QSIM_SIZE_MISMATCH (writing nothing) unless ch_im_in == ch_im_out. Constraints:
 * bias_shift, out_shift <= 31. Buffers: bufferA and bufferB are unused (may be NULL); they are
 * there so the call has the shape of CMSIS-NN's convolutions.
 */
int32_t qsim_depthwise_conv_HWC_q15_nonsquare(const int16_t *Im_in, uint16_t dim_im_in_x,
                                              uint16_t dim_im_in_y, uint16_t ch_im_in, const int16_t *wt,
                                              uint16_t ch_im_out, uint16_t dim_kernel_x,
                                              uint16_t dim_kernel_y, uint16_t padding_x,
                                              uint16_t padding_y, uint16_t stride_x, uint16_t stride_y,
                                              const int16_t *bias, uint16_t bias_shift,
                                              uint16_t out_shift, int16_t *Im_out,
                                              uint16_t dim_im_out_x, uint16_t dim_im_out_y,
                                              int16_t *bufferA, int8_t *bufferB);

/* ---- Channel concat: copy one input into its channel slice of the output, q7 and q15 -------------
 * Im_out[p*ch_im_out + ch_offset + c] = Im_in[p*ch_im_in + c] for p < num_pixels, c < ch_im_in;
 * the other channels of Im_out are left as they are. Concatenating k tensors along channels is k
 * calls with ch_offset = the channels before each. Constraint: ch_offset + ch_im_in <= ch_im_out.
 * Buffers: none.
 */
void qsim_concat_channels_q7(const int8_t *Im_in, uint32_t num_pixels, uint16_t ch_im_in,
                             int8_t *Im_out, uint16_t ch_im_out, uint16_t ch_offset);
void qsim_concat_channels_q15(const int16_t *Im_in, uint32_t num_pixels, uint16_t ch_im_in,
                              int16_t *Im_out, uint16_t ch_im_out, uint16_t ch_offset);

/* ---- Requantize: storage-width change between layers of different precision ---------------------
 * For i < block_size, in int32 (b_in / b_out = 8 and 16, or 16 and 8):
 *   pDst[i] = sat_b_out( asr( pSrc[i]*2^lshift + NN_ROUND(rshift), rshift ) )
 * Input format Q.f gives output Q.(f + lshift - rshift): round half up (a floor under
 * ARM_NN_TRUNCATE) where rshift > 0, saturating. (q7 -> q15 with lshift = rshift = 0 is a sign
 * extension, CMSIS-NN's arm_q7_to_q15_no_shift.) Constraints: lshift <= 30 - b_in (q7 in 22,
 * q15 in 14), rshift <= 31 (no int32 overflow). pDst must not overlap pSrc. Buffers: none.
 */
void qsim_requantize_q7_q15(const int8_t *pSrc, uint16_t lshift, uint16_t rshift, int16_t *pDst,
                            uint32_t block_size);
void qsim_requantize_q15_q7(const int16_t *pSrc, uint16_t lshift, uint16_t rshift, int8_t *pDst,
                            uint32_t block_size);

#ifdef __cplusplus
}
#endif

#endif /* QSIM_COMPANION_H */
