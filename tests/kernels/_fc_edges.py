"""What the six fully connected test files share: hand-computed edge cases and the test bodies.

Each kernel keeps its own test file: it sets FN and imports the `fn` fixture with the shared
test_* functions it runs; pytest collects them there, under that file's node ids, so the conftest
`rng` seeds (and so the cases) are the file's own.
"""
import importlib

import numpy as np
import pytest

from kernels_ref import KERNELS_REF
from qsim.errors import KernelArgumentError, ShapeError
from qsim.kernels import DEINTERLEAVE, INTERLEAVE, KERNELS

from ._compare import assert_bit_exact

SPEC = {  # c_name -> (vec dtype, mat dtype, out bits)
    "arm_fully_connected_q7": (np.int8, np.int8, 8),
    "arm_fully_connected_q7_opt": (np.int8, np.int8, 8),
    "arm_fully_connected_q15": (np.int16, np.int16, 16),
    "arm_fully_connected_q15_opt": (np.int16, np.int16, 16),
    "arm_fully_connected_mat_q7_vec_q15": (np.int16, np.int8, 16),
    "arm_fully_connected_mat_q7_vec_q15_opt": (np.int16, np.int8, 16),
}


def call(fn, vec, mat, bias, bias_shift, out_shift, path="ref", release="5.7.0", **kw):
    """Call both implementations with a logical matrix (interleaved for _opt); check they agree."""
    kw.update(path=path, release=release)
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
                got = call(fn, vec, mat, bias, bias_shift, out_shift, release=version)
                assert_bit_exact(got, want, f"{fn} {rows}x{dim} shifts ({bias_shift},{out_shift}) {version}")
            want = reference(vec, mat, bias, bias_shift, out_shift, bits, 0)
            assert_bit_exact(call(fn, vec, mat, bias, bias_shift, out_shift, truncate=True), want,
                             f"{fn} truncate")


def check_zero_input_out_shift_31(fn):
    """5.9.0's signed NN_ROUND(31) = -2**30 turns an all-zero layer into -1 (measured on real C)."""
    vdt, mdt, _ = SPEC[fn]
    vec, mat, bias = np.zeros((1, 2), vdt), np.zeros((1, 2), mdt), np.zeros(1, mdt)
    assert call(fn, vec, mat, bias, 0, 31, release="5.7.0")[0, 0] == 0
    assert call(fn, vec, mat, bias, 0, 31, release="5.9.0")[0, 0] == -1


# Shared tests. All six kernels: test_edges, test_release_rounding_at_out_shift_31; the plain ones
# also test_rounds_half_up_and_floors_negative, test_bad_arguments; the _opt ones also the three
# tests after SIZES.

@pytest.fixture
def fn(request):
    """The C name under test: FN of the test file that imported these tests."""
    return request.module.FN


def test_edges(fn, rng):
    check_edges(fn, rng)


def test_release_rounding_at_out_shift_31(fn):
    check_zero_input_out_shift_31(fn)


def test_rounds_half_up_and_floors_negative(fn):
    # 3 >> 1 with NN_ROUND(1) = 1 -> 2; -3 -> (-3 + 1) >> 1 = -1
    got = call(fn, [[3], [-3]], [[1]], [0], 0, 1)
    assert got[:, 0].tolist() == [2, -1]


def test_bad_arguments(fn):
    vdt, mdt, _ = SPEC[fn]
    vec, mat, bias = np.zeros((2, 4), vdt), np.zeros((3, 4), mdt), np.zeros(3, mdt)
    with pytest.raises(ShapeError):
        KERNELS[fn](vec, mat, 4, 2, 0, 0, bias, path="ref", release="5.7.0")
    with pytest.raises(KernelArgumentError):
        KERNELS[fn](vec, mat, 4, 3, 0, 32, bias, path="ref", release="5.7.0")
    with pytest.raises(KernelArgumentError):
        KERNELS[fn](vec.astype(np.float32), mat, 4, 3, 0, 0, bias, path="ref", release="5.7.0")


# The _opt kernels: the §2 weight interleaving and equality with the plain kernel.
SIZES = [(r, n) for r in (1, 3, 4, 5, 8, 11, 14) for n in (1, 2, 3, 4, 5, 7, 8, 22)]


def twin_interleave(fn):
    """kernels_ref's interleave function for an _opt kernel (e.g. interleave_q7_opt)."""
    name = "interleave_" + fn.removeprefix("arm_fully_connected_")
    return getattr(importlib.import_module(f"kernels_ref.{fn}"), name)


@pytest.mark.parametrize("rows,dim", SIZES)
def test_interleave_matches_twin_and_round_trips(fn, rows, dim):
    mat = np.arange(rows * dim, dtype=np.int32).reshape(rows, dim)
    stored = INTERLEAVE[fn](mat)
    assert_bit_exact(stored, twin_interleave(fn)(mat), f"{rows}x{dim} order")
    assert sorted(stored.tolist()) == list(range(rows * dim))   # a permutation
    assert_bit_exact(DEINTERLEAVE[fn](stored, rows, dim), mat, f"{rows}x{dim} round trip")


@pytest.mark.parametrize("rows,dim", SIZES)
def test_opt_equals_plain_on_logical_matrix(fn, rows, dim, rng):
    plain = fn.removesuffix("_opt")
    vdt, mdt, bits = SPEC[fn]
    vec = rng.integers(np.iinfo(vdt).min, np.iinfo(vdt).max + 1, size=(3, dim)).astype(vdt)
    mat = rng.integers(np.iinfo(mdt).min, np.iinfo(mdt).max + 1, size=(rows, dim)).astype(mdt)
    bias = rng.integers(np.iinfo(mdt).min, np.iinfo(mdt).max + 1, size=rows).astype(mdt)
    for bias_shift, out_shift in [(0, 0), (4, bits - 1), (0, 31)]:
        want = KERNELS[plain](vec, mat, dim, rows, bias_shift, out_shift, bias, path="ref",
                              release="5.7.0")
        got = KERNELS[fn](vec, INTERLEAVE[fn](mat), dim, rows, bias_shift, out_shift, bias,
                          path="ref", release="5.7.0")
        assert_bit_exact(got, want, f"{fn} {rows}x{dim}")


def test_interleave_errors(fn):
    with pytest.raises(ShapeError):
        INTERLEAVE[fn](np.zeros(12, np.int8))
    with pytest.raises(ShapeError):
        DEINTERLEAVE[fn](np.zeros(11, np.int8), 3, 4)
