"""arm_depthwise_separable_conv_HWC_q7 == the numpy oracle; ch_im_in == ch_im_out; no quirk."""
import pytest

from ._conv_util import (PATHS_VERSIONS, check_bias_wrap_and_rounding, check_quirk, check_random,
                         refuse_size, square)

FN = "arm_depthwise_separable_conv_HWC_q7"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_matches_oracle(rng, path, version):
    geoms = [square(5, 3, 3, 1, 1, ch_out=3), square(1, 1, 1, ch_out=1), square(6, 5, 2, 3, 3, ch_out=5),
             square(7, 8, 3, 1, 2, out=5, ch_out=8)]
    check_random(FN, rng, geoms, path, version)


def test_bias_wrap_and_rounding():
    check_bias_wrap_and_rounding(FN, square(3, 2, 2, 1, 1, ch_out=2))


def test_no_quirk(rng):
    check_quirk(FN, rng, ch_in=2, ch_out=2)


def test_size_mismatch():
    refuse_size(FN, square(3, 2, 1, ch_out=4))
