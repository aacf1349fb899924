"""arm_depthwise_separable_conv_HWC_q7_nonsquare == the numpy oracle; ch_im_in == ch_im_out; no quirk."""
import pytest

from ._conv_util import PATHS_VERSIONS, check_bias_wrap_and_rounding, check_quirk, check_random, geo, refuse_size

FN = "arm_depthwise_separable_conv_HWC_q7_nonsquare"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_matches_oracle(rng, path, version):
    geoms = [geo(5, 3, 3, 3, 1, 1, 0, 1, 2, ch_out=3), geo(2, 9, 4, 1, 4, 0, 2, 1, 3, ch_out=4),
             geo(6, 1, 1, 2, 1, 0, 0, 2, 1, out_y=4, out_x=2, ch_out=1)]
    check_random(FN, rng, geoms, path, version)


def test_bias_wrap_and_rounding():
    check_bias_wrap_and_rounding(FN, geo(3, 2, 2, 2, 1, 1, 0, 1, 1, ch_out=2))


def test_no_quirk(rng):
    check_quirk(FN, rng, ch_in=2, ch_out=2)


def test_size_mismatch():
    refuse_size(FN, geo(3, 2, 2, 1, 1, ch_out=3))
