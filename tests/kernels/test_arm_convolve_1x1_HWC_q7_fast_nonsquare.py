"""arm_convolve_1x1_HWC_q7_fast_nonsquare == the numpy oracle; the 1x1 checks and the DSP size rule."""
import pytest

from ._conv_util import (PATHS_VERSIONS, check_bias_wrap_and_rounding, check_random, geo, refuse_dsp,
                         refuse_size)

FN = "arm_convolve_1x1_HWC_q7_fast_nonsquare"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_matches_oracle(rng, path, version):
    geoms = [geo(3, 5, 4, 1, 1), geo(1, 130, 8, 1, 1, ch_out=6), geo(4, 2, 12, 1, 1, out_y=2, ch_out=4)]
    check_random(FN, rng, geoms, path, version)


def test_ref_outputs_beyond_input_get_bias_only(rng):
    check_random(FN, rng, [geo(2, 3, 4, 1, 1, out_y=4, out_x=5)], "ref", "5.7.0")


def test_bias_wrap_and_rounding():
    check_bias_wrap_and_rounding(FN, geo(2, 2, 4, 1, 1))


@pytest.mark.parametrize("g", [geo(3, 3, 2, 1, 1), geo(3, 3, 4, 1, 1, ch_out=3), geo(3, 3, 4, 3, 1),
                               geo(3, 3, 4, 1, 3), geo(3, 3, 4, 1, 1, pad_x=1), geo(3, 3, 4, 1, 1, pad_y=1),
                               geo(3, 3, 4, 1, 1, s_x=2), geo(3, 3, 4, 1, 1, s_y=2)])
def test_size_mismatch(g):
    refuse_size(FN, g)


def test_dsp_needs_output_within_input():
    refuse_dsp(FN, geo(3, 3, 4, 1, 1, out_x=2), r"output 2x3")
    refuse_dsp(FN, geo(3, 3, 4, 1, 1, out_y=4), r"output 3x4")
