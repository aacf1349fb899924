"""arm_convolve_HWC_q7_fast_nonsquare == the numpy oracle; int indices (no quirk); checks and refusals."""
import pytest

from ._conv_util import (PATHS_VERSIONS, check_bias_wrap_and_rounding, check_quirk, check_random, geo,
                         refuse_dsp, refuse_size)

FN = "arm_convolve_HWC_q7_fast_nonsquare"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_matches_oracle(rng, path, version):
    geoms = [geo(5, 3, 4, 3, 1, 1, 0, 1, 2), geo(2, 9, 8, 1, 4, 0, 2, 1, 3, ch_out=4),
             geo(6, 4, 4, 2, 3, 2, 1, 3, 1, ch_out=6), geo(10, 7, 4, 10, 4, 0, 0, 2, 1)]   # KWS-like
    check_random(FN, rng, geoms, path, version)


def test_bias_wrap_and_rounding():
    check_bias_wrap_and_rounding(FN, geo(3, 4, 4, 2, 1, 1, 0, 1, 1))


def test_no_quirk_in_any_release(rng):
    check_quirk(FN, rng, ch_in=4, dsp=False)     # REF 5.7.0 == 5.9.0 even past index 127


@pytest.mark.parametrize("g", [geo(3, 3, 2, 1, 1), geo(3, 3, 4, 1, 1, ch_out=1)])
def test_size_mismatch(g):
    refuse_size(FN, g)


def test_dsp_refusals_per_axis():
    refuse_dsp(FN, geo(5, 5, 4, 3, 3, 1, 1, out_y=5, out_x=6), r"along x")
    refuse_dsp(FN, geo(5, 5, 4, 3, 3, 1, 1, out_y=6, out_x=5), r"along y")
    refuse_dsp(FN, geo(1, 5, 4, 1, 3, 2, 1, out_y=1), r"padding_y=2 > dim_im_out_y=1")
