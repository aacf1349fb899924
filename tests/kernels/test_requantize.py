"""qsim_requantize_q7_q15 / _q15_q7 (the mixed-precision conversion): numba == readable twin ==
qsim's C (host, cffi; Cortex-M4 under QEMU) on hypothesis-drawn shapes, shifts and values,
hand-worked rounding and saturation, and arm_q7_to_q15_no_shift as the lshift = rshift = 0 case."""
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels_ref import COMPANION_REF
from qsim.errors import KernelArgumentError
from qsim.kernels import COMPANION_KERNELS, KERNELS

from ._compare import assert_bit_exact

FNS = {"qsim_requantize_q7_q15": (8, np.int8), "qsim_requantize_q15_q7": (16, np.int16)}
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


@st.composite
def cases(draw):
    fn = draw(st.sampled_from(sorted(FNS)))
    bits, dtype = FNS[fn]
    n, size = draw(st.integers(1, 3)), draw(st.integers(0, 40))
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = draw(st.lists(st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, 0, -1, 1])),
                           min_size=n * size, max_size=n * size))
    lshift = draw(st.one_of(st.integers(0, 30 - bits), st.just(30 - bits), st.just(0)))
    rshift = draw(st.one_of(st.integers(0, 31), st.sampled_from([0, 1, 8, 31])))
    truncate = draw(st.booleans())
    return fn, np.array(values, dtype).reshape(n, size), lshift, rshift, truncate


@given(cases())
@settings(max_examples=150, deadline=None)
def test_numba_equals_twin(case):
    fn, x, ls, rs, truncate = case
    args = (x, ls, rs, x.shape[1])
    assert_bit_exact(COMPANION_KERNELS[fn](*args, truncate=truncate),
                     COMPANION_REF[fn](*args, truncate=truncate), f"{fn} ls={ls} rs={rs}")


@pytest.fixture(scope="module")
def c_libs():
    from harness.cmsis_call import CmsisLibrary
    from harness.companion import build_companion
    return {t: CmsisLibrary.from_build(build_companion(t)) for t in (False, True)}


@needs_gcc
@given(case=cases())
@settings(max_examples=150, deadline=None)
def test_c_equals_numba_on_the_host(c_libs, case):
    fn, x, ls, rs, truncate = case
    args = (x, ls, rs, x.shape[1])
    got = c_libs[truncate].call(fn, *args)
    want = COMPANION_KERNELS[fn](*args, truncate=truncate)
    assert got.dtype == want.dtype
    assert_bit_exact(got, want, f"{fn} ls={ls} rs={rs} truncate={truncate}")


@pytest.mark.parametrize("impl", [COMPANION_KERNELS, COMPANION_REF], ids=["numba", "twin"])
def test_hand_worked_values(impl):
    x8 = np.array([[-128, -3, -2, -1, 0, 1, 2, 3, 127]], np.int8)
    assert impl["qsim_requantize_q7_q15"](x8, 8, 0, 9).tolist() == [[v * 256 for v in x8[0].tolist()]]
    # Q.f -> Q.(f-1): half up, as NN_ROUND: -1.5 -> -1, -0.5 -> 0, 1.5 -> 2
    assert impl["qsim_requantize_q7_q15"](x8, 0, 1, 9).tolist() == [[-64, -1, -1, 0, 0, 1, 1, 2, 64]]
    assert impl["qsim_requantize_q7_q15"](x8, 0, 1, 9, truncate=True).tolist() == \
        [[-64, -2, -1, -1, 0, 0, 1, 1, 63]]
    x16 = np.array([[-32768, -129, -128, 127, 128, 383, 32767]], np.int16)
    assert impl["qsim_requantize_q15_q7"](x16, 0, 0, 7).tolist() == [[-128, -128, -128, 127, 127, 127, 127]]
    assert impl["qsim_requantize_q15_q7"](x16, 0, 8, 7).tolist() == [[-128, -1, 0, 0, 1, 1, 127]]
    assert impl["qsim_requantize_q15_q7"](x16, 0, 31, 7).tolist() == [[0] * 7]


def test_widening_without_shift_is_cmsis_sign_extension():
    x = np.arange(-128, 128, dtype=np.int8).reshape(2, 128)
    cmsis = KERNELS["arm_q7_to_q15_no_shift"](x, 128, path="dsp", release="5.7.0")
    assert_bit_exact(COMPANION_KERNELS["qsim_requantize_q7_q15"](x, 0, 0, 128), cmsis, "no shift")


@pytest.mark.parametrize("fn,ls,rs,match", [
    ("qsim_requantize_q7_q15", 23, 0, "lshift=23 > 22"),
    ("qsim_requantize_q15_q7", 15, 0, "lshift=15 > 14"),
    ("qsim_requantize_q15_q7", 0, 32, "rshift"),
])
def test_out_of_range_shifts_are_refused(fn, ls, rs, match):
    bits, dtype = FNS[fn]
    with pytest.raises(KernelArgumentError, match=match):
        COMPANION_KERNELS[fn](np.zeros((1, 2), dtype), ls, rs, 2)


@pytest.mark.qemu
@pytest.mark.skipif(any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "qemu-system-arm")),
                    reason="needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm")
@pytest.mark.parametrize("truncate", [False, True])
def test_c_equals_numba_on_cortex_m4(truncate):
    from harness.cases import COMPANION_CASES
    from harness.companion_qemu import run_cases_on_target
    rng = np.random.default_rng(17 + truncate)
    cases = [(fn, COMPANION_CASES[fn](rng)) for fn in sorted(FNS) for _ in range(12)]
    outs = run_cases_on_target(cases, "cortex-m4", truncate)
    for (fn, args), got in zip(cases, outs):
        want = COMPANION_KERNELS[fn](*args, truncate=truncate)
        assert got.dtype == want.dtype and np.array_equal(got, want), f"{fn} truncate={truncate}"
