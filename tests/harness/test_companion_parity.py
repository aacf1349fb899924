"""qsim's companion C (codegen/companion/) == its numba kernels: on the host through cffi (plain
and -DARM_NN_TRUNCATE builds, -Wall -Wextra -Werror -Wconversion), under ASan + UBSan, and on
Cortex-M4 / Cortex-M3 in QEMU. These need only gcc (and arm-none-eabi-gcc + QEMU), no CMSIS."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from harness.cases import COMPANION_CASES
from harness.companion import build_companion, decl_check_source, host_flags
from harness.parity_companion import main, run_companion_parity
from qsim.companion_signatures import COMPANION_SIGNATURES
from qsim.kernels import COMPANION_KERNELS

N_CASES = 12
needs_qemu = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="needs arm-none-eabi-gcc, libnewlib-arm-none-eabi and qemu-system-arm")


@pytest.mark.parametrize("fn", sorted(COMPANION_SIGNATURES))
def test_c_equals_numba_on_the_host(fn):
    report = run_companion_parity(N_CASES, seed=1, functions=[fn])
    (res,) = report.results
    assert res.cases == N_CASES
    assert res.mismatches == 0, res.first


def test_a_wrong_kernel_is_reported(monkeypatch, capsys):
    real = COMPANION_KERNELS["qsim_add_q7"]
    monkeypatch.setitem(COMPANION_KERNELS, "qsim_add_q7", lambda *a, **k: real(*a, **k) ^ np.int8(1))
    rc = main(["--cases", "4", "--function", "qsim_add_q7", "qsim_clip_q7"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 1 and lines[-1].startswith("2 functions, 8 cases, ") and not lines[-1].endswith(" 0 mismatches")
    assert any("qsim_add_q7 case" in line and "values differ" in line for line in lines)


def test_build_treats_warnings_as_errors_and_checks_prototypes():
    flags = host_flags()
    assert {"-Wall", "-Wextra", "-Werror"} <= set(flags)
    text = decl_check_source()
    assert all(f.cdecl() in text for f in COMPANION_SIGNATURES.values())
    assert build_companion().lib.qsim_add_q7 is not None


@pytest.mark.slow
def test_sanitize_build_runs_clean():
    """ASan + UBSan (all checks, no exclusions) on every function, in a fresh process."""
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(asan):
        pytest.skip("gcc has no libasan")
    env = dict(os.environ, LD_PRELOAD=asan, ASAN_OPTIONS="detect_leaks=0")
    proc = subprocess.run([sys.executable, "-m", "harness.parity_companion", "--cases", "15", "--sanitize"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    n = len(COMPANION_SIGNATURES)
    assert proc.stdout.splitlines()[-1] == f"{n} functions, {15 * n} cases, 0 mismatches"


def _target_parity(cpu, truncate, per_function, seed):
    from harness.companion_qemu import run_cases_on_target
    rng = np.random.default_rng(seed)
    cases = [(fn, COMPANION_CASES[fn](rng)) for fn in sorted(COMPANION_CASES) for _ in range(per_function)]
    outs = run_cases_on_target(cases, cpu, truncate)
    for (fn, args), got in zip(cases, outs):
        want = COMPANION_KERNELS[fn](*args, truncate=truncate)
        assert got.dtype == want.dtype and np.array_equal(got, want), f"{fn} on {cpu} truncate={truncate}"


@pytest.mark.qemu
@needs_qemu
def test_c_equals_numba_on_cortex_m4_one_case_each():
    _target_parity("cortex-m4", False, 1, seed=7)


@pytest.mark.qemu
@pytest.mark.slow
@needs_qemu
@pytest.mark.parametrize("truncate", [False, True])
@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m3"])
def test_c_equals_numba_under_qemu(cpu, truncate):
    _target_parity(cpu, truncate, 8, seed=11 + truncate)
