"""Bit-exact model of CMSIS-DSP's arm_rfft_q15 forward transform (scalar C path, 1.16.x).

Mirrors Source/TransformFunctions/arm_rfft_q15.c, arm_cfft_q15.c (radix4by2), arm_cfft_radix4_q15.c
and the bit reversal of arm_bitreversal2.c as compiled for a host / Cortex-M0 build (no ARM_MATH_DSP,
no MVE, no Neon): the path the `cmsisdsp` Python wrapper runs on x86.

Arithmetic (all values q15_t; "wrap16" is C narrowing to int16, "sat16" is __SSAT(.., 16)):
  * Complex FFT of L = N/2 points, in place, with its own scaling by 1/L:
      - L a power of 4: radix-4 decimation in frequency. First stage reads inputs >> 2, later stages
        halve sums and differences, twiddle products are (c*a + s*b) >> 16 (so halve again).
      - otherwise (radix4by2): one radix-2 stage on halves (inputs >> 1, sums >> 1 again, odd half
        times the twiddle with each product >> 16 and narrowed), two radix-4 transforms of L/2 with
        twiddle stride 2, then every value << 1 (wrap16).
      - outputs are then put in natural order by binary bit reversal (CMSIS's radix-4 butterfly
        stores its second and third outputs swapped, so the order is bit- not digit-reversed).
  * Split step to the real spectrum with tables A, B (q15, 4096 complex entries, stride 8192/N):
      X[k].re = wrap16(wrap32(Zk.re*A0 - Zk.im*A1 + Zl.re*B0 + Zl.im*B1) >> 16),  l = L - k
      X[k].im = wrap16(wrap32(Zl.re*B1 - Zl.im*B0 + Zk.im*A0 + Zk.re*A1) >> 16)
      X[0] = (Z0.re + Z0.im) >> 1,  X[L] = (Z0.re - Z0.im) >> 1, both with imaginary part 0.
Only bins 0..N/2 are produced (the C also writes the mirrored upper half, which MFCC never reads).

Tables are generated here: twiddles are floor(x * 2**15) saturated (that reproduces CMSIS's
twiddleCoef_*_q15 exactly), realCoefA/B are round(x * 2**15) (reproduces realCoefAQ15/BQ15).
"""
import numpy as np
from numba import njit

from ..fixedpoint import ssat, wrap_i16, wrap_i32

RFFT_LENGTHS = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


def twiddle_q15(cfft_len):
    """cos/sin(2*pi*i/L) for i < 3L/4, interleaved, as floor(x * 2**15) saturated to int16."""
    i = np.arange(3 * cfft_len // 4)
    tw = np.empty(2 * len(i), np.float64)
    tw[0::2] = np.cos(2 * np.pi * i / cfft_len)
    tw[1::2] = np.sin(2 * np.pi * i / cfft_len)
    return np.clip(np.floor(tw * 32768.0), -32768, 32767).astype(np.int64)


def real_coefs_q15():
    """The split-step tables A and B (n = 4096 complex entries each), round(x * 2**15)."""
    n = 4096
    th = 2 * np.pi / (2 * n) * np.arange(n)
    a = np.empty(2 * n)
    b = np.empty(2 * n)
    a[0::2], a[1::2] = 0.5 * (1.0 - np.sin(th)), -0.5 * np.cos(th)
    b[0::2], b[1::2] = 0.5 * (1.0 + np.sin(th)), 0.5 * np.cos(th)
    conv = lambda x: np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int64)  # noqa: E731
    return conv(a), conv(b)


def bit_reverse_order(n):
    """perm with natural[k] = scrambled[perm[k]] for the binary bit reversal of log2(n) bits."""
    bits = n.bit_length() - 1
    k = np.arange(n)
    rev = np.zeros(n, np.int64)
    for b in range(bits):
        rev |= ((k >> b) & 1) << (bits - 1 - b)
    return rev


@njit(cache=True)
def _twiddle(coef, idx, re, im):
    """(re, im) times the conjugate twiddle at complex index idx, each product sum >> 16, wrap16."""
    c = coef[2 * idx]
    s = coef[2 * idx + 1]
    return (wrap_i16(wrap_i32(c * re + s * im) >> 16),
            wrap_i16(wrap_i32(-s * re + c * im) >> 16))


@njit(cache=True)
def _butterfly(x, i0, i1, i2, i3, coef, ic, stage):
    """One radix-4 butterfly on complex indices i0..i3. stage 0 = first, 1 = middle, 2 = last."""
    pre = 2 if stage == 0 else 0
    ar, ai = x[2 * i0] >> pre, x[2 * i0 + 1] >> pre
    br, bi = x[2 * i1] >> pre, x[2 * i1 + 1] >> pre
    cr, ci = x[2 * i2] >> pre, x[2 * i2 + 1] >> pre
    dr, di = x[2 * i3] >> pre, x[2 * i3 + 1] >> pre
    r0, r1 = ssat(ar + cr, 16), ssat(ai + ci, 16)
    s0, s1 = ssat(ar - cr, 16), ssat(ai - ci, 16)
    t0, t1 = ssat(br + dr, 16), ssat(bi + di, 16)
    u0, u1 = ssat(br - dr, 16), ssat(bi - di, 16)
    if stage == 0:
        o0r, o0i = (r0 >> 1) + (t0 >> 1), (r1 >> 1) + (t1 >> 1)
        e0, e1 = ssat(r0 - t0, 16), ssat(r1 - t1, 16)             # to i1 (twiddle 2)
        p0, p1 = ssat(s0 + u1, 16), ssat(s1 - u0, 16)             # to i2 (twiddle 1)
        q0, q1 = ssat(s0 - u1, 16), ssat(s1 + u0, 16)             # to i3 (twiddle 3)
    else:
        o0r, o0i = (r0 >> 1) + (t0 >> 1), (r1 >> 1) + (t1 >> 1)
        if stage == 1:
            o0r, o0i = o0r >> 1, o0i >> 1
        e0, e1 = wrap_i16((r0 >> 1) - (t0 >> 1)), wrap_i16((r1 >> 1) - (t1 >> 1))
        p0, p1 = (s0 >> 1) + (u1 >> 1), (s1 >> 1) - (u0 >> 1)
        q0, q1 = (s0 >> 1) - (u1 >> 1), (s1 >> 1) + (u0 >> 1)
    x[2 * i0], x[2 * i0 + 1] = o0r, o0i
    if stage == 2:
        x[2 * i1], x[2 * i1 + 1] = e0, e1
        x[2 * i2], x[2 * i2 + 1] = p0, p1
        x[2 * i3], x[2 * i3 + 1] = q0, q1
    else:
        x[2 * i1], x[2 * i1 + 1] = _twiddle(coef, 2 * ic, e0, e1)
        x[2 * i2], x[2 * i2 + 1] = _twiddle(coef, ic, p0, p1)
        x[2 * i3], x[2 * i3 + 1] = _twiddle(coef, 3 * ic, q0, q1)


@njit(cache=True)
def _radix4(x, n, coef, modifier):
    """arm_radix4_butterfly_q15 on the n complex values of x (a view), twiddle stride `modifier`."""
    n2 = n >> 2
    for i0 in range(n2):                                  # first stage
        _butterfly(x, i0, i0 + n2, i0 + 2 * n2, i0 + 3 * n2, coef, i0 * modifier, 0)
    modifier <<= 2
    k = n >> 2
    while k > 4:                                          # middle stages
        n1 = n2
        n2 >>= 2
        for j in range(n2):
            for i0 in range(j, n, n1):
                _butterfly(x, i0, i0 + n2, i0 + 2 * n2, i0 + 3 * n2, coef, j * modifier, 1)
        modifier <<= 2
        k >>= 2
    n1 = n2                                               # last stage, twiddles all 1
    n2 >>= 2
    for i0 in range(0, n - n1 + 1, n1):
        _butterfly(x, i0, i0 + n2, i0 + 2 * n2, i0 + 3 * n2, coef, 0, 2)


@njit(cache=True)
def _radix4by2(x, n, coef):
    """arm_cfft_radix4by2_q15 (forward, scalar): radix-2 split, two radix-4 halves, << 1."""
    n2 = n >> 1
    for i in range(n2):
        c, s = coef[2 * i], coef[2 * i + 1]
        l = i + n2
        xt = (x[2 * i] >> 1) - (x[2 * l] >> 1)
        yt = (x[2 * i + 1] >> 1) - (x[2 * l + 1] >> 1)
        x[2 * i] = ((x[2 * i] >> 1) + (x[2 * l] >> 1)) >> 1
        x[2 * i + 1] = ((x[2 * l + 1] >> 1) + (x[2 * i + 1] >> 1)) >> 1
        x[2 * l] = wrap_i16(wrap_i16((xt * c) >> 16) + wrap_i16((yt * s) >> 16))
        x[2 * l + 1] = wrap_i16(wrap_i16((yt * c) >> 16) - wrap_i16((xt * s) >> 16))
    _radix4(x[:n], n2, coef, 2)
    _radix4(x[n:], n2, coef, 2)
    for i in range(2 * n):
        x[i] = wrap_i16(x[i] << 1)


@njit(cache=True)
def rfft_q15_frame(frame, twiddle, bitrev, coef_a, coef_b, out):
    """Forward arm_rfft_q15 of one real q15 frame (length N) -> out[0:N+2] = bins 0..N/2 re, im.

    `frame` is int64 and is used as the C's in-place work buffer (it is overwritten).
    """
    nreal = frame.shape[0]
    L = nreal >> 1
    z = frame                                             # L complex values, interleaved
    log2 = 0
    while (1 << log2) < L:
        log2 += 1
    if log2 % 2 == 0:
        _radix4(z, L, twiddle, 1)
    else:
        _radix4by2(z, L, twiddle)
    modifier = 8192 // nreal
    for k in range(1, L):                                 # split step, reading bit-reversed z
        a = bitrev[k]
        b = bitrev[L - k]
        a0, a1 = coef_a[2 * modifier * k], coef_a[2 * modifier * k + 1]
        b0, b1 = coef_b[2 * modifier * k], coef_b[2 * modifier * k + 1]
        s1r, s1i = z[2 * a], z[2 * a + 1]
        s2r, s2i = z[2 * b], z[2 * b + 1]
        out_r = wrap_i32(s1r * a0 - s1i * a1 + s2r * b0 + s2i * b1) >> 16
        out_i = wrap_i32(s2r * b1 - s2i * b0 + s1i * a0 + s1r * a1)
        out[2 * k] = wrap_i16(out_r)
        out[2 * k + 1] = wrap_i16(out_i >> 16)
    out[0] = (z[0] + z[1]) >> 1
    out[1] = 0
    out[2 * L] = (z[0] - z[1]) >> 1
    out[2 * L + 1] = 0
