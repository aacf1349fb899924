/* qsim stand-in for the legacy CMSIS-NN q7/q15 API -- NOT CMSIS. Written by qsim from its own
 * semantics notes, never proof of parity with CMSIS-NN.
 *
 * Internal helpers shared by the stand-in translation units: the rounding constant, saturation,
 * int32 wrap-around done in unsigned arithmetic (no signed-overflow UB, so no -fwrapv needed), the
 * generic REF convolution loops and the table accessors. Notes section numbers are in brackets.
 */
#ifndef QSIM_STANDIN_H
#define QSIM_STANDIN_H

#include <stdint.h>

#include "qsim_standin_api.h"

#ifdef QSIM_STANDIN_CMSIS_570
#define QS_CHAR_INDEX 1     /* 5.7.0 REF convs keep input row/column indices in a signed char [1] */
#else
#define QS_CHAR_INDEX 0
#endif

/* NN_ROUND(s) [0.3]: 2^(s-1), 0 at s = 0 or under ARM_NN_TRUNCATE. 5.9.0 computes it in signed
 * int, which at s = 31 gives INT32_MIN >> 1 = -2^30; 5.7.0's unsigned form gives +2^30. */
static inline int32_t qs_round(uint16_t s)
{
#ifdef ARM_NN_TRUNCATE
    (void)s;
    return 0;
#else
    if (s == 0) {
        return 0;
    }
#ifndef QSIM_STANDIN_CMSIS_570
    if (s == 31) {
        return -(INT32_C(1) << 30);
    }
#endif
    return (int32_t)(UINT32_C(1) << (s - 1));
#endif
}

/* uint32 -> int32 keeping the bits, without relying on implementation-defined conversion. */
static inline int32_t qs_i32(uint32_t u)
{
    return u <= INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

static inline int32_t qs_i16(int32_t v)       /* C narrowing to int16_t: keep the low 16 bits */
{
    int32_t low = v & 0xFFFF;
    return low >= 0x8000 ? low - 0x10000 : low;
}

static inline int32_t qs_i8(int32_t v)        /* C narrowing to int8_t */
{
    int32_t low = v & 0xFF;
    return low >= 0x80 ? low - 0x100 : low;
}

static inline int32_t qs_asr(int32_t v, uint16_t s)   /* floor(v / 2^s), s in 0..31 */
{
    return v >= 0 ? v >> s : -(int32_t)((~(uint32_t)v) >> s) - 1;
}

static inline int32_t qs_sat(int32_t v, int bits)     /* __SSAT(v, bits) */
{
    int32_t hi = (INT32_C(1) << (bits - 1)) - 1;
    int32_t lo = -hi - 1;
    return v > hi ? hi : (v < lo ? lo : v);
}

static inline int32_t qs_usat(int32_t v, int bits)    /* __USAT(v, bits) */
{
    int32_t hi = (INT32_C(1) << bits) - 1;
    return v > hi ? hi : (v < 0 ? 0 : v);
}

static inline int32_t qs_tdiv(int32_t a, int32_t b)   /* C division, truncates toward zero */
{
    return a / b;
}

/* Accumulator start [0.4]: wrap32(int32(bias) << bias_shift + NN_ROUND(out_shift)), as uint32. */
static inline uint32_t qs_acc_init(int32_t bias, uint16_t bias_shift, uint16_t out_shift)
{
    return ((uint32_t)bias << bias_shift) + (uint32_t)qs_round(out_shift);
}

/* Output step [0.4]: saturate(asr(acc, out_shift), bits). */
static inline int32_t qs_requant(uint32_t acc, uint16_t out_shift, int bits)
{
    return qs_sat(qs_asr(qs_i32(acc), out_shift), bits);
}

/* Geometry of one convolution call [0.5]; x = width (columns), y = height (rows). */
typedef struct {
    int in_x, in_y, ch_in, k_x, k_y, pad_x, pad_y, stride_x, stride_y, out_x, out_y, ch_out;
    uint16_t bias_shift, out_shift;
    int char_index;   /* 1: the 5.7.0 REF signed-char index quirk */
    int depthwise;    /* 1: weights w[ky][kx][c], one tap per channel */
} qs_conv_geom;

static inline qs_conv_geom qs_square(uint16_t dim_im_in, uint16_t ch_im_in, uint16_t ch_im_out,
                                     uint16_t dim_kernel, uint16_t padding, uint16_t stride,
                                     uint16_t bias_shift, uint16_t out_shift, uint16_t dim_im_out)
{
    qs_conv_geom g;
    g.in_x = g.in_y = dim_im_in;
    g.ch_in = ch_im_in;
    g.k_x = g.k_y = dim_kernel;
    g.pad_x = g.pad_y = padding;
    g.stride_x = g.stride_y = stride;
    g.out_x = g.out_y = dim_im_out;
    g.ch_out = ch_im_out;
    g.bias_shift = bias_shift;
    g.out_shift = out_shift;
    g.char_index = 0;
    g.depthwise = 0;
    return g;
}

static inline qs_conv_geom qs_nonsquare(uint16_t in_x, uint16_t in_y, uint16_t ch_in, uint16_t ch_out,
                                        uint16_t k_x, uint16_t k_y, uint16_t pad_x, uint16_t pad_y,
                                        uint16_t stride_x, uint16_t stride_y, uint16_t bias_shift,
                                        uint16_t out_shift, uint16_t out_x, uint16_t out_y)
{
    qs_conv_geom g;
    g.in_x = in_x;
    g.in_y = in_y;
    g.ch_in = ch_in;
    g.k_x = k_x;
    g.k_y = k_y;
    g.pad_x = pad_x;
    g.pad_y = pad_y;
    g.stride_x = stride_x;
    g.stride_y = stride_y;
    g.out_x = out_x;
    g.out_y = out_y;
    g.ch_out = ch_out;
    g.bias_shift = bias_shift;
    g.out_shift = out_shift;
    g.char_index = 0;
    g.depthwise = 0;
    return g;
}

/* Input coordinate of a tap; -1 when it falls outside [0, size) (after the signed-char wrap if set). */
static inline int qs_tap(int o, int stride, int k, int pad, int size, int char_index)
{
    int v = o * stride + k - pad;
    if (char_index) {
        v = qs_i8(v);
    }
    return (v >= 0 && v < size) ? v : -1;
}

/* Dot product of one output value [0.4, 0.5], wrapping mod 2^32. `elem` reads element i of a q7 or
 * q15 array; written as two copies (q7, q15) below to keep the code plain C99. */
#define QS_CONV_BODY(IN_T, OUT_BITS)                                                            \
    int o, oy, ox, ky, kx, c;                                                                    \
    for (oy = 0; oy < g->out_y; oy++) {                                                          \
        for (ox = 0; ox < g->out_x; ox++) {                                                      \
            for (o = 0; o < g->ch_out; o++) {                                                    \
                uint32_t acc = qs_acc_init(bias[o], g->bias_shift, g->out_shift);                \
                for (ky = 0; ky < g->k_y; ky++) {                                                \
                    int r = qs_tap(oy, g->stride_y, ky, g->pad_y, g->in_y, g->char_index);       \
                    if (r < 0) {                                                                 \
                        continue;                                                                \
                    }                                                                            \
                    for (kx = 0; kx < g->k_x; kx++) {                                            \
                        int col = qs_tap(ox, g->stride_x, kx, g->pad_x, g->in_x, g->char_index); \
                        const IN_T *px;                                                          \
                        const IN_T *pw;                                                          \
                        if (col < 0) {                                                           \
                            continue;                                                            \
                        }                                                                        \
                        px = im + ((long)r * g->in_x + col) * g->ch_in;                          \
                        if (g->depthwise) {                                                      \
                            pw = wt + ((long)ky * g->k_x + kx) * g->ch_in;                       \
                            acc += (uint32_t)((int32_t)px[o] * (int32_t)pw[o]);                  \
                            continue;                                                            \
                        }                                                                        \
                        pw = wt + (((long)o * g->k_y + ky) * g->k_x + kx) * g->ch_in;            \
                        for (c = 0; c < g->ch_in; c++) {                                         \
                            acc += (uint32_t)((int32_t)px[c] * (int32_t)pw[c]);                  \
                        }                                                                        \
                    }                                                                            \
                }                                                                                \
                out[((long)oy * g->out_x + ox) * g->ch_out + o] =                                \
                    (IN_T)qs_requant(acc, g->out_shift, OUT_BITS);                               \
            }                                                                                    \
        }                                                                                        \
    }

static inline void qs_conv_q7(const q7_t *im, const q7_t *wt, const q7_t *bias, q7_t *out,
                              const qs_conv_geom *g)
{
    QS_CONV_BODY(q7_t, 8)
}

static inline void qs_conv_q15(const q15_t *im, const q15_t *wt, const q15_t *bias, q15_t *out,
                               const qs_conv_geom *g)
{
    QS_CONV_BODY(q15_t, 16)
}

/* Fully connected core [2]: out[i] = sat(asr(init(bias[i]) + sum_j v[j] * W[i][j], out_shift)),
 * where the logical W[i][j] sits at pM[INDEX(rows, cols, i, j)] for the function's storage layout. */
#define QS_FC_BODY(INDEX, OUT_T, OUT_BITS)                                                      \
    long i, j;                                                                                   \
    (void)vec_buffer;                                                                            \
    for (i = 0; i < num_of_rows; i++) {                                                          \
        uint32_t acc = qs_acc_init(bias[i], bias_shift, out_shift);                              \
        for (j = 0; j < dim_vec; j++) {                                                          \
            acc += (uint32_t)((int32_t)pV[j] * (int32_t)pM[INDEX(num_of_rows, dim_vec, i, j)]); \
        }                                                                                        \
        pOut[i] = (OUT_T)qs_requant(acc, out_shift, OUT_BITS);                                   \
    }                                                                                            \
    return ARM_MATH_SUCCESS;

static inline long qs_fc_rowmajor(long rows, long cols, long i, long j)
{
    (void)rows;
    return i * cols + j;
}

/* [2.1] q7 weights, blocks of 4 rows x 4 columns; the 16 values of a block are ordered
 * (c%2, row pair, c/2 within the group, row within the pair). */
static inline long qs_fc_q7_opt(long rows, long cols, long i, long j)
{
    long full_rows = rows / 4 * 4, full_cols = cols / 4 * 4, rr = i % 4, cc = j % 4;
    if (i >= full_rows) {
        return full_rows * cols + (i - full_rows) * cols + j;
    }
    if (j >= full_cols) {
        return i / 4 * 4 * cols + full_cols * 4 + (j - full_cols) * 4 + rr;
    }
    return i / 4 * 4 * cols + j / 4 * 16 + (cc & 1) * 8 + (rr >> 1) * 4 + (cc >> 1) * 2 + (rr & 1);
}

/* [2.2] q15 weights: per column pair, the 4 rows one after the other, each with both columns. */
static inline long qs_fc_q15_opt(long rows, long cols, long i, long j)
{
    long full_rows = rows / 4 * 4, full_cols = cols / 2 * 2, rr = i % 4;
    if (i >= full_rows) {
        return full_rows * cols + (i - full_rows) * cols + j;
    }
    if (j >= full_cols) {
        return i / 4 * 4 * cols + full_cols * 4 + rr;
    }
    return i / 4 * 4 * cols + j / 2 * 8 + rr * 2 + (j & 1);
}

/* [2.3] q7 weights for q15 input: per column pair, rows (r0, r1) alternate first, then (r2, r3). */
static inline long qs_fc_mat_q7_vec_q15_opt(long rows, long cols, long i, long j)
{
    long full_rows = rows / 4 * 4, full_cols = cols / 2 * 2, rr = i % 4;
    if (i >= full_rows) {
        return full_rows * cols + (i - full_rows) * cols + j;
    }
    if (j >= full_cols) {
        return i / 4 * 4 * cols + full_cols * 4 + rr;
    }
    return i / 4 * 4 * cols + j / 2 * 8 + (rr >> 1) * 4 + (j & 1) * 2 + (rr & 1);
}

/* Tables [5.2], built once from the formula on first use. type: ARM_SIGMOID, anything else tanh. */
const q7_t *qs_table_q7(int type);
const q15_t *qs_table_q15(int type);

#endif /* QSIM_STANDIN_H */
