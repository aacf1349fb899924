"""arm_fully_connected_mat_q7_vec_q15_opt: the §2 weight interleaving and equality with the plain kernel."""
import numpy as np
import pytest

from kernels_ref.arm_fully_connected_mat_q7_vec_q15_opt import interleave_mat_q7_vec_q15_opt as twin_interleave
from qsim.errors import ShapeError
from qsim.kernels import DEINTERLEAVE, INTERLEAVE, KERNELS
from qsim.kernels.arm_fully_connected_mat_q7_vec_q15_opt import (deinterleave_mat_q7_vec_q15_opt,
                                                          interleave_mat_q7_vec_q15_opt)

from ._compare import assert_bit_exact
from ._fc_edges import SPEC, check_edges, check_zero_input_out_shift_31

FN = "arm_fully_connected_mat_q7_vec_q15_opt"
PLAIN = "arm_fully_connected_mat_q7_vec_q15"
SIZES = [(r, n) for r in (1, 3, 4, 5, 8, 11, 14) for n in (1, 2, 3, 4, 5, 7, 8, 22)]


def test_registered():
    assert INTERLEAVE[FN] is interleave_mat_q7_vec_q15_opt and DEINTERLEAVE[FN] is deinterleave_mat_q7_vec_q15_opt


@pytest.mark.parametrize("rows,dim", SIZES)
def test_interleave_matches_twin_and_round_trips(rows, dim):
    mat = np.arange(rows * dim, dtype=np.int32).reshape(rows, dim)
    stored = interleave_mat_q7_vec_q15_opt(mat)
    assert_bit_exact(stored, twin_interleave(mat), f"{rows}x{dim} order")
    assert sorted(stored.tolist()) == list(range(rows * dim))   # a permutation
    assert_bit_exact(deinterleave_mat_q7_vec_q15_opt(stored, rows, dim), mat, f"{rows}x{dim} round trip")


@pytest.mark.parametrize("rows,dim", SIZES)
def test_opt_equals_plain_on_logical_matrix(rows, dim, rng):
    vdt, mdt, bits = SPEC[FN]
    vec = rng.integers(np.iinfo(vdt).min, np.iinfo(vdt).max + 1, size=(3, dim)).astype(vdt)
    mat = rng.integers(np.iinfo(mdt).min, np.iinfo(mdt).max + 1, size=(rows, dim)).astype(mdt)
    bias = rng.integers(np.iinfo(mdt).min, np.iinfo(mdt).max + 1, size=rows).astype(mdt)
    for bias_shift, out_shift in [(0, 0), (4, bits - 1), (0, 31)]:
        want = KERNELS[PLAIN](vec, mat, dim, rows, bias_shift, out_shift, bias)
        got = KERNELS[FN](vec, interleave_mat_q7_vec_q15_opt(mat), dim, rows, bias_shift, out_shift, bias)
        assert_bit_exact(got, want, f"{FN} {rows}x{dim}")


def test_edges(rng):
    check_edges(FN, rng)


def test_release_rounding_at_out_shift_31():
    check_zero_input_out_shift_31(FN)


def test_interleave_errors():
    with pytest.raises(ShapeError):
        interleave_mat_q7_vec_q15_opt(np.zeros(12, np.int8))
    with pytest.raises(ShapeError):
        deinterleave_mat_q7_vec_q15_opt(np.zeros(11, np.int8), 3, 4)


def test_layout_mat_q7_vec_q15_4x3():
    # doc §2.3: rows of a pair alternate first, then the columns
    assert interleave_mat_q7_vec_q15_opt(np.arange(12).reshape(4, 3)).tolist() == \
        [0, 3, 1, 4, 6, 9, 7, 10, 2, 5, 8, 11]
