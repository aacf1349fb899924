"""arm_nn_accumulate_q7_to_q15: saturating groups of 4, wrapping tail; 5.9.0 REF wraps everywhere."""
import numpy as np
import pytest

from kernels_ref import KERNELS_REF
from qsim.kernels import KERNELS

FN = "arm_nn_accumulate_q7_to_q15"
DST = np.array([[32767, -32768, 32000, 0, 32767, -32768]], np.int16)
SRC = np.array([[1, -1, 100, -5, 1, -1]], np.int8)
SATURATED = [32767, -32768, 32100, -5, -32768, 32767]   # first 4 saturate, last 2 wrap
WRAPPED = [-32768, 32767, 32100, -5, -32768, 32767]


@pytest.mark.parametrize("path,version,want", [
    ("ref", "5.7.0", SATURATED), ("dsp", "5.7.0", SATURATED),
    ("dsp", "5.9.0", SATURATED), ("ref", "5.9.0", WRAPPED)])
def test_saturation_rules(path, version, want):
    for impl in (KERNELS[FN], KERNELS_REF[FN]):
        got = impl(DST, SRC, 6, path=path, release=version)
        assert got.dtype == np.int16 and got[0].tolist() == want
    assert DST[0, 0] == 32767   # caller's dst untouched


def test_short_block_wraps_only():
    got = KERNELS[FN](DST[:, :3], SRC[:, :3], 3, path="ref", release="5.7.0")
    assert got[0].tolist() == [-32768, 32767, 32100]
