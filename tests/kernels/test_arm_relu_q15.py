"""arm_relu_q15: negatives to 0 on both paths, caller's data untouched, size 0."""
import numpy as np

from kernels_ref import KERNELS_REF
from qsim.kernels import KERNELS

FN = "arm_relu_q15"


def test_relu():
    info = np.iinfo(np.int16)
    data = np.array([[info.min, -1, 0, 1, info.max]], np.int16)
    before = data.copy()
    for impl in (KERNELS[FN], KERNELS_REF[FN]):
        for path in ("ref", "dsp"):
            got = impl(data, 5, path=path, release="5.7.0")
            assert got.dtype == np.int16 and got.tolist() == [[0, 0, 0, 1, info.max]]
    assert np.array_equal(data, before)
    assert KERNELS[FN](np.zeros((3, 0), np.int16), 0, path="ref", release="5.7.0").shape == (3, 0)
