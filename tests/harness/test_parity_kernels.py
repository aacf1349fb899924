"""Every numba kernel == the real CMSIS-NN host build (REF and DSP paths), plus the CLI wrapper.

The parity tests need CMSIS_PATH (a 5.7.0 or 5.9.0 checkout) and skip without it; the version
compared is the checkout's. A function whose kernel or case generator is not written yet is an
expected failure, so it shows in the summary instead of vanishing.
"""
import re

import numpy as np
import pytest

from harness.parity_kernels import describe_mismatch, run_parity
from qsim.cli import main
from qsim.cmsis_signatures import SIGNATURES

N_CASES = 20


@pytest.fixture(scope="module")
def checkout(cmsis_path):
    from cmsis_nn.locate import find_cmsis
    return find_cmsis(cmsis_path)


@pytest.mark.parametrize("path", ["ref", "dsp"])
@pytest.mark.parametrize("fn", sorted(SIGNATURES))
def test_kernel_equals_cmsis(checkout, fn, path):
    report = run_parity(checkout, path, N_CASES, seed=1, functions=[fn])
    (res,) = report.results
    if res.missing:
        pytest.xfail(f"{fn}: {res.first}")
    assert res.cases == N_CASES
    assert res.mismatches == 0, f"{res.mismatches} of {res.cases} cases differ; {res.first}"


def test_cli_reports_and_exits_zero(checkout, capsys):
    rc = main(["parity-kernels", "--cmsis", str(checkout.root), "--path", "dsp", "--cases", "3",
               "--function", "arm_fully_connected_q7", "arm_relu_q7"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "2 functions, 6 cases, 0 mismatches" and rc == 0
    assert any(line.startswith("arm_fully_connected_q7 ") for line in lines)


def test_cli_reports_a_wrong_kernel_and_exits_one(checkout, capsys, monkeypatch):
    from qsim import kernels
    real = kernels.KERNELS["arm_relu_q7"]
    monkeypatch.setitem(kernels.KERNELS, "arm_relu_q7", lambda *a, **k: real(*a, **k) ^ np.int8(1))
    rc = main(["parity-kernels", "--cmsis", str(checkout.root), "--cases", "4", "--function", "arm_relu_q7"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 1 and re.fullmatch(r"1 functions, 4 cases, [1-4] mismatches", lines[-1])  # size 0 can't differ
    assert re.search(r"arm_relu_q7 case \d: \d+ of \d+ values differ; first at \(0, \d+\): expected", lines[-2])


def test_cli_without_cmsis_is_a_clean_error(tmp_path, capsys):
    rc = main(["parity-kernels", "--cmsis", str(tmp_path / "missing"), "--function", "arm_relu_q7"])
    err = capsys.readouterr().err
    assert rc == 2 and re.search(r"does not exist.*README", err)


def test_mismatch_description_reads_like_validate():
    got = np.array([[1, 2, 3], [4, 5, 6]])
    want = np.array([[1, 2, 3], [4, 0, 0]])
    assert describe_mismatch("arm_relu_q7", 7, got, want) == (
        "arm_relu_q7 case 7: 2 of 6 values differ; first at (1, 1): expected 0, got 5")
