"""arm_relu_q7 / arm_relu_q15: negatives to 0, caller's data untouched, size 0."""
import numpy as np
import pytest

from kernels_ref import KERNELS_REF
from qsim.kernels import KERNELS


@pytest.mark.parametrize("fn,dtype", [("arm_relu_q7", np.int8), ("arm_relu_q15", np.int16)])
def test_relu(fn, dtype):
    info = np.iinfo(dtype)
    data = np.array([[info.min, -1, 0, 1, info.max]], dtype)
    before = data.copy()
    for impl in (KERNELS[fn], KERNELS_REF[fn]):
        got = impl(data, 5, path="dsp")
        assert got.dtype == dtype and got.tolist() == [[0, 0, 0, 1, info.max]]
    assert np.array_equal(data, before)
    assert KERNELS[fn](np.zeros((3, 0), dtype), 0).shape == (3, 0)
