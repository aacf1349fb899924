"""arm_convolve_HWC_q7_RGB == the numpy oracle; ch_im_in == 3 check; 5.7.0 REF quirk."""
import pytest

from ._conv_util import (PATHS_VERSIONS, check_bias_wrap_and_rounding, check_quirk, check_random,
                         refuse_size, square)

FN = "arm_convolve_HWC_q7_RGB"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_matches_oracle(rng, path, version):
    geoms = [square(5, 3, 3, 1, 1, ch_out=4), square(1, 3, 1, ch_out=1), square(6, 3, 2, 3, 3),
             square(7, 3, 5, 2, 2, out=5)]
    check_random(FN, rng, geoms, path, version)


def test_bias_wrap_and_rounding():
    check_bias_wrap_and_rounding(FN, square(3, 3, 2, 1, 1))


def test_signed_char_quirk_only_on_ref_5_7_0(rng):
    check_quirk(FN, rng, ch_in=3)


@pytest.mark.parametrize("ch_in", [1, 4])
def test_size_mismatch(ch_in):
    refuse_size(FN, square(3, ch_in, 1))
