"""arm_nn_add_q7: one int32 per batch item, wrap-around past 2**31."""
import numpy as np

from kernels_ref import KERNELS_REF
from qsim.kernels import KERNELS

FN = "arm_nn_add_q7"


def test_sums_per_item_and_empty():
    data = np.array([[127, 127, -128, 1], [-1, -1, -1, -1]], np.int8)
    for impl in (KERNELS[FN], KERNELS_REF[FN]):
        got = impl(data, 4, path="ref", release="5.7.0")
        assert got.dtype == np.int32 and got.tolist() == [127, -4]
    assert KERNELS[FN](np.zeros((2, 0), np.int8), 0, path="ref", release="5.7.0").tolist() == [0, 0]


def test_wraps_int32():
    n = 2**31 // 127 + 1                     # sum just above 2**31 - 1
    got = KERNELS[FN](np.full((1, n), 127, np.int8), n, path="dsp", release="5.7.0")
    assert got[0] == ((127 * n + 2**31) % 2**32) - 2**31
