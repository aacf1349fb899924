"""arm_convolve_HWC_q15_fast == the numpy oracle; even-channel checks; DSP odd-width refusal; quirk."""
import pytest

from ._conv_util import (PATHS_VERSIONS, check_bias_wrap_and_rounding, check_quirk, check_random,
                         refuse_dsp, refuse_size, square)

FN = "arm_convolve_HWC_q15_fast"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_matches_oracle(rng, path, version):
    geoms = [square(6, 2, 3, 1, 1, ch_out=4), square(2, 4, 1), square(6, 2, 2, 3, 3),
             square(7, 2, 5, 2, 2, out=4)]
    check_random(FN, rng, geoms, path, version)


def test_ref_accepts_odd_width(rng):
    check_random(FN, rng, [square(5, 2, 3, 1, 1)], "ref", "5.7.0")


def test_bias_wrap_and_rounding():
    check_bias_wrap_and_rounding(FN, square(4, 2, 3, 1, 1))


def test_signed_char_quirk_only_on_ref_5_7_0(rng):
    check_quirk(FN, rng, ch_in=2)


@pytest.mark.parametrize("g", [square(2, 3, 1), square(2, 2, 1, ch_out=1)])
def test_size_mismatch(g):
    refuse_size(FN, g)


def test_dsp_refuses_odd_output_width():
    refuse_dsp(FN, square(5, 2, 3, 1, 1), r"dim_im_out=5 is odd")
