/* qsim companion kernels: private helpers shared by the translation units (qsim code, NOT CMSIS).
 * Integer steps are written so that no signed overflow or negative left shift occurs in C.
 */
#ifndef QSIM_COMPANION_UTIL_H
#define QSIM_COMPANION_UTIL_H

#include <stdint.h>

#include "qsim_companion.h"

/* NN_ROUND(s) = 2^(s-1) (unsigned, so 2^30 at s = 31), 0 at s = 0 or under ARM_NN_TRUNCATE. */
static inline uint32_t qsim_nn_round(uint16_t s)
{
#ifdef ARM_NN_TRUNCATE
    (void)s;
    return 0u;
#else
    return ((uint32_t)1u << s) >> 1;
#endif
}

/* uint32 -> int32 keeping the bits (wrap-around), with no implementation-defined conversion. */
static inline int32_t qsim_i32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

/* floor(v / 2^s) for s in 0..31 (an arithmetic shift right). */
static inline int32_t qsim_asr(int32_t v, uint16_t s)
{
    return v >= 0 ? v >> s : -(int32_t)((~(uint32_t)v) >> s) - 1;
}

static inline int32_t qsim_sat(int32_t v, int32_t lo, int32_t hi)
{
    return v > hi ? hi : (v < lo ? lo : v);
}

/* floor(n / d) for d >= 1 (C division truncates toward zero). */
static inline int32_t qsim_floor_div(int32_t n, int32_t d)
{
    int32_t q = n / d;
    return (n % d != 0 && n < 0) ? q - 1 : q;
}

/* The average of `sum` over `count` taps in the output format (qsim_companion.h, average pooling). */
static inline int32_t qsim_average(int32_t sum, int32_t count, uint16_t out_lshift, uint16_t rounding)
{
    int32_t v = sum * (INT32_C(1) << out_lshift);
    if (count <= 0) {
        return 0;
    }
    if (rounding == QSIM_ROUND_TOWARD_ZERO) {
        return v / count;
    }
#ifdef ARM_NN_TRUNCATE
    return qsim_floor_div(v, count);
#else
    return qsim_floor_div(v + count / 2, count);
#endif
}

/* [start, stop) of the valid taps of window o along one axis, clipped to [0, dim). */
static inline void qsim_window(int32_t o, int32_t k, int32_t pad, int32_t stride, int32_t dim,
                               int32_t *start, int32_t *stop)
{
    int32_t s = o * stride - pad;
    *start = s < 0 ? 0 : s;
    *stop = s + k > dim ? dim : s + k;
}

#endif /* QSIM_COMPANION_UTIL_H */
