"""cmsis_nn.locate and cmsis_nn.build, and the guarded calls of harness.cmsis_call.

The locate tests use fake checkouts and run everywhere; the build and call tests need a real
CMSIS_5 checkout (CMSIS_PATH, tags 5.7.0 or 5.9.0) and skip without one.
"""
import numpy as np
import pytest

from cmsis_nn import build as cmsis_build
from cmsis_nn.build import build_library
from cmsis_nn.locate import HEADERS, SOURCES, VERSIONS, find_cmsis
from qsim.cmsis_signatures import SIGNATURES
from qsim.errors import BuildError, CmsisNotFound, KernelArgumentError

PATHS = ("ref", "dsp")


def fake_checkout(root, version, revision=None, skip=()):
    """Empty files at every path a checkout of `version` needs, with its version markers."""
    revision = revision or {"5.7.0": "V.2.0.0", "5.9.0": "V.9.0.0"}[version]
    for rel in HEADERS[version] + tuple(f"CMSIS/NN/Source/{s}" for s in SOURCES):
        if rel in skip:
            continue
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f" * $Revision:    {revision}\n" if rel.endswith("arm_nnfunctions.h") else "")
    return root


# --- locate: no CMSIS needed ---------------------------------------------------------------------
def test_no_path_and_no_env(monkeypatch):
    monkeypatch.delenv("CMSIS_PATH", raising=False)
    with pytest.raises(CmsisNotFound, match="CMSIS_PATH.*README"):
        find_cmsis()


def test_path_does_not_exist(tmp_path):
    with pytest.raises(CmsisNotFound, match="does not exist.*git -C CMSIS_5 archive"):
        find_cmsis(tmp_path / "nowhere")


def test_wrong_folder_lists_what_was_found(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "main.c").write_text("")
    with pytest.raises(CmsisNotFound, match=r"no CMSIS/NN folder.*found: main\.c, src"):
        find_cmsis(tmp_path)


def test_pointing_at_cmsis_nn_gets_a_hint(tmp_path):
    fake_checkout(tmp_path, "5.9.0")
    with pytest.raises(CmsisNotFound, match="folder that holds CMSIS/"):
        find_cmsis(tmp_path / "CMSIS" / "NN")


@pytest.mark.parametrize("version", VERSIONS)
def test_detects_release_from_root_env_or_inner_folder(tmp_path, monkeypatch, version):
    fake_checkout(tmp_path, version)
    assert find_cmsis(tmp_path).version == version
    assert find_cmsis(tmp_path / "CMSIS").root == tmp_path.resolve()
    monkeypatch.setenv("CMSIS_PATH", str(tmp_path))
    assert find_cmsis().version == version


def test_unknown_release_names_what_was_found(tmp_path):
    fake_checkout(tmp_path, "5.9.0", revision="V.7.0.0", skip=("CMSIS/NN/Include/arm_nn_math_types.h",))
    with pytest.raises(CmsisNotFound, match=r"not CMSIS_5 release 5\.7\.0 or 5\.9\.0.*V\.7\.0\.0.*"
                                            r"arm_nn_math_types\.h absent.*README"):
        find_cmsis(tmp_path)


def test_missing_files_are_listed(tmp_path):
    gone = ("CMSIS/Core/Include/cmsis_gcc.h", "CMSIS/NN/Source/PoolingFunctions/arm_pool_q7_HWC.c")
    fake_checkout(tmp_path, "5.7.0", skip=gone)
    with pytest.raises(CmsisNotFound, match="incomplete: missing .*cmsis_gcc.h.*arm_pool_q7_HWC.c"):
        find_cmsis(tmp_path)


def test_34_translation_units():
    assert len(SOURCES) == len(set(SOURCES)) == 34


# --- build and call: real CMSIS ------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkout(cmsis_path):
    return find_cmsis(cmsis_path)


def test_checkout_is_a_supported_release(checkout):
    assert checkout.version in VERSIONS


@pytest.mark.parametrize("path", PATHS)
def test_build_exports_every_function_and_is_cached(checkout, path):
    b = build_library(checkout, path)
    for name in SIGNATURES:
        assert getattr(b.lib, name) is not None
    mtime = b.so_path.stat().st_mtime_ns
    again = build_library(checkout, path)
    assert again.so_path == b.so_path and b.so_path.stat().st_mtime_ns == mtime
    assert build_library(checkout, path, truncate=True).so_path != b.so_path


def test_wrong_prototype_fails_the_build(checkout, tmp_path, monkeypatch):
    monkeypatch.setenv("QSIM_CACHE_DIR", str(tmp_path))
    real = cmsis_build.decl_check_source
    monkeypatch.setattr(cmsis_build, "decl_check_source",
                        lambda: real() + "void arm_relu_q7(q15_t *data, uint16_t size);\n")
    with pytest.raises(BuildError, match="conflicting types for .arm_relu_q7"):
        build_library(checkout, "ref")


@pytest.mark.parametrize("path", PATHS)
def test_size_mismatch_becomes_kernel_argument_error(checkout, path):
    from harness.cmsis_call import CmsisLibrary
    lib = CmsisLibrary(checkout, path)
    x = np.zeros((1, 5 * 5 * 3), np.int8)               # q7_fast needs ch_im_in % 4 == 0
    with pytest.raises(KernelArgumentError, match="SIZE_MISMATCH"):
        lib.call("arm_convolve_HWC_q7_fast", x, 5, 3, np.zeros(2 * 9 * 3, np.int8), 2, 3, 1, 1,
                 np.zeros(2, np.int8), 0, 0, 5)


def test_dsp_overrun_is_caught(checkout):
    """DSP q15_fast with an odd output width writes past bufferA (semantics doc §8 item 5).

    5.9.0 added a SIZE_MISMATCH check for odd dim_im_out to the square variant only."""
    from harness.cmsis_call import BufferOverrunError, CmsisLibrary
    lib = CmsisLibrary(checkout, "dsp")
    rng = np.random.default_rng(0)
    x = rng.integers(-99, 99, (1, 5 * 5 * 2)).astype(np.int16)
    w = rng.integers(-99, 99, 2 * 9 * 2).astype(np.int16)
    b = np.zeros(2, np.int16)
    nonsquare = (x, 5, 5, 2, w, 2, 3, 3, 1, 1, 1, 1, b, 0, 8)
    assert lib.call("arm_convolve_HWC_q15_fast_nonsquare", *nonsquare, 4, 4).shape == (1, 4, 4, 2)
    with pytest.raises(BufferOverrunError, match="bufferA"):
        lib.call("arm_convolve_HWC_q15_fast_nonsquare", *nonsquare, 3, 4)
    square = (x, 5, 2, w, 2, 3, 1, 1, b, 0, 8, 3)
    from qsim.kernels import KERNELS
    from qsim.releases import release
    checks = release(checkout.version).q15_fast_odd_width_check
    with pytest.raises(KernelArgumentError if checks else BufferOverrunError):
        lib.call("arm_convolve_HWC_q15_fast", *square)
    if checks:    # the simulator's refusal describes what this release's C does
        with pytest.raises(KernelArgumentError, match="returns ARM_MATH_SIZE_MISMATCH"):
            KERNELS["arm_convolve_HWC_q15_fast"](*square, path="dsp", release=checkout.version)


@pytest.mark.parametrize("path", PATHS)
def test_call_leaves_caller_arrays_alone(checkout, path):
    from harness.cmsis_call import CmsisLibrary
    lib = CmsisLibrary(checkout, path)
    rng = np.random.default_rng(1)
    im = rng.integers(-128, 128, (3, 6, 6, 4)).astype(np.int8)
    before = im.copy()
    out = lib.call("arm_maxpool_q7_HWC", im, 6, 4, 2, 0, 2, 3)
    assert out.shape == (3, 3, 3, 4) and out.dtype == np.int8
    assert np.array_equal(im, before)
    assert np.array_equal(out, im.reshape(3, 3, 2, 3, 2, 4).max(axis=(2, 4)))
