"""Every numba kernel == its kernels_ref twin on randomized cases, both paths, both releases."""
import numpy as np
import pytest

from harness.cases import CASES
from kernels_ref import KERNELS_REF
from qsim.cmsis_signatures import SIGNATURES
from qsim.kernels import KERNELS

from ._compare import assert_bit_exact

N_CASES = 12


def test_every_function_has_kernel_twin_and_cases():
    assert sorted(KERNELS) == sorted(SIGNATURES)
    assert sorted(KERNELS_REF) == sorted(SIGNATURES)
    assert sorted(CASES) == sorted(SIGNATURES)


@pytest.mark.parametrize("version", ["5.7.0", "5.9.0"])
@pytest.mark.parametrize("path", ["ref", "dsp"])
@pytest.mark.parametrize("fn", sorted(SIGNATURES))
def test_kernel_equals_twin(fn, path, version):
    if fn not in KERNELS or fn not in KERNELS_REF or fn not in CASES:
        pytest.fail(f"{fn}: kernel, twin or case generator missing")
    rng = np.random.default_rng(sum(map(ord, fn + path + version)))
    for i in range(N_CASES):
        args = CASES[fn](rng, path, version)
        truncate = bool(i % 5 == 4)
        got = KERNELS[fn](*args, path=path, release=version, truncate=truncate)
        want = KERNELS_REF[fn](*args, path=path, release=version, truncate=truncate)
        assert_bit_exact(got, want, f"{fn} path={path} version={version} case {i}")
