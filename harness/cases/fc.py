"""Case generators for the six fully connected functions (semantics doc §2).

Sizes cover rows < 4 and dim_vec < 4 (the `_opt` tails), shifts include out_shift 0 and 31, and
extreme values make q15 sums and large bias shifts wrap int32. An `_opt` case passes a random flat
pM: any array is a valid interleaved matrix.
"""
from ._util import ints, shifts


def _dims(rng):
    dim_vec = int(rng.choice([rng.integers(1, 9), rng.integers(1, 70), rng.integers(60, 200)]))
    rows = int(rng.choice([rng.integers(1, 6), rng.integers(1, 20)]))
    return dim_vec, rows


def _fc(vec_bits, mat_bits, out_bits):
    def gen(rng, path, version):
        dim_vec, rows = _dims(rng)
        bias_shift, out_shift = shifts(rng, out_bits, dim_vec)
        if rng.random() < 0.1:
            out_shift = 31
        mode = "extreme" if rng.random() < 0.3 else None
        return (ints(rng, (int(rng.integers(1, 4)), dim_vec), vec_bits, mode),
                ints(rng, (rows * dim_vec,), mat_bits, mode).reshape(rows, dim_vec),
                dim_vec, rows, bias_shift, out_shift, ints(rng, (rows,), mat_bits))
    return gen


def _opt(plain):
    def gen(rng, path, version):
        args = plain(rng, path, version)
        return (args[0], args[1].reshape(-1)) + args[2:]
    return gen


CASES = {
    "arm_fully_connected_q7": _fc(8, 8, 8),
    "arm_fully_connected_q7_opt": _opt(_fc(8, 8, 8)),
    "arm_fully_connected_q15": _fc(16, 16, 16),
    "arm_fully_connected_q15_opt": _opt(_fc(16, 16, 16)),
    "arm_fully_connected_mat_q7_vec_q15": _fc(16, 8, 16),
    "arm_fully_connected_mat_q7_vec_q15_opt": _opt(_fc(16, 8, 16)),
}
