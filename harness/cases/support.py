"""Case generators for the NNSupportFunctions helpers (semantics doc §7).

mult: negative products with out_shift >= 1 (5.7.0's unsigned-rounding bug), out_shift 0 and 31;
accumulate: block sizes with and without a %4 tail and extreme dst values (saturating vs wrapping).
"""
from ._util import ints


def _batch(rng):
    return int(rng.integers(1, 4))


def _mult(bits):
    def gen(rng, path, version):
        size = int(rng.integers(1, 40))
        n = _batch(rng)
        out_shift = int(rng.choice([0, 1, bits - 1, int(rng.integers(0, 32)), 31]))
        return ints(rng, (n, size), bits), ints(rng, (n, size), bits), out_shift, size
    return gen


def add_q7(rng, path, version):
    size = int(rng.integers(0, 100))
    return ints(rng, (_batch(rng), size), 8), size


def accumulate(rng, path, version):
    size = int(rng.integers(1, 24))
    n = _batch(rng)
    return ints(rng, (n, size), 16, "extreme"), ints(rng, (n, size), 8), size


def q7_to_q15(rng, path, version):
    size = int(rng.integers(1, 40))
    return ints(rng, (_batch(rng), size), 8), size


CASES = {
    "arm_nn_mult_q7": _mult(8),
    "arm_nn_mult_q15": _mult(16),
    "arm_nn_add_q7": add_q7,
    "arm_nn_accumulate_q7_to_q15": accumulate,
    "arm_q7_to_q15_no_shift": q7_to_q15,
}
