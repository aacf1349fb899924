"""Edge cases of arm_softmax_with_batch_q7: per-slice arm_softmax_q7, blocks restart per slice."""
import numpy as np
import pytest

from kernels_ref import KERNELS_REF
from qsim.errors import KernelArgumentError
from qsim.kernels import KERNELS

from ._compare import assert_bit_exact

IMPLS = {"numba": KERNELS, "twin": KERNELS_REF}


@pytest.mark.parametrize("impl", IMPLS)
def test_dsp_blocks_restart_at_every_slice(impl):
    # dim_vec 5: each slice has one 4-block and a 1-element tail. Slice 2's element 3 lies in its
    # own block (wraps: 127), though it would be in the tail of the flat 10-element vector.
    x = np.array([[[100, -50, 0, 0, -50], [100, 0, 0, -50, 0]]], np.int8)
    fn = IMPLS[impl]["arm_softmax_with_batch_q7"]
    assert fn(x, 2, 5, path="dsp", release="5.7.0")[0].tolist() == [[126, 127, 0, 0, 0], [126, 0, 0, 127, 0]]
    for path, version in (("ref", "5.7.0"), ("ref", "5.9.0"), ("dsp", "5.9.0")):
        assert fn(x, 2, 5, path=path, release=version)[0].tolist() == [[127, 0, 0, 0, 0], [127, 0, 0, 0, 0]]


@pytest.mark.parametrize("path", ["ref", "dsp"])
def test_equals_softmax_q7_per_slice(path, rng):
    x = rng.integers(-128, 128, (2, 3, 11)).astype(np.int8)
    got = KERNELS["arm_softmax_with_batch_q7"](x, 3, 11, path=path, release="5.7.0")
    want = KERNELS["arm_softmax_q7"](x.reshape(6, 11), 11, path=path, release="5.7.0").reshape(2, 3, 11)
    assert_bit_exact(got, want, "with_batch vs q7 per slice")


@pytest.mark.parametrize("impl", IMPLS)
def test_zero_slices_give_empty_output(impl):
    out = IMPLS[impl]["arm_softmax_with_batch_q7"](np.zeros((2, 0), np.int8), 0, 4, path="ref",
                                                   release="5.7.0")
    assert out.shape == (2, 0, 4)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dim_vec", [0, 32768])
def test_refuses_dim_vec(impl, dim_vec):
    with pytest.raises(KernelArgumentError):
        IMPLS[impl]["arm_softmax_with_batch_q7"](np.zeros((1, dim_vec), np.int8), 1, dim_vec,
                                                 path="ref", release="5.7.0")
