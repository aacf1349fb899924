"""Bit-exact model of CMSIS-DSP's arm_mfcc_q15 (Source/TransformFunctions/arm_mfcc_q15.c, 1.16.x,
scalar C path with ARM_MATH_LOOPUNROLL, the build the `cmsisdsp` wrapper uses on x86).

Per frame x (fftLen q15 samples); every step is the named CMSIS-DSP function:
  1. m = arm_absmax_q15(x) (|-32768| saturates to 32767). If m not in (0, 32767):
     arm_divide_q15(32767, m): t = (32767 << 15) // m, sh = max(0, 17 - clz32(t)), quo = t >> sh;
     arm_scale_q15: x = sat16((x * quo) >> (15 - sh)).
  2. arm_mult_q15 by the q15 window: x = sat16((x * w) >> 15).
  3. arm_rfft_q15 (see rfft_q15.py), then arm_cmplx_mag_q15 on bins 0..N/2:
     mag = arm_sqrt_q31((re*re + im*im) >> 1) >> 16, sqrt by a 32-entry 1/sqrt table + 3 Newton steps.
  4. Mel filters (arm_dot_prod_q15, exact int64): e = __SSAT((dot + 0x219) >> 10, 31).
     If m was scaled: arm_scale_q31(e, m << 16, 0): t = (e * (m << 16)) >> 32, e = sat32(t << 1).
  5. arm_vlog_q31 (Clay Turner's bit-by-bit log2, 31 iterations, q5.26 natural log), then
     arm_offset_q31 by (log2(N) + 12) * ln(2) in q26 (0x02C5C860 each), saturating; arm_shift_q31
     by -19 (arithmetic); each value narrowed to q15_t (wraps, it is a cast, not a saturation).
  6. arm_mat_vec_mult_q15 with the q15 DCT: out = sat16(exact_int64_dot >> 15). Output is q8.7.
"""
import numpy as np
from numba import njit, prange

from ..fixedpoint import ssat, wrap_i16, wrap_i32
from .rfft_q15 import rfft_q15_frame

SQRT_LUT_Q31 = np.round(2.0 ** 28 / np.sqrt(0.25 + np.arange(32) / 32.0)).astype(np.int64)
LN2_Q26 = 0x02C5C860          # ln(2) * 2**26, the C's LOG2TOLOG_Q15
MEL_ROUND = 0x219             # the C's MICRO_Q15, added before the >> 10
MEL_SHIFT = 10                # the C's SHIFT_MELFILTER_SATURATION_Q15
LOG_INV_LOG2E_Q31 = 0x58B90BFB


@njit("i8(i8)", cache=True)
def clz32(v):
    """Count leading zeros of a uint32 (32 for 0, like CMSIS-DSP's host __CLZ)."""
    if v == 0:
        return 32
    n = 0
    while (v & 0x80000000) == 0:
        v <<= 1
        n += 1
    return n


@njit(cache=True)
def sqrt_q31(number, lut):
    """arm_sqrt_q31 for number >= 0 (negative gives 0 like the C)."""
    if number <= 0:
        return 0
    sign_bits = clz32(number) - 1
    half = sign_bits >> 1                                 # == (sign_bits - 1) / 2 when odd
    number = number << (2 * half)
    var1 = lut[(number >> 26) - 8]
    for _ in range(3):                                    # var1 *= (3 - number * var1**2) / 2
        temp = wrap_i32((var1 * var1) >> 28)
        temp = wrap_i32((number * temp) >> 31)
        temp = wrap_i32(0x30000000 - temp)
        var1 = wrap_i32((var1 * temp) >> 29)
    var1 = wrap_i32((number * var1) >> 28)
    return var1 >> half


@njit("i8(i8)", cache=True)
def log_q31(src):
    """arm_vlog_q31 of one value (src as uint32): natural log in q5.26, returned as int32."""
    c = clz32(src)
    x = src << (c - 1) if c >= 1 else src >> (1 - c)
    x &= 0xFFFFFFFF
    y = 0
    inc = 1 << 25
    for _ in range(31):
        x = (x * x) >> 30
        if x >= (1 << 31):
            y += inc
            x >>= 1
        inc >>= 1
    tmp = wrap_i32(y - wrap_i32(c << 26))
    return wrap_i32((tmp * LOG_INV_LOG2E_Q31) >> 31)


@njit(cache=True)
def _mfcc_frame(x, window, twiddle, bitrev, coef_a, coef_b, lut, fbank, dct, spec, mel, out):
    n = x.shape[0]
    m = 0
    for i in range(n):
        m = max(m, min(abs(x[i]), 32767))
    scaled = m != 0 and m != 0x7FFF
    if scaled:
        t = (0x7FFF << 15) // m
        sh = max(0, 17 - clz32(t))
        quo = t >> sh
        for i in range(n):
            x[i] = ssat((x[i] * quo) >> (15 - sh), 16)
    for i in range(n):
        x[i] = ssat((x[i] * window[i]) >> 15, 16)
    rfft_q15_frame(x, twiddle, bitrev, coef_a, coef_b, spec)
    nbins = fbank.shape[1]
    for k in range(nbins):
        re, im = spec[2 * k], spec[2 * k + 1]
        x[k] = sqrt_q31((re * re + im * im) >> 1, lut) >> 16
    shift_n = 0
    while (1 << shift_n) < n:
        shift_n += 1
    log_offset = (shift_n + 2 + MEL_SHIFT) * LN2_Q26
    for j in range(fbank.shape[0]):
        acc = 0
        for k in range(nbins):
            acc += x[k] * fbank[j, k]
        e = ssat((acc + MEL_ROUND) >> MEL_SHIFT, 31)
        if scaled:
            t = (e * (m << 16)) >> 32
            e = ssat(t << 1, 32)
        v = ssat(log_q31(e) + log_offset, 32)
        mel[j] = wrap_i16(v >> 19)
    for r in range(dct.shape[0]):
        acc = 0
        for j in range(dct.shape[1]):
            acc += dct[r, j] * mel[j]
        out[r] = ssat(acc >> 15, 16)


@njit(cache=True, parallel=True)
def mfcc_q15_batch(frames, window, twiddle, bitrev, coef_a, coef_b, lut, fbank, dct, out):
    """arm_mfcc_q15 on each row of frames (F, fftLen) int16 -> out (F, n_coeffs) int16."""
    n = frames.shape[1]
    for f in prange(frames.shape[0]):
        x = frames[f].astype(np.int64)
        spec = np.zeros(n + 2, np.int64)
        mel = np.zeros(fbank.shape[0], np.int64)
        res = np.zeros(dct.shape[0], np.int64)
        _mfcc_frame(x, window, twiddle, bitrev, coef_a, coef_b, lut, fbank, dct, spec, mel, res)
        for r in range(dct.shape[0]):
            out[f, r] = res[r]
