"""arm_fully_connected_q7_opt: the §2 weight interleaving and equality with the plain kernel."""
import numpy as np
import pytest

from kernels_ref.arm_fully_connected_q7_opt import interleave_q7_opt as twin_interleave
from qsim.errors import ShapeError
from qsim.kernels import DEINTERLEAVE, INTERLEAVE, KERNELS
from qsim.kernels.arm_fully_connected_q7_opt import deinterleave_q7_opt, interleave_q7_opt

from ._compare import assert_bit_exact
from ._fc_edges import SPEC, check_edges, check_zero_input_out_shift_31

FN = "arm_fully_connected_q7_opt"
PLAIN = "arm_fully_connected_q7"
SIZES = [(r, n) for r in (1, 3, 4, 5, 8, 11, 14) for n in (1, 2, 3, 4, 5, 7, 8, 22)]


def test_registered():
    assert INTERLEAVE[FN] is interleave_q7_opt and DEINTERLEAVE[FN] is deinterleave_q7_opt


@pytest.mark.parametrize("rows,dim", SIZES)
def test_interleave_matches_twin_and_round_trips(rows, dim):
    mat = np.arange(rows * dim, dtype=np.int32).reshape(rows, dim)
    stored = interleave_q7_opt(mat)
    assert_bit_exact(stored, twin_interleave(mat), f"{rows}x{dim} order")
    assert sorted(stored.tolist()) == list(range(rows * dim))   # a permutation
    assert_bit_exact(deinterleave_q7_opt(stored, rows, dim), mat, f"{rows}x{dim} round trip")


@pytest.mark.parametrize("rows,dim", SIZES)
def test_opt_equals_plain_on_logical_matrix(rows, dim, rng):
    vdt, mdt, bits = SPEC[FN]
    vec = rng.integers(np.iinfo(vdt).min, np.iinfo(vdt).max + 1, size=(3, dim)).astype(vdt)
    mat = rng.integers(np.iinfo(mdt).min, np.iinfo(mdt).max + 1, size=(rows, dim)).astype(mdt)
    bias = rng.integers(np.iinfo(mdt).min, np.iinfo(mdt).max + 1, size=rows).astype(mdt)
    for bias_shift, out_shift in [(0, 0), (4, bits - 1), (0, 31)]:
        want = KERNELS[PLAIN](vec, mat, dim, rows, bias_shift, out_shift, bias)
        got = KERNELS[FN](vec, interleave_q7_opt(mat), dim, rows, bias_shift, out_shift, bias)
        assert_bit_exact(got, want, f"{FN} {rows}x{dim}")


def test_edges(rng):
    check_edges(FN, rng)


def test_release_rounding_at_out_shift_31():
    check_zero_input_out_shift_31(FN)


def test_interleave_errors():
    with pytest.raises(ShapeError):
        interleave_q7_opt(np.zeros(12, np.int8))
    with pytest.raises(ShapeError):
        deinterleave_q7_opt(np.zeros(11, np.int8), 3, 4)


def test_layout_q7_5x6():
    # doc §2.1 written out for 5 rows x 6 columns, values = flat row-major index
    want = [0, 6, 2, 8, 12, 18, 14, 20, 1, 7, 3, 9, 13, 19, 15, 21,
            4, 10, 16, 22, 5, 11, 17, 23, 24, 25, 26, 27, 28, 29]
    assert interleave_q7_opt(np.arange(30).reshape(5, 6)).tolist() == want
