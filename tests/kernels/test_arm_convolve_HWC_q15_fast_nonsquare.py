"""arm_convolve_HWC_q15_fast_nonsquare == the numpy oracle; checks; odd dim_im_out_x; quirk (it has it)."""
import pytest

from ._conv_util import (PATHS_VERSIONS, check_bias_wrap_and_rounding, check_quirk, check_random, geo,
                         refuse_dsp, refuse_size)

FN = "arm_convolve_HWC_q15_fast_nonsquare"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_matches_oracle(rng, path, version):
    geoms = [geo(5, 4, 2, 3, 1, 1, 0, 1, 1, ch_out=4), geo(3, 9, 4, 1, 4, 0, 2, 1, 3),
             geo(6, 4, 2, 2, 3, 2, 1, 3, 1, out_y=5, out_x=2)]
    check_random(FN, rng, geoms, path, version)


def test_bias_wrap_and_rounding():
    check_bias_wrap_and_rounding(FN, geo(3, 4, 2, 2, 1, 1, 0, 1, 1))


def test_signed_char_quirk_only_on_ref_5_7_0(rng):
    check_quirk(FN, rng, ch_in=2)


@pytest.mark.parametrize("g", [geo(2, 2, 1, 1, 1), geo(2, 2, 2, 1, 1, ch_out=3)])
def test_size_mismatch(g):
    refuse_size(FN, g)


def test_dsp_refuses_odd_output_width_only():
    refuse_dsp(FN, geo(4, 3, 2, 1, 1), r"dim_im_out_x=3 is odd")
