"""Fixed-point formats and the audited integer primitives every kernel uses.

This is the only place rounding, shifting, wrapping and saturation rules live (semantics doc §0).
numba widens integer arithmetic to int64, so wrap-around and saturation happen only where these
functions are called. Never compile anything here with fastmath.
"""
from dataclasses import dataclass

import numpy as np
from numba import njit

from .releases import release


@dataclass(frozen=True)
class QFormat:
    """A power-of-two fixed-point format: real value = integer / 2**frac_bits.

    `bits` is 8 (q7_t) or 16 (q15_t). frac_bits may be negative or exceed bits-1 (then the format
    covers a range larger than or smaller than [-1, 1)).
    """

    bits: int
    frac_bits: int

    def __post_init__(self):
        if self.bits not in (8, 16, 32):
            raise ValueError(f"QFormat bits must be 8, 16 or 32, got {self.bits}")

    @property
    def dtype(self):
        return {8: np.int8, 16: np.int16, 32: np.int32}[self.bits]

    @property
    def qmin(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def qmax(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def step(self) -> float:
        return 2.0 ** -self.frac_bits

    @property
    def min(self) -> float:
        return self.qmin * self.step

    @property
    def max(self) -> float:
        return self.qmax * self.step

    def __str__(self) -> str:
        return f"Q{self.bits - 1 - self.frac_bits}.{self.frac_bits}({self.bits}b)"

    def quantize(self, x, *, rounding="nearest"):
        """Float array -> integers of this format, rounding half away from zero, saturating."""
        scaled = np.asarray(x, np.float64) * 2.0 ** self.frac_bits
        q = np.floor(scaled + 0.5) if rounding == "nearest" else np.floor(scaled)
        return np.clip(q, self.qmin, self.qmax).astype(self.dtype)

    def dequantize(self, q):
        return np.asarray(q, np.float64) * self.step

    def to_dict(self) -> dict:
        return {"bits": self.bits, "frac_bits": self.frac_bits}

    @classmethod
    def from_dict(cls, d) -> "QFormat":
        return cls(int(d["bits"]), int(d["frac_bits"]))


Q7 = 8
Q15 = 16


@njit("i8(i8)", cache=True, nogil=True)
def wrap_i32(v):
    """Reduce v modulo 2**32 into [-2**31, 2**31): C int32 arithmetic with -fwrapv."""
    return ((v + 2147483648) & 0xFFFFFFFF) - 2147483648


@njit("i8(i8)", cache=True, nogil=True)
def wrap_i16(v):
    """C narrowing to int16_t: keep the low 16 bits, reinterpret as signed."""
    return ((v + 32768) & 0xFFFF) - 32768


@njit("i8(i8)", cache=True, nogil=True)
def wrap_i8(v):
    """C narrowing to int8_t (signed char)."""
    return ((v + 128) & 0xFF) - 128


@njit("i8(i8, i8)", cache=True, nogil=True)
def ssat(v, bits):
    """__SSAT(v, bits): clamp to [-2**(bits-1), 2**(bits-1) - 1]."""
    hi = (1 << (bits - 1)) - 1
    lo = -(1 << (bits - 1))
    if v > hi:
        return hi
    if v < lo:
        return lo
    return v


@njit("i8(i8, i8)", cache=True, nogil=True)
def usat(v, bits):
    """__USAT(v, bits): clamp to [0, 2**bits - 1]."""
    hi = (1 << bits) - 1
    if v > hi:
        return hi
    if v < 0:
        return 0
    return v


@njit("i8(i8, i8)", cache=True, nogil=True)
def asr(v, shift):
    """Arithmetic shift right of a (wrapped) int32 value: floor(v / 2**shift), shift 0..31."""
    return v >> shift


@njit("i8(i8, i8)", cache=True, nogil=True)
def tdiv(a, b):
    """C integer division: truncates toward zero (Python's // floors)."""
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        return -q
    return q


@njit("i8(i8, i8)", cache=True, nogil=True)
def bias_init(bias, bias_shift):
    """int32(bias) << bias_shift with int32 wrap-around (gcc behaviour)."""
    return wrap_i32(bias << bias_shift)


def round_constant(out_shift, truncate, rel):
    """NN_ROUND(out_shift) as release `rel` (a qsim.releases.Release or its tag) computes it;
    plain Python, call once per layer.

    Unsigned NN_ROUND (5.7.0): (1u << s) >> 1 = 2**(s-1). Signed (Release.nn_round_signed, 5.9.0):
    (1 << s) >> 1, which at s = 31 is INT_MIN >> 1 = -2**30 with gcc and on Cortex-M (measured on
    the 5.9.0 sources). Both are 0 at s = 0 and under -DARM_NN_TRUNCATE.
    """
    if truncate or out_shift == 0:
        return 0
    if release(rel).nn_round_signed and out_shift == 31:
        return -(1 << 30)
    return 1 << (out_shift - 1)
