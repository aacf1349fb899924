"""arm_convolve_HWC_q15_basic == the numpy oracle; q15 accumulator wrap; 5.7.0 REF quirk."""
import numpy as np
import pytest

from qsim.kernels import KERNELS

from ._conv_util import (PATHS_VERSIONS, check_bias_wrap_and_rounding, check_quirk, check_random, square)

FN = "arm_convolve_HWC_q15_basic"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_matches_oracle(rng, path, version):
    geoms = [square(5, 3, 3, 1, 1, ch_out=3), square(1, 1, 1, ch_out=1), square(6, 2, 2, 3, 3),
             square(4, 5, 4, 2, 1, out=3)]
    check_random(FN, rng, geoms, path, version)


def test_bias_wrap_and_rounding():
    check_bias_wrap_and_rounding(FN, square(3, 2, 2, 1, 1))


@pytest.mark.parametrize("path", ["ref", "dsp"])
def test_accumulator_wraps(path):
    """Two (-32768)**2 products sum to 2**31, which wraps to INT_MIN: -32768, not +32767."""
    im = np.full((1, 1, 1, 2), -32768, np.int16)
    wt = np.full((1, 1, 1, 2), -32768, np.int16)
    out = KERNELS[FN](im, 1, 2, wt, 1, 1, 0, 1, np.zeros(1, np.int16), 0, 0, 1, path=path, release="5.7.0")
    assert out.ravel().tolist() == [-32768]


def test_signed_char_quirk_only_on_ref_5_7_0(rng):
    check_quirk(FN, rng, ch_in=1)
