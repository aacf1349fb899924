"""Straight-through estimators: each returns its forward value and the mask of its gradient.

QAT rounds and saturates in the forward pass exactly as the C does, and in the backward pass treats
rounding as the identity (Bengio et al. 2013; Brevitas's ``round_ste``) and saturation as a clamp
whose gradient is 1 inside the representable range and 0 where the value was clipped. Every function
returns ``(value, mask)``; the gradient of the input is ``grad_value * mask`` (mask None = 1).

The requantization of a conv / fc accumulator (semantics doc §0.4) is `requantize_ste`, a numba
loop over the whole batch that uses the audited primitives of qsim.fixedpoint.
"""
import numpy as np
from numba import njit

from ..fixedpoint import asr, round_constant, ssat, wrap_i32


def round_ste(x):
    """Round to the nearest integer, halves up: floor(x + 0.5) (QFormat.quantize's rule).

    Gradient: passed unchanged (d round(x) / dx := 1). Returns (rounded floats, None).
    """
    return np.floor(np.asarray(x, np.float64) + 0.5), None


def ssat_ste(v, bits):
    """__SSAT(v, bits): clamp v to [-2**(bits-1), 2**(bits-1) - 1].

    Gradient: 1 where v lies inside that range (bounds included), 0 where it was clipped.
    Returns (clamped values, bool mask).
    """
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    v = np.asarray(v)
    return np.clip(v, lo, hi), (v >= lo) & (v <= hi)


def quantize_ste(x, qformat):
    """Float array -> integers of `qformat` (round, then saturate), as QFormat.quantize.

    Gradient (with respect to x, of the dequantized value ints * 2**-frac_bits): 1 where the
    rounded value lies inside [qmin, qmax] (x within half a step of [qformat.min, qformat.max]:
    rounding passes it), 0 where saturation clipped it.
    Returns (integer array of qformat.dtype, bool mask).
    """
    r, _ = round_ste(np.asarray(x, np.float64) * 2.0 ** qformat.frac_bits)
    ints, mask = ssat_ste(r, qformat.bits)
    return ints.astype(qformat.dtype), mask


def fake_quant_ste(x, qformat, dtype=np.float32):
    """quantize_ste followed by dequantization: the grid value the C sees, as floats of `dtype`.

    Gradient: as quantize_ste (1 unless saturation clipped the value, then 0).
    Returns (dequantized array, bool mask). Exact in float32 for 8- and 16-bit formats.
    """
    ints, mask = quantize_ste(x, qformat)
    return (ints * 2.0 ** -qformat.frac_bits).astype(dtype), mask


def accumulator_init(bias_ints, bias_shift, out_shift, truncate, release):
    """init[o] = wrap32((int32(bias[o]) << bias_shift) + NN_ROUND(out_shift)) (doc §0.3, §0.4)."""
    rnd = round_constant(out_shift, truncate, release)
    # fixedpoint's wrap_i32(bias_init(b, bias_shift) + rnd) on the int64 array at once (every
    # term fits: |b| < 2**15, bias_shift < 32, |rnd| <= 2**30)
    v = np.asarray(bias_ints, np.int64) << np.int64(bias_shift)
    v = ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    return ((v + rnd + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


# Serial on purpose: one pass of a few adds and shifts per element is memory-bound, and a parallel
# region would hand the 2 cores between numba's and OpenBLAS's threads on every layer (measured:
# 10-40 ms per call on a loaded machine, against < 2 ms serial for the KWS conv2 output).
@njit(cache=True)
def _requantize(acc, init, scale, out_shift, bits, step, out, mask):
    rows, co = acc.shape
    for i in range(rows):
        for o in range(co):
            v = asr(wrap_i32(init[o] + np.int64(acc[i, o] * scale)), out_shift)
            s = ssat(v, bits)
            out[i, o] = s * step
            mask[i, o] = v == s


def requantize_ste(acc, init, acc_frac_bits, out_shift, out_q, dtype=np.float32):
    """The §0.4 output of a conv / fc from its dequantized accumulator, with the saturation mask.

    acc holds sum_k x_k * w_k at the dequantized points (input frac_bits + weight frac_bits =
    `acc_frac_bits`), computed exactly (every partial sum an integer multiple of 2**-acc_frac_bits
    representable in the float type: see qsim.qat.layers); the bias enters through `init`
    (accumulator_init). Forward, per output element:
        v = asr(wrap32(init[o] + acc * 2**acc_frac_bits), out_shift)
        out = ssat(v, out_q.bits) * out_q.step
    Gradient: the rounding of the shift passes it (d out / d (acc + bias) := 1); saturation passes
    it only where the shifted value was inside the output range (mask True). The int32 wrap is not
    differentiated (quantize keeps calibrated accumulators one bit below it).

    Returns (out as `dtype`, bool mask), both shaped like acc.
    """
    shape = acc.shape
    a2 = np.ascontiguousarray(acc).reshape(-1, len(init))
    out = np.empty(a2.shape, dtype)
    mask = np.empty(a2.shape, np.bool_)
    _requantize(a2, init, 2.0 ** acc_frac_bits, out_shift, out_q.bits, out_q.step, out, mask)
    return out.reshape(shape), mask.reshape(shape)
