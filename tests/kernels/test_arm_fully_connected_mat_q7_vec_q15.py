"""arm_fully_connected_mat_q7_vec_q15: edges (out_shift 0/31, int32 wrap, saturation, truncate) and errors."""
import numpy as np
import pytest

from qsim.errors import KernelArgumentError, ShapeError
from qsim.kernels import KERNELS

from ._fc_edges import SPEC, call, check_edges, check_zero_input_out_shift_31

FN = "arm_fully_connected_mat_q7_vec_q15"


def test_edges(rng):
    check_edges(FN, rng)


def test_release_rounding_at_out_shift_31():
    check_zero_input_out_shift_31(FN)


def test_rounds_half_up_and_floors_negative():
    # 3 >> 1 with NN_ROUND(1) = 1 -> 2; -3 -> (-3 + 1) >> 1 = -1
    got = call(FN, [[3], [-3]], [[1]], [0], 0, 1)
    assert got[:, 0].tolist() == [2, -1]


def test_bad_arguments():
    vdt, mdt, _ = SPEC[FN]
    vec, mat, bias = np.zeros((2, 4), vdt), np.zeros((3, 4), mdt), np.zeros(3, mdt)
    with pytest.raises(ShapeError):
        KERNELS[FN](vec, mat, 4, 2, 0, 0, bias)
    with pytest.raises(KernelArgumentError):
        KERNELS[FN](vec, mat, 4, 3, 0, 32, bias)
    with pytest.raises(KernelArgumentError):
        KERNELS[FN](vec.astype(np.float32), mat, 4, 3, 0, 0, bias)
