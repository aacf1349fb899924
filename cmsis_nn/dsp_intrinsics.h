/*
 * qsim: portable C models of the Armv7E-M DSP intrinsics used by the legacy CMSIS-NN q7/q15
 * sources (CMSIS_5 tags 5.7.0 and 5.9.0), so their ARM_MATH_DSP code path builds and runs on a
 * host (x86-64) compiler. Written for qsim from the Arm architecture's instruction descriptions;
 * no CMSIS code. See docs/cmsis-nn-legacy-semantics.md section 9.3.
 *
 * Use: gcc -DARM_MATH_DSP -include dsp_intrinsics.h ... (force-included before any CMSIS header).
 * With ARM_MATH_DSP defined, arm_math.h (5.7.0) skips its own C fallbacks of these names, and
 * cmsis_gcc.h defines them only when the compiler reports __ARM_FEATURE_DSP, which a host compiler
 * never does: nobody else defines them, so there is no collision. On an Arm DSP target the real
 * instructions are used instead and this header refuses to be included.
 *
 * Semantics (little-endian lanes; "mod" = wrap-around, "sat" = saturate, GE flags / Q flag
 * not modelled because the NN sources never read them):
 *   SXTB16(x)        halfword k = sign-extend(byte 2k of x)
 *   SXTB16_RORn(x,n) SXTB16(x rotated right by n)
 *   SXTAB16(a,b)     halfword k = halfword k of a + sign-extend(byte 2k of b), mod 2^16
 *   SMUAD(a,b)       lo(a)*lo(b) + hi(a)*hi(b)                     (signed halfwords), mod 2^32
 *   SMLAD(a,b,c)     lo(a)*lo(b) + hi(a)*hi(b) + c, mod 2^32
 *   SMLALD(a,b,c)    lo(a)*lo(b) + hi(a)*hi(b) + c, mod 2^64
 *   QADD/QSUB        signed 32-bit add/subtract, sat
 *   QADD16/QSUB16    per signed halfword, sat;   QADD8/QSUB8 per signed byte, sat
 *   SADD8/SSUB8      per byte, mod 2^8
 *   USAT16(x,n)      each signed halfword clamped to [0, 2^n - 1]
 *   PKHBT(a,b,s)     low halfword of a | high halfword of (b << s)
 *   PKHTB(a,b,s)     high halfword of a | low halfword of (b >> s), arithmetic shift
 */
#ifndef QSIM_DSP_INTRINSICS_H
#define QSIM_DSP_INTRINSICS_H

#if defined(__ARM_FEATURE_DSP) && (__ARM_FEATURE_DSP == 1)
#error "qsim dsp_intrinsics.h is for host builds; this target has the real DSP instructions"
#endif

#include <stdint.h>

#define QSIM_DSP_INLINE static inline __attribute__((always_inline, unused))

/* Lane access with explicit two's-complement conversion (no implementation-defined casts). */
QSIM_DSP_INLINE int32_t qsim_s16(uint32_t v) { v &= 0xFFFFu; return (int32_t)v - (int32_t)((v & 0x8000u) << 1); }
QSIM_DSP_INLINE int32_t qsim_s8(uint32_t v) { v &= 0xFFu; return (int32_t)v - (int32_t)((v & 0x80u) << 1); }
QSIM_DSP_INLINE int32_t qsim_lane16(uint32_t x, int k) { return qsim_s16(x >> (16 * k)); }
QSIM_DSP_INLINE int32_t qsim_lane8(uint32_t x, int k) { return qsim_s8(x >> (8 * k)); }
QSIM_DSP_INLINE int64_t qsim_clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }
QSIM_DSP_INLINE uint32_t qsim_pack16(int64_t lo, int64_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | (((uint32_t)hi & 0xFFFFu) << 16);
}
QSIM_DSP_INLINE uint32_t qsim_pack8(int64_t b0, int64_t b1, int64_t b2, int64_t b3)
{
    return ((uint32_t)b0 & 0xFFu) | (((uint32_t)b1 & 0xFFu) << 8) | (((uint32_t)b2 & 0xFFu) << 16)
           | (((uint32_t)b3 & 0xFFu) << 24);
}
QSIM_DSP_INLINE int32_t qsim_to_s32(uint32_t v)
{
    return v >= 0x80000000u ? (int32_t)(v - 0x80000000u) + INT32_MIN : (int32_t)v;
}
QSIM_DSP_INLINE int32_t qsim_asr32(int32_t v, uint32_t s)
{
    /* arithmetic shift right by 0..32 without relying on '>>' of a negative int */
    if (s >= 32) return v < 0 ? -1 : 0;
    return v >= 0 ? (int32_t)((uint32_t)v >> s) : -1 - (int32_t)(~(uint32_t)v >> s);
}

QSIM_DSP_INLINE uint32_t __SXTB16(uint32_t x) { return qsim_pack16(qsim_lane8(x, 0), qsim_lane8(x, 2)); }

QSIM_DSP_INLINE uint32_t __SXTB16_RORn(uint32_t x, uint32_t n)
{
    n &= 31u;
    return __SXTB16(n ? (x >> n) | (x << (32u - n)) : x);
}

QSIM_DSP_INLINE uint32_t __SXTAB16(uint32_t a, uint32_t b)
{
    return qsim_pack16((int64_t)(a & 0xFFFFu) + qsim_lane8(b, 0), (int64_t)(a >> 16) + qsim_lane8(b, 2));
}

QSIM_DSP_INLINE uint32_t __SMUAD(uint32_t a, uint32_t b)
{
    int64_t s = (int64_t)qsim_lane16(a, 0) * qsim_lane16(b, 0) + (int64_t)qsim_lane16(a, 1) * qsim_lane16(b, 1);
    return (uint32_t)s;
}

QSIM_DSP_INLINE uint32_t __SMLAD(uint32_t a, uint32_t b, uint32_t c) { return __SMUAD(a, b) + c; }

QSIM_DSP_INLINE uint64_t __SMLALD(uint32_t a, uint32_t b, uint64_t c)
{
    int64_t s = (int64_t)qsim_lane16(a, 0) * qsim_lane16(b, 0) + (int64_t)qsim_lane16(a, 1) * qsim_lane16(b, 1);
    return c + (uint64_t)s;
}

QSIM_DSP_INLINE int32_t __QADD(int32_t a, int32_t b)
{
    return (int32_t)qsim_clamp((int64_t)a + b, INT32_MIN, INT32_MAX);
}
QSIM_DSP_INLINE int32_t __QSUB(int32_t a, int32_t b)
{
    return (int32_t)qsim_clamp((int64_t)a - b, INT32_MIN, INT32_MAX);
}

QSIM_DSP_INLINE uint32_t __QADD16(uint32_t a, uint32_t b)
{
    return qsim_pack16(qsim_clamp(qsim_lane16(a, 0) + qsim_lane16(b, 0), -32768, 32767),
                       qsim_clamp(qsim_lane16(a, 1) + qsim_lane16(b, 1), -32768, 32767));
}

QSIM_DSP_INLINE uint32_t __QSUB16(uint32_t a, uint32_t b)
{
    return qsim_pack16(qsim_clamp(qsim_lane16(a, 0) - qsim_lane16(b, 0), -32768, 32767),
                       qsim_clamp(qsim_lane16(a, 1) - qsim_lane16(b, 1), -32768, 32767));
}

#define QSIM_BYTEWISE(a, b, OP, LO, HI)                                                        \
    qsim_pack8(qsim_clamp(qsim_lane8(a, 0) OP qsim_lane8(b, 0), LO, HI),                       \
               qsim_clamp(qsim_lane8(a, 1) OP qsim_lane8(b, 1), LO, HI),                       \
               qsim_clamp(qsim_lane8(a, 2) OP qsim_lane8(b, 2), LO, HI),                       \
               qsim_clamp(qsim_lane8(a, 3) OP qsim_lane8(b, 3), LO, HI))

QSIM_DSP_INLINE uint32_t __QADD8(uint32_t a, uint32_t b) { return QSIM_BYTEWISE(a, b, +, -128, 127); }
QSIM_DSP_INLINE uint32_t __QSUB8(uint32_t a, uint32_t b) { return QSIM_BYTEWISE(a, b, -, -128, 127); }
/* wrapping: the clamp bounds are wider than any lane sum, qsim_pack8 keeps the low byte */
QSIM_DSP_INLINE uint32_t __SADD8(uint32_t a, uint32_t b) { return QSIM_BYTEWISE(a, b, +, -512, 511); }
QSIM_DSP_INLINE uint32_t __SSUB8(uint32_t a, uint32_t b) { return QSIM_BYTEWISE(a, b, -, -512, 511); }

#undef QSIM_BYTEWISE

QSIM_DSP_INLINE uint32_t __USAT16(int32_t x, uint32_t n)
{
    int64_t hi = n >= 16 ? 65535 : (int64_t)((1u << n) - 1u);
    return qsim_pack16(qsim_clamp(qsim_lane16((uint32_t)x, 0), 0, hi), qsim_clamp(qsim_lane16((uint32_t)x, 1), 0, hi));
}

QSIM_DSP_INLINE uint32_t __PKHBT(uint32_t a, uint32_t b, uint32_t s)
{
    return (a & 0xFFFFu) | (((s & 31u) ? b << (s & 31u) : b) & 0xFFFF0000u);
}

QSIM_DSP_INLINE uint32_t __PKHTB(uint32_t a, uint32_t b, uint32_t s)
{
    return (a & 0xFFFF0000u) | ((uint32_t)qsim_asr32(qsim_to_s32(b), s) & 0xFFFFu);
}

#endif /* QSIM_DSP_INTRINSICS_H */
