"""arm_nn_mult_q7: the 5.7.0 unsigned-rounding bug, the 5.9.0 fix, out_shift 0 and 31, truncate."""
import pytest

from qsim.errors import KernelArgumentError
from qsim.kernels import KERNELS

from ._mult_edges import check_all_shifts_against_formula, mult

FN = "arm_nn_mult_q7"


def test_570_negative_product_saturates_high():
    # -3 * 1 + NN_ROUND(1) = -2 as unsigned, logical >> 1 = 2**31 - 1 -> +127
    assert mult(FN, [-3, 3], [1, 1], 1, release="5.7.0") == [127, 2]
    assert mult(FN, [-3, 3], [1, 1], 1, release="5.9.0") == [-1, 2]
    assert mult(FN, [-3], [1], 1, release="5.7.0", path="dsp") == [127]


def test_out_shift_0_is_correct_in_every_release():
    for version in ("5.7.0", "5.9.0"):
        assert mult(FN, [-3, -1, 0], [5, 1, 7], 0, release=version) == [-15, -1, 0]


def test_every_shift_against_formula(rng):
    check_all_shifts_against_formula(FN, 8, rng)


def test_bad_out_shift():
    with pytest.raises(KernelArgumentError):
        KERNELS[FN]([[1]], [[1]], 32, 1, path="ref", release="5.7.0")
