"""arm_convolve_HWC_q7_fast == the numpy oracle; size checks, DSP geometry refusals, REF quirk."""
import pytest

from ._conv_util import (PATHS_VERSIONS, check_bias_wrap_and_rounding, check_quirk, check_random,
                         refuse_dsp, refuse_size, square)

FN = "arm_convolve_HWC_q7_fast"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_matches_oracle(rng, path, version):
    geoms = [square(5, 4, 3, 1, 1, ch_out=2), square(1, 8, 1, ch_out=4), square(6, 4, 2, 3, 3, ch_out=2),
             square(9, 4, 3, 1, 2, ch_out=6), square(4, 4, 4, 0, 1, out=1)]                 # out < natural
    check_random(FN, rng, geoms, path, version)


def test_ref_accepts_any_output_size(rng):
    check_random(FN, rng, [square(5, 4, 3, 1, 1, out=7), square(3, 4, 3, 4, 1, out=2)], "ref", "5.9.0")


def test_bias_wrap_and_rounding():
    check_bias_wrap_and_rounding(FN, square(3, 4, 2, 1, 1, ch_out=2))


def test_signed_char_quirk_only_on_ref_5_7_0(rng):
    check_quirk(FN, rng, ch_in=4)


@pytest.mark.parametrize("g", [square(3, 3, 1), square(3, 6, 1), square(3, 4, 1, ch_out=3)])
def test_size_mismatch(g):
    refuse_size(FN, g)


def test_dsp_refuses_unchecked_middle_region():
    refuse_dsp(FN, square(5, 4, 3, 1, 1, out=6), r"middle region")     # one output too many
    refuse_dsp(FN, square(2, 4, 1, 3, 1, out=2), r"padding=3 > dim_im_out=2")
