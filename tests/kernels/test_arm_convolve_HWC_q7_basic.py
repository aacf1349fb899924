"""arm_convolve_HWC_q7_basic and _nonsquare == the numpy oracle, edge cases and the 5.7.0 REF quirk."""
import numpy as np
import pytest

from ._conv_util import (PATHS_VERSIONS, check_bias_wrap_and_rounding, check_quirk, check_random, geo,
                         refuse_dsp, square)

BASIC = "arm_convolve_HWC_q7_basic"
NONSQ = "arm_convolve_HWC_q7_basic_nonsquare"


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_square_matches_oracle(rng, path, version):
    geoms = [square(5, 3, 3, 1, 1, ch_out=3), square(1, 1, 1), square(6, 2, 2, 3, 3, ch_out=1),   # pad > k
             square(7, 1, 3, 0, 2, out=5), square(4, 5, 4, 2, 1, out=2)]                          # out != natural
    check_random(BASIC, rng, geoms, path, version)


@pytest.mark.parametrize("path,version", PATHS_VERSIONS)
def test_nonsquare_matches_oracle(rng, path, version):
    geoms = [geo(5, 3, 2, 3, 1, 1, 0, 1, 2, ch_out=3), geo(2, 9, 1, 1, 4, 0, 2, 1, 3),
             geo(6, 1, 3, 2, 1, 0, 0, 2, 1, out_y=4, out_x=2, ch_out=1)]
    check_random(NONSQ, rng, geoms, path, version)


@pytest.mark.parametrize("fn", [BASIC, NONSQ])
def test_bias_wrap_and_rounding(fn):
    check_bias_wrap_and_rounding(fn, square(3, 2, 2, 1, 1, ch_out=3))


@pytest.mark.parametrize("fn", [BASIC, NONSQ])
def test_signed_char_quirk_only_on_ref_5_7_0(fn, rng):
    check_quirk(fn, rng, ch_in=1)


def test_quirk_wraps_to_a_real_pixel():
    """5.7.0 REF, 1x1 kernel on a 1x130 row, 260 outputs: column 256+j reads pixel j; 128..255 read nothing."""
    im = np.arange(130, dtype=np.int8).reshape(1, 1, 130, 1)
    wt, bias = np.ones((1, 1, 1, 1), np.int8), np.zeros(1, np.int8)
    from qsim.kernels import KERNELS
    run = lambda version: KERNELS[NONSQ](im, 130, 1, 1, wt, 1, 1, 1, 0, 0, 1, 1, bias, 0, 0, 260, 1,  # noqa: E731
                                         path="ref", release=version)[0, 0, :, 0]
    out57, out59 = run("5.7.0"), run("5.9.0")
    assert np.array_equal(out57[:128], im.ravel()[:128]) and np.all(out57[128:256] == 0)
    assert np.array_equal(out57[256:], im.ravel()[:4])
    assert np.array_equal(out59[:130], im.ravel()) and np.all(out59[130:] == 0)


def test_dsp_limits():
    refuse_dsp(BASIC, square(3, 1, 0, ch_out=1, out=2), r"1\.\.65535")               # zero-length column
    refuse_dsp(NONSQ, geo(1, 1, 1, 1, 1, s_x=40000, out_y=1, out_x=2, ch_out=1), r"int16_t")
