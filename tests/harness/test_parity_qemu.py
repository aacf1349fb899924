"""Whole-network parity on Cortex-M under QEMU (harness/cortex_m.py): generated C + CMSIS-NN built
with arm-none-eabi-gcc, run on mps2-an385 (cortex-m3, REF path) / mps2-an386 (cortex-m4, DSP
path), against simulate(trace=True), per layer.

With the stand-in (no CMSIS needed, always run in CI) this checks the cross build, the test main,
semihosting I/O, taps and instruction counts, never parity with Arm's library. The stand-in is
REF-only C, so on cortex-m4 it is compared with path "ref" (the report says so): that still
exercises the M4 build (-mcpu=cortex-m4 Thumb-2 code) and board, so one slow test keeps it.
With CMSIS_PATH set the real library runs: DSP path on cortex-m4, REF on cortex-m3.
"""
import shutil

import pytest

from harness.parity import random_inputs, run_network_parity
from harness.qemu import QemuTimeout
from qsim.cli import main
from qsim.errors import ToolchainMissing, UnsupportedOpError
from tests.codegen._models import tiny_q7, tiny_q15
from tests.harness.test_parity_host import CASES

pytestmark = [pytest.mark.qemu, pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "qemu-system-arm")),
    reason="needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm")]


def _check(report, graph, n):
    text = "\n".join(report.lines())
    assert report.mismatches == 0, text
    assert report.lines()[-1] == f"{len(graph.nodes)} layers, {n} inputs, 0 mismatches"
    assert all(r.insns is not None and r.insns > 0 for r in report.layers), text
    foot = report.footprint
    assert foot.network[0] > 0 and foot.elf[0] > foot.network[0] and foot.cmsis_bytes > 0
    return text


def test_standin_cortex_m3_q7():
    g = tiny_q7(version="5.9.0")
    report = run_network_parity(g, random_inputs(g, 4, seed=1), target="cortex-m3", cmsis=None)
    assert report.library.startswith("stand-in")
    text = _check(report, g, 4)
    assert "insns/input" in text and "footprint network object" in text
    conv = report.layers[0]
    assert conv.insns > 4 * 4 * 9 * 5 * 5          # at least one instruction per MAC


def test_cli_cortex_m3_and_a_failing_layer(tmp_path, capsys):
    """The CLI end to end (5.7.0 stand-in), then a wrong weight found at its layer."""
    model = tmp_path / "model"
    tiny_q15(version="5.7.0").save(model)
    assert main(["parity", str(model), "--target", "cortex-m3", "--standin", "--inputs", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "4 layers, 3 inputs, 0 mismatches" and "insns/input" in "\n".join(out)

    from codegen.generate import render
    from harness.cortex_m import CortexMNetwork, standin_target_library
    from harness.parity import compare
    g = tiny_q7()
    gen = render(g)
    wfile = f"{gen.name}_weights.h"
    text = gen.files[wfile]
    at = text.index("tiny_q7_fc1_weights[")
    eq = text.index("{", at) + 1
    gen.files[wfile] = text[:eq] + " 127" + text[text.index(",", eq):]
    x = random_inputs(g, 8, seed=2)
    net = CortexMNetwork(gen, standin_target_library("5.9.0", "cortex-m3"), "cortex-m3")
    outputs, taps, statuses, _ = net.run(x)
    results = {r.name: r for r in compare(g, gen, x, outputs, taps, statuses)}
    assert results["conv1"].mismatches == results["maxpool1"].mismatches == 0
    assert results["fc1"].mismatches > 0 and "expected" in results["fc1"].first
    with pytest.raises(QemuTimeout, match="--timeout"):
        net.run(x, timeout=1e-4)   # far below QEMU start-up time, so never flaky


def test_missing_toolchain_says_what_to_install(monkeypatch):
    import harness.cortex_m as cortex_m
    monkeypatch.setattr(cortex_m.shutil, "which", lambda program: None)
    with pytest.raises(ToolchainMissing, match="arm-none-eabi-gcc.*qemu-system-arm.*apt-get install "
                       "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"):
        cortex_m.require_toolchain()


@pytest.mark.slow
def test_standin_cortex_m4_is_compared_on_the_ref_path():
    g = tiny_q15(version="5.9.0")
    report = run_network_parity(g, random_inputs(g, 4, seed=1), target="cortex-m4", cmsis=None)
    _check(report, g, 4)
    assert any("REF semantics only" in n for n in report.notes)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["mixed_q7", "small_q7q15", "kws_q7"])
def test_standin_cortex_m3_networks(case):
    g = CASES[case]("5.9.0")
    report = run_network_parity(g, random_inputs(g, 3, seed=4), target="cortex-m3", cmsis=None)
    _check(report, g, 3)


@pytest.mark.cmsis
@pytest.mark.slow
@pytest.mark.parametrize("target,case", [
    ("cortex-m4", "kws_q7"), ("cortex-m4", "kws_q15"), ("cortex-m4", "mixed_q7"),
    ("cortex-m4", "small_q15"), ("cortex-m3", "kws_q7"), ("cortex-m3", "kws_q15"),
    ("cortex-m3", "small_q7q15")])
def test_real_cmsis(cmsis_path, target, case):
    """KWS q15 on cortex-m4: conv1's output width 7 is odd, which
    arm_convolve_HWC_q15_fast_nonsquare gets wrong on the DSP path; the quantizer either swaps H
    and W (passes/transpose_hw.py) or refuses, and a refusal skips the case."""
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(cmsis_path)
    path = {"cortex-m4": "dsp", "cortex-m3": "ref"}[target]
    try:
        g = CASES[case](checkout.version, path)
    except UnsupportedOpError as e:
        pytest.skip(f"{case} is refused on the {path} path: {e}")
    report = run_network_parity(g, random_inputs(g, 6, seed=3), target=target, cmsis=checkout)
    assert report.library.startswith(f"CMSIS_5 {checkout.version} ({path} path")
    _check(report, g, 6)
    assert not any("re-run" in n for n in report.notes)


@pytest.mark.cmsis
def test_real_cmsis_cortex_m4_resimulates_a_ref_graph(cmsis_path):
    """A graph quantized for REF, run on cortex-m4: the C runs the DSP path and the report says
    the simulator was re-run with path 'dsp'."""
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(cmsis_path)
    g = tiny_q7(version=checkout.version, path="ref")
    report = run_network_parity(g, random_inputs(g, 4, seed=5), target="cortex-m4", cmsis=checkout)
    _check(report, g, 4)
    assert any("re-run with path 'dsp'" in n for n in report.notes)
