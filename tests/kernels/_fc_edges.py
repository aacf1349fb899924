"""Edge cases shared by the six fully connected test files: hand-computed expectations."""
import numpy as np

from kernels_ref import KERNELS_REF
from qsim.kernels import INTERLEAVE, KERNELS

from ._compare import assert_bit_exact

SPEC = {  # c_name -> (vec dtype, mat dtype, out bits)
    "arm_fully_connected_q7": (np.int8, np.int8, 8),
    "arm_fully_connected_q7_opt": (np.int8, np.int8, 8),
    "arm_fully_connected_q15": (np.int16, np.int16, 16),
    "arm_fully_connected_q15_opt": (np.int16, np.int16, 16),
    "arm_fully_connected_mat_q7_vec_q15": (np.int16, np.int8, 16),
    "arm_fully_connected_mat_q7_vec_q15_opt": (np.int16, np.int8, 16),
}


def call(fn, vec, mat, bias, bias_shift, out_shift, **kw):
    """Call both implementations with a logical matrix (interleaved for _opt); check they agree."""
    vdt, mdt, _ = SPEC[fn]
    vec, mat, bias = np.asarray(vec, vdt), np.asarray(mat, mdt), np.asarray(bias, mdt)
    pm = INTERLEAVE[fn](mat) if fn in INTERLEAVE else mat
    args = (vec, pm, mat.shape[1], mat.shape[0], bias_shift, out_shift, bias)
    got = KERNELS[fn](*args, **kw)
    assert_bit_exact(got, KERNELS_REF[fn](*args, **kw), f"{fn} twin")
    return got


def reference(vec, mat, bias, bias_shift, out_shift, bits, rnd):
    """Big-int formula of doc §0.4 with an explicit rounding constant."""
    out = np.empty((vec.shape[0], mat.shape[0]), np.int64)
    for n in range(vec.shape[0]):
        for i in range(mat.shape[0]):
            acc = (int(bias[i]) << bias_shift) + rnd + sum(int(a) * int(b) for a, b in zip(vec[n], mat[i]))
            acc = (acc + 2**31) % 2**32 - 2**31
            out[n, i] = max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, acc >> out_shift))
    return out


def check_edges(fn, rng):
    vdt, mdt, bits = SPEC[fn]
    vlo, vhi = np.iinfo(vdt).min, np.iinfo(vdt).max
    mlo, mhi = np.iinfo(mdt).min, np.iinfo(mdt).max
    for rows, dim in [(1, 1), (3, 3), (4, 4), (5, 7), (9, 13), (8, 1)]:
        vec = rng.choice([vlo, vhi, 0, -1], size=(3, dim)).astype(vdt)
        mat = rng.choice([mlo, mhi, 0, 1], size=(rows, dim)).astype(mdt)
        bias = rng.integers(mlo, mhi + 1, size=rows).astype(mdt)
        for bias_shift, out_shift in [(0, 0), (0, 1), (31, 0), (30, 7), (9, 31), (1, 15)]:
            for version in ("5.7.0", "5.9.0"):
                rnd = 0 if out_shift == 0 else 1 << (out_shift - 1)
                if version == "5.9.0" and out_shift == 31:
                    rnd = -(1 << 30)  # signed (1 << 31) >> 1
                want = reference(vec, mat, bias, bias_shift, out_shift, bits, rnd)
                got = call(fn, vec, mat, bias, bias_shift, out_shift, version=version)
                assert_bit_exact(got, want, f"{fn} {rows}x{dim} shifts ({bias_shift},{out_shift}) {version}")
            want = reference(vec, mat, bias, bias_shift, out_shift, bits, 0)
            assert_bit_exact(call(fn, vec, mat, bias, bias_shift, out_shift, truncate=True), want,
                             f"{fn} truncate")


def check_zero_input_out_shift_31(fn):
    """5.9.0's signed NN_ROUND(31) = -2**30 turns an all-zero layer into -1 (measured on real C)."""
    vdt, mdt, _ = SPEC[fn]
    vec, mat, bias = np.zeros((1, 2), vdt), np.zeros((1, 2), mdt), np.zeros(1, mdt)
    assert call(fn, vec, mat, bias, 0, 31, version="5.7.0")[0, 0] == 0
    assert call(fn, vec, mat, bias, 0, 31, version="5.9.0")[0, 0] == -1
