"""arm_q7_to_q15_no_shift: sign extension, order kept."""
import numpy as np

from kernels_ref import KERNELS_REF
from qsim.kernels import KERNELS

FN = "arm_q7_to_q15_no_shift"


def test_sign_extension():
    src = np.arange(-128, 128, dtype=np.int8).reshape(2, 128)
    for impl in (KERNELS[FN], KERNELS_REF[FN]):
        got = impl(src, 128, path="dsp", release="5.7.0")
        assert got.dtype == np.int16 and np.array_equal(got, src.astype(np.int16))
