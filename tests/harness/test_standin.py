"""The stand-in C library (cmsis_nn/standin/, NOT CMSIS) against the numba kernels, REF path.

Both were written from the same semantics notes, so agreement checks the harness plumbing (cffi
calls, buffer sizes, argument order) and the stand-in itself; it is never evidence of parity with
the real CMSIS-NN. Runs without a CMSIS checkout (CI).
"""
import re
import shutil

import numpy as np
import pytest

from cmsis_nn.standin import STANDIN_DIR, build_standin, source_files
from harness.cases import CASES
from qsim.cmsis_signatures import SIGNATURES
from qsim.errors import KernelArgumentError
from qsim.kernels import KERNELS
from tests.kernels._compare import assert_bit_exact

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")

N_CASES = 12
VERSIONS = ("5.9.0", "5.7.0")
FUNCS = sorted(set(CASES) & set(KERNELS))


def standin_library(version, truncate=False):
    """A harness.cmsis_call.CmsisLibrary running on the stand-in instead of a CMSIS build."""
    from harness.cmsis_call import CmsisLibrary
    return CmsisLibrary.from_build(build_standin(version, truncate))


def test_header_declares_the_signature_table():
    header = (STANDIN_DIR / "qsim_standin_api.h").read_text()
    declared = re.findall(r"^(?:arm_status|void) \w+\(.*\);$", header, re.M)
    assert declared == [f.cdecl() for f in SIGNATURES.values()]


def test_every_file_says_it_is_not_cmsis():
    for f in list(source_files()) + sorted(STANDIN_DIR.glob("*.h")):
        assert "NOT CMSIS" in f.read_text()[:300], f.name


def test_one_file_per_cmsis_source():
    wanted = {f.c_file.split("/")[-1] for f in SIGNATURES.values()} | {"arm_nntables.c"}
    assert {f.name.removeprefix("qsim_") for f in source_files()} == wanted


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("c_name", FUNCS)
def test_standin_matches_kernels(c_name, version, rng):
    lib = standin_library(version)
    for i in range(N_CASES):
        args = CASES[c_name](rng, "ref", version)
        try:
            want = KERNELS[c_name](*args, path="ref", release=version)
        except KernelArgumentError:
            with pytest.raises(KernelArgumentError):
                lib.call(c_name, *args)
            continue
        got = lib.call(c_name, *args)
        assert_bit_exact(got, want, f"{c_name} {version} case {i}")


@pytest.mark.parametrize("c_name", ["arm_fully_connected_q7", "arm_nn_mult_q15"])
def test_standin_truncate(c_name, rng):
    lib = standin_library("5.9.0", truncate=True)
    for _ in range(N_CASES):
        args = CASES[c_name](rng, "ref", "5.9.0")
        want = KERNELS[c_name](*args, path="ref", release="5.9.0", truncate=True)
        assert_bit_exact(lib.call(c_name, *args), want, c_name)


def test_size_mismatch_is_reported():
    lib = build_standin().lib
    ffi = build_standin().ffi
    buf = ffi.new("q7_t[64]")
    out = ffi.new("q7_t[64]")
    status = lib.arm_convolve_HWC_q7_fast(buf, 2, 3, buf, 2, 1, 0, 1, buf, 0, 0, out, 2, ffi.NULL, ffi.NULL)
    assert status == -3                                   # ch_im_in % 4 != 0
    assert not np.frombuffer(ffi.buffer(out), np.int8).any()   # nothing written
