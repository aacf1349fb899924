"""Edge cases of arm_softmax_q15 (doc §4.4): one body on every path and release."""
import numpy as np
import pytest

from kernels_ref import KERNELS_REF
from qsim.errors import KernelArgumentError
from qsim.kernels import KERNELS

IMPLS = {"numba": KERNELS, "twin": KERNELS_REF}
CASES = [
    ([1000, 0], [32767, 0]),            # ob = 65536, >> 1 = 32768 saturates
    ([5, 5], [16384, 16384]),
    ([10, 9], [21845, 10922]),          # 2**32 // 98304 = 43690
    ([20, 4], [32767, 0]),              # 4 == base: ignored in the sum and output 0
    ([20, 5], [32767, 0]),              # 5 > base counts 2 in the sum; 65534 >> 16 = 0
    ([-32768, -32768, -32767], [8192, 8192, 16384]),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("vec, want", CASES)
def test_documented_values(impl, vec, want):
    x = np.array([vec], np.int16)
    for path in ("ref", "dsp"):
        for version in ("5.7.0", "5.9.0"):
            assert IMPLS[impl]["arm_softmax_q15"](x, len(vec), path=path, release=version)[0].tolist() == want


@pytest.mark.parametrize("impl", IMPLS)
def test_longest_vector_does_not_overflow(impl):
    # 32767 equal values: sum = 32767 * 65536 < 2**31, ob = 2, every output 2 >> 1 = 1.
    out = IMPLS[impl]["arm_softmax_q15"](np.zeros((1, 32767), np.int16), 32767, path="ref", release="5.7.0")
    assert (out == 1).all()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dim_vec", [0, 32768])
def test_refuses_dim_vec(impl, dim_vec):
    with pytest.raises(KernelArgumentError):
        IMPLS[impl]["arm_softmax_q15"](np.zeros((1, dim_vec), np.int16), dim_vec, path="ref", release="5.7.0")
