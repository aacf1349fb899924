"""Small random-value helpers for the case generators."""
import numpy as np


def ints(rng, shape, bits, mode=None):
    """Random int8/int16 array. mode: None (uniform), 'extreme' (mostly min/max), 'small'."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    dtype = np.int8 if bits == 8 else np.int16
    mode = mode or rng.choice(["uniform", "uniform", "extreme", "small"])
    if mode == "extreme":
        return rng.choice(np.array([lo, hi, lo + 1, hi - 1, 0, -1, 1], dtype), size=shape)
    if mode == "small":
        return rng.integers(-4, 5, size=shape).astype(dtype)
    return rng.integers(lo, hi + 1, size=shape).astype(dtype)


def shifts(rng, bits, taps):
    """A (bias_shift, out_shift) pair; biased toward realistic values, with 0 and large ones mixed in."""
    out_shift = int(rng.choice([0, 0, 1, int(rng.integers(0, 32)), int(rng.integers(2, 12)),
                                int(rng.integers(bits - 1, bits + 9))]))
    bias_shift = int(rng.choice([0, int(rng.integers(0, 32)), int(rng.integers(0, 10))]))
    return bias_shift, min(out_shift, 31)
