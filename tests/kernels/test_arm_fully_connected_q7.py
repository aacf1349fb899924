"""arm_fully_connected_q7: edges (out_shift 0/31, int32 wrap, saturation, truncate) and errors."""
import numpy as np
import pytest

from qsim.errors import KernelArgumentError, ShapeError
from qsim.kernels import KERNELS
from qsim.kernels._fc import exact_dot

from ._fc_edges import SPEC, call, check_edges, check_zero_input_out_shift_31

FN = "arm_fully_connected_q7"


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


def test_bias_shift_wraps_int32():
    # 1 << 31 wraps to -2**31; 64 << 26 = 2**32 wraps to 0
    assert call(FN, [[0]], [[0]], [1], 31, 24)[0, 0] == -128
    assert call(FN, [[1]], [[5]], [64], 26, 0)[0, 0] == 5


def test_big_batch_matches_row_loop(rng):
    vec = rng.integers(-128, 128, size=(64, 1920)).astype(np.int8)
    mat = rng.integers(-128, 128, size=(58, 1920)).astype(np.int8)
    bias = rng.integers(-128, 128, size=58).astype(np.int8)
    got = KERNELS[FN](vec, mat, 1920, 58, 3, 9, bias)
    acc = vec.astype(np.int64) @ mat.astype(np.int64).T + (bias.astype(np.int64) << 3) + 256
    assert np.array_equal(got, np.clip(acc >> 9, -128, 127))


def test_float32_chunks_stay_exact_at_full_scale():
    # every product is 2**14: a 1024-column chunk sums to exactly 2**24; 2100 columns cross chunks
    vec = np.full((2, 2100), -128, np.int8)
    mat = np.full((3, 2100), -128, np.int8)
    got = KERNELS[FN](vec, mat, 2100, 3, 0, 20, np.zeros(3, np.int8))
    assert got.tolist() == [[(2100 * 2**14 + 2**19) >> 20] * 3] * 2
    vec[1, 7] = 127   # one product becomes -16256: the raw sums must see it exactly
    acc = exact_dot(vec, mat)
    assert acc[0, 0] == 2100 * 2**14 and acc[1, 0] == 2099 * 2**14 - 127 * 128
