"""Case generators for arm_softmax_q7, arm_softmax_with_batch_q7 and arm_softmax_q15 (doc §4).

The q7 vectors often spread over more than 123 so the 5.7.0 DSP blocks wrap (§4.2); others sit
within 8 of their maximum so many terms count, or are constant, or all -128.
"""
import numpy as np

from ._util import ints


def _vectors(rng, shape, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    dtype = np.int8 if bits == 8 else np.int16
    mode = rng.choice(["wide", "wide", "extreme", "near_max", "near_max", "constant"])
    if mode == "wide":
        return ints(rng, shape, bits, "uniform")
    if mode == "extreme":
        return ints(rng, shape, bits, "extreme")
    if mode == "constant":
        return np.full(shape, rng.choice([lo, hi, 0, int(rng.integers(lo, hi + 1))]), dtype)
    top = int(rng.integers(lo, hi + 1))
    x = top - rng.integers(0, 20, size=shape)
    far = rng.random(shape) < 0.2                 # a few far-below outliers
    x = np.where(far, rng.integers(lo, hi + 1, size=shape), x)
    return np.clip(x, lo, hi).astype(dtype)


def _dim(rng):
    return int(rng.choice([1, 2, 3, 4, 5, 7, 8, 10, 16, int(rng.integers(1, 70)),
                           int(rng.integers(100, 600))]))


def softmax_q7(rng, path, version):
    dim = _dim(rng)
    return _vectors(rng, (int(rng.integers(1, 4)), dim), 8), dim


def softmax_with_batch_q7(rng, path, version):
    dim, nb = _dim(rng), int(rng.integers(1, 5))
    return _vectors(rng, (int(rng.integers(1, 3)), nb, dim), 8), nb, dim


def softmax_q15(rng, path, version):
    dim = _dim(rng)
    return _vectors(rng, (int(rng.integers(1, 4)), dim), 16), dim


CASES = {"arm_softmax_q7": softmax_q7, "arm_softmax_with_batch_q7": softmax_with_batch_q7,
         "arm_softmax_q15": softmax_q15}
