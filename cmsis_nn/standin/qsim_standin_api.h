/* qsim stand-in for the legacy CMSIS-NN q7/q15 API -- NOT CMSIS.
 *
 * Written by qsim from qsim's own semantics notes (shared/docs/cmsis-nn-legacy-semantics.md), never
 * from Arm's sources. It lets CI exercise the cffi and Cortex-M harness without a CMSIS checkout.
 * Agreement between this code and qsim's simulator is NEVER proof of parity with CMSIS-NN: both were
 * written from the same notes. Parity claims need the real library (cmsis_nn/build.py).
 *
 * Behaviour: the plain-C (REF) path of CMSIS_5 5.9.0; with -DQSIM_STANDIN_CMSIS_570 the REF path of
 * 5.7.0 (signed-char conv indices, unsigned rounding in mult, clamped q15 activation index,
 * saturating groups in accumulate). -DARM_NN_TRUNCATE selects floor rounding as in CMSIS.
 * The prototypes below are exactly qsim.cmsis_signatures.SIGNATURES[...].cdecl().
 */
#ifndef QSIM_STANDIN_ARM_NNFUNCTIONS_H
#define QSIM_STANDIN_ARM_NNFUNCTIONS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int8_t q7_t;
typedef int16_t q15_t;
typedef int32_t q31_t;

typedef enum {
    ARM_MATH_SUCCESS = 0,
    ARM_MATH_SIZE_MISMATCH = -3
} arm_status;

typedef enum {
    ARM_SIGMOID = 0,
    ARM_TANH = 1
} arm_nn_activation_type;

arm_status arm_convolve_HWC_q7_basic(const q7_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, const q7_t *wt, uint16_t ch_im_out, uint16_t dim_kernel, uint16_t padding, uint16_t stride, const q7_t *bias, uint16_t bias_shift, uint16_t out_shift, q7_t *Im_out, uint16_t dim_im_out, q15_t *bufferA, q7_t *bufferB);
arm_status arm_convolve_HWC_q7_basic_nonsquare(const q7_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y, uint16_t ch_im_in, const q7_t *wt, uint16_t ch_im_out, uint16_t dim_kernel_x, uint16_t dim_kernel_y, uint16_t padding_x, uint16_t padding_y, uint16_t stride_x, uint16_t stride_y, const q7_t *bias, uint16_t bias_shift, uint16_t out_shift, q7_t *Im_out, uint16_t dim_im_out_x, uint16_t dim_im_out_y, q15_t *bufferA, q7_t *bufferB);
arm_status arm_convolve_HWC_q7_fast(const q7_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, const q7_t *wt, uint16_t ch_im_out, uint16_t dim_kernel, uint16_t padding, uint16_t stride, const q7_t *bias, uint16_t bias_shift, uint16_t out_shift, q7_t *Im_out, uint16_t dim_im_out, q15_t *bufferA, q7_t *bufferB);
arm_status arm_convolve_HWC_q7_fast_nonsquare(const q7_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y, uint16_t ch_im_in, const q7_t *wt, uint16_t ch_im_out, uint16_t dim_kernel_x, uint16_t dim_kernel_y, uint16_t padding_x, uint16_t padding_y, uint16_t stride_x, uint16_t stride_y, const q7_t *bias, uint16_t bias_shift, uint16_t out_shift, q7_t *Im_out, uint16_t dim_im_out_x, uint16_t dim_im_out_y, q15_t *bufferA, q7_t *bufferB);
arm_status arm_convolve_1x1_HWC_q7_fast_nonsquare(const q7_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y, uint16_t ch_im_in, const q7_t *wt, uint16_t ch_im_out, uint16_t dim_kernel_x, uint16_t dim_kernel_y, uint16_t padding_x, uint16_t padding_y, uint16_t stride_x, uint16_t stride_y, const q7_t *bias, uint16_t bias_shift, uint16_t out_shift, q7_t *Im_out, uint16_t dim_im_out_x, uint16_t dim_im_out_y, q15_t *bufferA, q7_t *bufferB);
arm_status arm_convolve_HWC_q7_RGB(const q7_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, const q7_t *wt, uint16_t ch_im_out, uint16_t dim_kernel, uint16_t padding, uint16_t stride, const q7_t *bias, uint16_t bias_shift, uint16_t out_shift, q7_t *Im_out, uint16_t dim_im_out, q15_t *bufferA, q7_t *bufferB);
arm_status arm_convolve_HWC_q15_basic(const q15_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, const q15_t *wt, uint16_t ch_im_out, uint16_t dim_kernel, uint16_t padding, uint16_t stride, const q15_t *bias, uint16_t bias_shift, uint16_t out_shift, q15_t *Im_out, uint16_t dim_im_out, q15_t *bufferA, q7_t *bufferB);
arm_status arm_convolve_HWC_q15_fast(const q15_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, const q15_t *wt, uint16_t ch_im_out, uint16_t dim_kernel, uint16_t padding, uint16_t stride, const q15_t *bias, uint16_t bias_shift, uint16_t out_shift, q15_t *Im_out, uint16_t dim_im_out, q15_t *bufferA, q7_t *bufferB);
arm_status arm_convolve_HWC_q15_fast_nonsquare(const q15_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y, uint16_t ch_im_in, const q15_t *wt, uint16_t ch_im_out, uint16_t dim_kernel_x, uint16_t dim_kernel_y, uint16_t padding_x, uint16_t padding_y, uint16_t stride_x, uint16_t stride_y, const q15_t *bias, uint16_t bias_shift, uint16_t out_shift, q15_t *Im_out, uint16_t dim_im_out_x, uint16_t dim_im_out_y, q15_t *bufferA, q7_t *bufferB);
arm_status arm_depthwise_separable_conv_HWC_q7(const q7_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, const q7_t *wt, uint16_t ch_im_out, uint16_t dim_kernel, uint16_t padding, uint16_t stride, const q7_t *bias, uint16_t bias_shift, uint16_t out_shift, q7_t *Im_out, uint16_t dim_im_out, q15_t *bufferA, q7_t *bufferB);
arm_status arm_depthwise_separable_conv_HWC_q7_nonsquare(const q7_t *Im_in, uint16_t dim_im_in_x, uint16_t dim_im_in_y, uint16_t ch_im_in, const q7_t *wt, uint16_t ch_im_out, uint16_t dim_kernel_x, uint16_t dim_kernel_y, uint16_t padding_x, uint16_t padding_y, uint16_t stride_x, uint16_t stride_y, const q7_t *bias, uint16_t bias_shift, uint16_t out_shift, q7_t *Im_out, uint16_t dim_im_out_x, uint16_t dim_im_out_y, q15_t *bufferA, q7_t *bufferB);
arm_status arm_fully_connected_q7(const q7_t *pV, const q7_t *pM, uint16_t dim_vec, uint16_t num_of_rows, uint16_t bias_shift, uint16_t out_shift, const q7_t *bias, q7_t *pOut, q15_t *vec_buffer);
arm_status arm_fully_connected_q7_opt(const q7_t *pV, const q7_t *pM, uint16_t dim_vec, uint16_t num_of_rows, uint16_t bias_shift, uint16_t out_shift, const q7_t *bias, q7_t *pOut, q15_t *vec_buffer);
arm_status arm_fully_connected_q15(const q15_t *pV, const q15_t *pM, uint16_t dim_vec, uint16_t num_of_rows, uint16_t bias_shift, uint16_t out_shift, const q15_t *bias, q15_t *pOut, q15_t *vec_buffer);
arm_status arm_fully_connected_q15_opt(const q15_t *pV, const q15_t *pM, uint16_t dim_vec, uint16_t num_of_rows, uint16_t bias_shift, uint16_t out_shift, const q15_t *bias, q15_t *pOut, q15_t *vec_buffer);
arm_status arm_fully_connected_mat_q7_vec_q15(const q15_t *pV, const q7_t *pM, uint16_t dim_vec, uint16_t num_of_rows, uint16_t bias_shift, uint16_t out_shift, const q7_t *bias, q15_t *pOut, q15_t *vec_buffer);
arm_status arm_fully_connected_mat_q7_vec_q15_opt(const q15_t *pV, const q7_t *pM, uint16_t dim_vec, uint16_t num_of_rows, uint16_t bias_shift, uint16_t out_shift, const q7_t *bias, q15_t *pOut, q15_t *vec_buffer);
void arm_relu_q7(q7_t *data, uint16_t size);
void arm_relu_q15(q15_t *data, uint16_t size);
void arm_nn_activations_direct_q7(q7_t *data, uint16_t size, uint16_t int_width, arm_nn_activation_type type);
void arm_nn_activations_direct_q15(q15_t *data, uint16_t size, uint16_t int_width, arm_nn_activation_type type);
void arm_maxpool_q7_HWC(q7_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, uint16_t dim_kernel, uint16_t padding, uint16_t stride, uint16_t dim_im_out, q7_t *bufferA, q7_t *Im_out);
void arm_avepool_q7_HWC(q7_t *Im_in, uint16_t dim_im_in, uint16_t ch_im_in, uint16_t dim_kernel, uint16_t padding, uint16_t stride, uint16_t dim_im_out, q7_t *bufferA, q7_t *Im_out);
void arm_softmax_q7(const q7_t *vec_in, uint16_t dim_vec, q7_t *p_out);
void arm_softmax_q15(const q15_t *vec_in, uint16_t dim_vec, q15_t *p_out);
void arm_softmax_with_batch_q7(const q7_t *vec_in, uint16_t nb_batches, uint16_t dim_vec, q7_t *p_out);
void arm_nn_mult_q7(q7_t *pSrcA, q7_t *pSrcB, q7_t *pDst, uint16_t out_shift, uint32_t blockSize);
void arm_nn_mult_q15(q15_t *pSrcA, q15_t *pSrcB, q15_t *pDst, uint16_t out_shift, uint32_t blockSize);
void arm_nn_add_q7(const q7_t *input, q31_t *output, uint32_t block_size);
void arm_nn_accumulate_q7_to_q15(q15_t *dst, const q7_t *src, uint32_t block_size);
void arm_q7_to_q15_no_shift(const q7_t *pSrc, q15_t *pDst, uint32_t blockSize);

#ifdef __cplusplus
}
#endif

#endif /* QSIM_STANDIN_ARM_NNFUNCTIONS_H */
