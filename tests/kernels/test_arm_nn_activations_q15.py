"""arm_nn_activations_direct_q15: 5.7.0's clamped index bug and the 5.8.0+ fix (doc §5.4, §10)."""
import numpy as np
import pytest

from kernels_ref import KERNELS_REF
from qsim.errors import KernelArgumentError
from qsim.kernels import KERNELS
from qsim.kernels.arm_nntables import sigmoidTable_q15, tanhTable_q15

from ._compare import assert_bit_exact

FN = "arm_nn_activations_direct_q15"
ALL = np.arange(-32768, 32768, dtype=np.int16).reshape(2, 32768)   # size is a uint16_t


def run(data, int_width, type, version):
    data = np.asarray(data, np.int16).reshape(1, -1)
    got = KERNELS[FN](data, data.shape[1], int_width, type, path="ref", release=version)
    assert_bit_exact(got, KERNELS_REF[FN](data, data.shape[1], int_width, type,
                                          path="ref", release=version), "twin")
    return got[0]


@pytest.mark.parametrize("int_width", [0, 1, 2, 3])
@pytest.mark.parametrize("type", [0, 1])
def test_every_input_matches_twin(int_width, type):
    for version in ("5.7.0", "5.9.0"):
        got = KERNELS[FN](ALL, 32768, int_width, type, path="ref", release=version)
        some = np.ascontiguousarray(ALL[:, ::7])   # the twin is slow: every 7th input
        want = KERNELS_REF[FN](some, some.shape[1], int_width, type, path="ref", release=version)
        assert_bit_exact(got[:, ::7], want, f"{FN} int_width={int_width} type={type} {version}")


def test_570_negative_inputs_all_map_to_entry_0():
    neg = [-32768, -20000, -2048, -1]
    assert run(neg, 0, 0, "5.7.0").tolist() == [16384] * 4    # sigmoid 0.5
    assert run(neg, 2, 1, "5.7.0").tolist() == [0] * 4        # tanh 0
    fixed = run(neg, 0, 0, "5.9.0")
    assert fixed[0] == sigmoidTable_q15[240] and fixed[-1] < 16384   # -32768 >> 11 = -16: t = -1


def test_exact_grid_points_and_interpolation():
    # int_width 0: sh = 11, x = 2048 * k hits table entry k exactly; halfway interpolates
    for version in ("5.7.0", "5.9.0"):
        assert run([0, 2048, 4096], 0, 1, version).tolist() == tanhTable_q15[[0, 1, 2]].tolist()
        mid = (int(tanhTable_q15[1]) * 1024 + int(tanhTable_q15[2]) * 1024) >> 11
        assert run([3072], 0, 1, version)[0] == mid


def test_top_of_table_h_127():
    # int_width 3: sh = 8, x >> 8 == 127 for x in [32512, 32767]
    x = [32512, 32600, 32767]
    old = run(x, 3, 0, "5.7.0")      # interpolates toward T[128] (the value at -8): wrong, real 5.7.0
    new = run(x, 3, 0, "5.9.0")      # no interpolation: T[127]
    assert new.tolist() == [sigmoidTable_q15[127]] * 3
    frac = np.array(x) & 255
    want_old = ((256 - frac) * int(sigmoidTable_q15[127]) + frac * int(sigmoidTable_q15[128])) >> 8
    assert old.tolist() == want_old.tolist()


def test_bad_int_width():
    with pytest.raises(KernelArgumentError, match="int_width"):
        KERNELS[FN](ALL[:, :4], 4, 5, 0, path="ref", release="5.7.0")
