"""arm_fully_connected_q7: edges (out_shift 0/31, int32 wrap, saturation, truncate) and errors,
shared with the other fully connected kernels in _fc_edges; here: int32 wrap of the bias shift,
big batches, float32 chunking.
"""
import numpy as np

from qsim.kernels import KERNELS
from qsim.kernels._fc import exact_dot

# the shared tests and their `fn` fixture (FN below), collected as this file's own
from ._fc_edges import (call, fn, test_bad_arguments, test_edges,  # noqa: F401
                        test_release_rounding_at_out_shift_31, test_rounds_half_up_and_floors_negative)

FN = "arm_fully_connected_q7"


def test_bias_shift_wraps_int32():
    # 1 << 31 wraps to -2**31; 64 << 26 = 2**32 wraps to 0
    assert call(FN, [[0]], [[0]], [1], 31, 24)[0, 0] == -128
    assert call(FN, [[1]], [[5]], [64], 26, 0)[0, 0] == 5


def test_big_batch_matches_row_loop(rng):
    vec = rng.integers(-128, 128, size=(64, 1920)).astype(np.int8)
    mat = rng.integers(-128, 128, size=(58, 1920)).astype(np.int8)
    bias = rng.integers(-128, 128, size=58).astype(np.int8)
    got = KERNELS[FN](vec, mat, 1920, 58, 3, 9, bias, path="ref", release="5.7.0")
    acc = vec.astype(np.int64) @ mat.astype(np.int64).T + (bias.astype(np.int64) << 3) + 256
    assert np.array_equal(got, np.clip(acc >> 9, -128, 127))


def test_float32_chunks_stay_exact_at_full_scale():
    # every product is 2**14: a 1024-column chunk sums to exactly 2**24; 2100 columns cross chunks
    vec = np.full((2, 2100), -128, np.int8)
    mat = np.full((3, 2100), -128, np.int8)
    got = KERNELS[FN](vec, mat, 2100, 3, 0, 20, np.zeros(3, np.int8), path="ref", release="5.7.0")
    assert got.tolist() == [[(2100 * 2**14 + 2**19) >> 20] * 3] * 2
    vec[1, 7] = 127   # one product becomes -16256: the raw sums must see it exactly
    acc = exact_dot(vec, mat)
    assert acc[0, 0] == 2100 * 2**14 and acc[1, 0] == 2099 * 2**14 - 127 * 128
