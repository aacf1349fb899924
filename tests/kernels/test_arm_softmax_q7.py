"""Edge cases of arm_softmax_q7: base-2 formula, the 5.7.0 DSP byte wrap, refusals (doc §4.1, §4.2)."""
import numpy as np
import pytest

from kernels_ref import KERNELS_REF
from qsim.errors import KernelArgumentError
from qsim.kernels import KERNELS

IMPLS = {"numba": KERNELS, "twin": KERNELS_REF}
CASES = [  # vector, REF (5.7.0 ref, 5.9.0 both paths), 5.7.0 DSP
    ([100, -50, 0, 0], [127, 0, 0, 0], [127, 127, 0, 0]),        # -50 is 150 below the max: wraps
    ([100, -50, 0, 0, -50], [127, 0, 0, 0, 0], [126, 127, 0, 0, 0]),  # tail element uses true values
    ([10, 9], [127, 64], [127, 64]),                             # d = 0 and d = 1 both weigh 128
    ([0, 0, 0, 0], [64, 64, 64, 64], [64, 64, 64, 64]),
    ([-128, -128, -128, -128], [64, 64, 64, 64], [64, 64, 64, 64]),  # base -136: byte 120, no change
    ([127, -128, 5], [127, 0, 0], [127, 0, 0]),                  # no full block: REF formula only
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("vec, ref, dsp570", CASES)
def test_documented_values(impl, vec, ref, dsp570):
    softmax = IMPLS[impl]["arm_softmax_q7"]
    x = np.array([vec], np.int8)
    assert softmax(x, len(vec), path="ref", release="5.7.0")[0].tolist() == ref
    assert softmax(x, len(vec), path="dsp", release="5.7.0")[0].tolist() == dsp570
    for path in ("ref", "dsp"):
        assert softmax(x, len(vec), path=path, release="5.9.0")[0].tolist() == ref


def test_dsp_570_equals_ref_within_122_of_the_max(rng):
    for _ in range(50):
        dim = int(rng.integers(1, 40))
        top = int(rng.integers(-128, 128))
        x = np.clip(top - rng.integers(0, 123, (2, dim)), -128, 127).astype(np.int8)
        x[:, 0] = top
        assert (KERNELS["arm_softmax_q7"](x, dim, path="dsp", release="5.7.0")
                == KERNELS["arm_softmax_q7"](x, dim, path="ref", release="5.7.0")).all()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dim_vec", [0, 32768, 65535])
def test_refuses_dim_vec(impl, dim_vec):
    with pytest.raises(KernelArgumentError):
        IMPLS[impl]["arm_softmax_q7"](np.zeros((1, dim_vec), np.int8), dim_vec, path="ref", release="5.7.0")


def test_input_unchanged_and_refusal_message(rng):
    x = rng.integers(-128, 128, (2, 9)).astype(np.int8)
    keep = x.copy()
    KERNELS["arm_softmax_q7"](x, 9, path="dsp", release="5.7.0")
    assert (x == keep).all()
    with pytest.raises(KernelArgumentError, match="help:"):
        KERNELS["arm_softmax_q7"](np.zeros((1, 0), np.int8), 0, path="ref", release="5.7.0")
