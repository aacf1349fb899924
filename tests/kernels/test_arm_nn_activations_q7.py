"""arm_nn_activations_direct_q7: index arithmetic per int_width, type switch, argument checks."""
import numpy as np
import pytest

from kernels_ref import KERNELS_REF
from qsim.errors import KernelArgumentError
from qsim.kernels import KERNELS
from qsim.kernels.arm_nntables import sigmoidTable_q7, tanhTable_q7

from ._compare import assert_bit_exact

FN = "arm_nn_activations_direct_q7"
ALL = np.arange(-128, 128, dtype=np.int8)[None]


@pytest.mark.parametrize("int_width", [0, 1, 2, 3])
@pytest.mark.parametrize("type", [0, 1])
def test_every_input(int_width, type):
    table = sigmoidTable_q7 if type == 0 else tanhTable_q7
    want = table[(ALL.astype(int) >> (3 - int_width)) & 0xFF]
    for version in ("5.7.0", "5.9.0"):
        got = KERNELS[FN](ALL, 256, int_width, type, path="ref", release=version)
        assert_bit_exact(got, want, f"{FN} int_width={int_width} type={type}")
        assert_bit_exact(KERNELS_REF[FN](ALL, 256, int_width, type, path="ref", release=version), want, "twin")


def test_input_not_modified_and_empty():
    data = ALL.copy()
    KERNELS[FN](data, 256, 3, 0, path="ref", release="5.7.0")
    assert np.array_equal(data, ALL)
    assert KERNELS[FN](np.zeros((2, 0), np.int8), 0, 0, 0, path="ref", release="5.7.0").shape == (2, 0)


def test_bad_arguments():
    with pytest.raises(KernelArgumentError, match="int_width"):
        KERNELS[FN](ALL, 256, 4, 0, path="ref", release="5.7.0")
    with pytest.raises(KernelArgumentError):
        KERNELS[FN](ALL, 256, 0, 2, path="ref", release="5.7.0")
