"""qsim.releases: the named facts of each CMSIS_5 tag, and that the code asks them.

The expected facts are the semantics doc's §10 table; the "flipped fact" tests prove each kernel
reads its fact (a Release differing from 5.9.0 in that one fact gives 5.7.0's bytes), so no
version string is compared anywhere else (checked by the last test, with the grep of issue 12).
"""
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from qsim.errors import KernelArgumentError, QsimError, QuantizationError
from qsim.fixedpoint import round_constant
from qsim.graph import QuantSettings
from qsim.kernels import KERNELS
from qsim.releases import (DEFAULT_PATH, DEFAULT_RELEASE, PATHS, RELEASES, VERSIONS, UnknownRelease,
                           check_path, release)

ROOT = Path(__file__).resolve().parents[1]
R57, R59 = release("5.7.0"), release("5.9.0")


def test_one_release_per_tag_and_lookup():
    assert VERSIONS == ("5.7.0", "5.9.0") and PATHS == ("ref", "dsp")
    assert all(RELEASES[v].name == v == str(RELEASES[v]) for v in VERSIONS)
    assert release(R57) is R57 and release("5.9.0") is R59
    assert (R57.nn_lib, R57.revision, R59.nn_lib, R59.revision) == ("1.3.0", "V.2.0.0", "3.1.0", "V.9.0.0")
    for bad in ("5.8.0", "5.7", "", None, 570):
        with pytest.raises(UnknownRelease, match=r"5\.7\.0, 5\.9\.0"):
            release(bad)
    with pytest.raises(UnknownRelease, match="'ref' is the plain-C build"):
        check_path("m4")
    assert issubclass(UnknownRelease, QsimError) and issubclass(UnknownRelease, ValueError)
    with pytest.raises(dataclasses.FrozenInstanceError):
        R57.name = "5.9.0"


@pytest.mark.parametrize("path", PATHS)
def test_facts_per_release_and_path(path):
    """§10 of the semantics doc, written out independently of releases.py."""
    assert R57.signed_char_index(path) == (path == "ref") and not R59.signed_char_index(path)
    assert R57.softmax_q7_wraps(path) == (path == "dsp") and not R59.softmax_q7_wraps(path)
    assert R57.accumulate_saturates(path) and R59.accumulate_saturates(path) == (path == "dsp")
    assert R57.activations_q15_clamped and not R59.activations_q15_clamped
    assert R57.mult_bug(False) and not R57.mult_bug(True) and not R59.mult_bug(False)
    assert not R57.nn_round_signed and R59.nn_round_signed
    assert not R57.q15_fast_odd_width_check and R59.q15_fast_odd_width_check
    assert R57.softmax_q7_dsp_spread == 122
    assert R57.standin_defines == ("QSIM_STANDIN_CMSIS_570",) and R59.standin_defines == ()


def test_round_constant_asks_the_release():
    for rel in (R57, "5.7.0"):
        assert [round_constant(s, False, rel) for s in (0, 1, 7, 31)] == [0, 1, 64, 1 << 30]
    assert [round_constant(s, False, R59) for s in (0, 1, 7, 31)] == [0, 1, 64, -(1 << 30)]
    assert round_constant(31, True, R59) == 0
    with pytest.raises(UnknownRelease):
        round_constant(3, False, "5.8.0")


def test_quant_settings_and_quantize_use_the_registry():
    assert QuantSettings("q7", "dsp", "5.9.0").release is R59
    with pytest.raises(UnknownRelease):
        QuantSettings("q7", "ref", "5.8.0")
    with pytest.raises(ValueError):         # graph_io turns ValueError into ModelFormatError
        QuantSettings("q7", "m4", "5.9.0")
    from qsim import Sequential, calibrate, quantize
    g = Sequential((4,), "n").fc(3).build(seed=0)
    cal = calibrate(g, np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    with pytest.raises(QuantizationError, match="5.8.0"):
        quantize(g, cal, version="5.8.0")
    q = quantize(g, cal).quant               # the documented defaults of qsim quantize, too
    assert (q.version, q.path) == (DEFAULT_RELEASE, DEFAULT_PATH) == ("5.9.0", "ref")


def _flip(**facts):
    """5.9.0 with some facts changed, under another name (kernels must read facts, not names)."""
    return dataclasses.replace(R59, name="test", **facts)


def test_kernels_read_the_facts_not_the_name(rng):
    """Each kernel that differs between releases follows the flipped fact to 5.7.0's result."""
    x15 = rng.integers(-32768, 32768, (2, 300)).astype(np.int16)
    fn = KERNELS["arm_nn_activations_direct_q15"]
    assert np.array_equal(fn(x15, 300, 2, 0, path="ref", release=_flip(activations_q15_clamped=True)),
                          fn(x15, 300, 2, 0, path="ref", release="5.7.0"))
    assert not np.array_equal(fn(x15, 300, 2, 0, path="ref", release=R59),
                              fn(x15, 300, 2, 0, path="ref", release="5.7.0"))
    v = np.array([[100, -50, 0, 0, 90, -100, 3, 4]], np.int8)
    sm = KERNELS["arm_softmax_q7"]
    assert sm(v, 8, path="dsp", release=_flip(softmax_q7_dsp_lane_wrap=True)).tolist() == \
        sm(v, 8, path="dsp", release="5.7.0").tolist() != sm(v, 8, path="dsp", release=R59).tolist()
    d, s = np.full((1, 8), 32767, np.int16), np.full((1, 8), 100, np.int8)
    acc = KERNELS["arm_nn_accumulate_q7_to_q15"]
    assert acc(d, s, 8, path="ref", release=_flip(accumulate_ref_saturates=True)).tolist() == \
        acc(d, s, 8, path="ref", release="5.7.0").tolist() == [[32767] * 8]
    assert acc(d, s, 8, path="ref", release=R59).tolist() == [[-32669] * 8]
    a, b = np.array([[-3, 3]], np.int8), np.array([[1, 1]], np.int8)
    mult = KERNELS["arm_nn_mult_q7"]
    assert mult(a, b, 1, 2, path="ref", release=_flip(mult_unsigned_round=True, nn_round_signed=False)
                ).tolist() == [[127, 2]] != mult(a, b, 1, 2, path="ref", release=R59).tolist()
    vec, mat = np.zeros((1, 2), np.int8), np.zeros((1, 2), np.int8)
    fc = KERNELS["arm_fully_connected_q7"]
    assert fc(vec, mat, 2, 1, 0, 31, np.zeros(1, np.int8), path="ref",
              release=_flip(nn_round_signed=False)).tolist() == [[0]]
    assert fc(vec, mat, 2, 1, 0, 31, np.zeros(1, np.int8), path="ref", release=R59).tolist() == [[-1]]


def test_conv_index_quirk_and_q15_fast_check_follow_the_facts(rng):
    dim, k = 140, 3                     # indices past 127: the signed-char quirk shows
    im = rng.integers(-128, 128, (1, dim, dim, 4)).astype(np.int8)
    wt = rng.integers(-128, 128, (2, k, k, 4)).astype(np.int8)
    args = (im, dim, 4, wt, 2, k, 1, 1, np.zeros(2, np.int8), 0, 7, dim)
    conv = KERNELS["arm_convolve_HWC_q7_basic"]
    quirky = conv(*args, path="ref", release="5.7.0")
    assert np.array_equal(conv(*args, path="ref", release=_flip(ref_signed_char_index=True)), quirky)
    assert not np.array_equal(conv(*args, path="ref", release=R59), quirky)
    x = np.zeros((1, 5, 5, 2), np.int16)
    w = np.zeros((2, 3, 3, 2), np.int16)
    q15 = (x, 5, 2, w, 2, 3, 1, 1, np.zeros(2, np.int16), 0, 8, 3)
    with pytest.raises(KernelArgumentError, match="overruns bufferA"):
        KERNELS["arm_convolve_HWC_q15_fast"](*q15, path="dsp", release=_flip(q15_fast_odd_width_check=False))


def test_release_and_path_are_required_in_the_kernel_api():
    x = np.zeros((1, 4), np.int8)
    with pytest.raises(TypeError, match="path.*release"):
        KERNELS["arm_relu_q7"](x, 4)
    with pytest.raises(TypeError, match="release"):
        KERNELS["arm_relu_q7"](x, 4, path="dsp")
    with pytest.raises(KernelArgumentError, match=r"arm_relu_q7: CMSIS_5 release '5\.8\.0'"):
        KERNELS["arm_relu_q7"](x, 4, path="ref", release="5.8.0")
    with pytest.raises(KernelArgumentError, match="path='m4'"):
        KERNELS["arm_relu_q7"](x, 4, path="m4", release="5.9.0")
    assert KERNELS["arm_relu_q7"](x, 4, path="ref", release=R59).shape == (1, 4)


# A comparison with a version literal, or a membership test of a version in VERSIONS or a literal
# tuple. (Look-ups in tag-keyed data tables, such as cmsis_nn.fetch.PINNED, are not tests.)
VERSION_TEST = re.compile(r'(==|!=)\s*"\d+\.\d+\.\d+"|"\d+\.\d+\.\d+"\s*(==|!=)'
                          r'|\b(version|release)\w*\s+(not\s+)?in\s+(VERSIONS|\(|\[)')


def test_no_version_string_tests_outside_releases():
    """Issue 12: code asks Release facts; only releases.py and the kernels_ref oracle spell out tags."""
    hits = []
    for folder in ("qsim", "codegen", "harness", "cmsis_nn"):
        for f in sorted((ROOT / folder).rglob("*.py")):
            if f.name == "releases.py" and f.parent.name == "qsim":
                continue
            for i, line in enumerate(f.read_text().splitlines(), 1):
                if VERSION_TEST.search(line.split("#")[0]):
                    hits.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()}")
    assert hits == []


def test_companion_kernels_take_no_path_or_release():
    """qsim's own companion kernels give the same bytes on every build: neither option exists."""
    from qsim.kernel_args import bind
    from qsim.kernels import COMPANION_KERNELS
    x = np.array([[-5, 0, 3, 9]], np.int8)
    clip = COMPANION_KERNELS["qsim_clip_q7"]
    assert clip(x, 4, -1, 4).tolist() == [[-1, 0, 3, 4]]
    with pytest.raises(TypeError):
        clip(x, 4, -1, 4, path="ref", release="5.9.0")
    with pytest.raises(TypeError, match="companion kernel takes no path= or release="):
        bind("qsim_clip_q7", (x, 4, -1, 4), {}, release="5.9.0")
    with pytest.raises(TypeError, match="needs path= and release="):
        bind("arm_relu_q7", (x, 4), {}, path="ref")
