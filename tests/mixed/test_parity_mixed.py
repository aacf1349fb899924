"""Whole-network parity of mixed-precision networks (tests/mixed/_nets.py): the generated C with
its requantize calls (CMSIS-NN's arm_q7_to_q15_no_shift and qsim's qsim_requantize_*) vs
simulate(trace=True), layer by layer: with qsim's stand-in on the host (always), with the real
CMSIS-NN on the host (CMSIS_PATH) and on Cortex-M4 / M3 under QEMU (slow)."""
import shutil

import numpy as np
import pytest

from harness.parity import random_inputs, run_network_parity

from ._nets import CASES, quantized

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
needs_qemu = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "qemu-system-arm")),
    reason="needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm")


def _check(report, g, n):
    text = "\n".join(report.lines())
    assert report.mismatches == 0, text
    assert report.lines()[-1] == f"{len(g.nodes)} layers, {n} inputs, 0 mismatches"
    assert any(r.kernel.startswith(("arm_q7_to_q15", "qsim_requantize")) for r in report.layers
               if r.kernel), text
    return text


@needs_gcc
@pytest.mark.parametrize("case", ["kws_conv2_fc1_16", "act_tanh_sigmoid_16", "kws_pool_concat_16"])
def test_standin_host(case):
    g = quantized(case, "5.7.0")
    report = run_network_parity(g, random_inputs(g, 4, seed=2), cmsis=None)
    assert report.library.startswith("stand-in")
    _check(report, g, 4)


@needs_gcc
@pytest.mark.cmsis
@pytest.mark.parametrize("path", ["ref", "dsp"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_real_cmsis_host(cmsis_path, case, path):
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(cmsis_path)
    g = quantized(case, checkout.version, path)
    report = run_network_parity(g, random_inputs(g, 8, seed=3), cmsis=checkout)
    assert report.library.startswith(f"CMSIS_5 {checkout.version} ({path} path")
    _check(report, g, 8)


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("target,case", [("cortex-m4", "kws_conv2_fc1_16"),
                                         ("cortex-m4", "act_tanh_sigmoid_16"),
                                         ("cortex-m3", "kws_q15_ends_8")])
def test_real_cmsis_qemu(cmsis_path, target, case):
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(cmsis_path)
    path = {"cortex-m4": "dsp", "cortex-m3": "ref"}[target]
    g = quantized(case, checkout.version, path)
    report = run_network_parity(g, random_inputs(g, 4, seed=3), target=target, cmsis=checkout)
    assert report.library.startswith(f"CMSIS_5 {checkout.version} ({path} path")
    text = _check(report, g, 4)
    assert all(r.insns is not None and r.insns > 0 for r in report.layers), text


@needs_qemu
@pytest.mark.slow
def test_standin_qemu_cortex_m3():
    g = quantized("kws_pool_concat_16", "5.9.0")
    report = run_network_parity(g, random_inputs(g, 2, seed=4), target="cortex-m3", cmsis=None)
    _check(report, g, 2)


@needs_gcc
@pytest.mark.cmsis
@pytest.mark.parametrize("seed", range(4))
def test_real_cmsis_host_random_widths(cmsis_path, seed):
    """Seeded random widths for every layer of two nets, random scheme and path."""
    from cmsis_nn.locate import find_cmsis
    from qsim.passes.precision import _computes

    from ._nets import float_case
    checkout = find_cmsis(cmsis_path)
    rng = np.random.default_rng(seed)
    case = ["act_tanh_sigmoid_16", "kws_pool_concat_16"][seed % 2]
    names = [n.name for n in float_case(case)[0].nodes if _computes(n)]
    lb = {k: int(rng.choice([8, 16])) for k in names}
    lb[names[0]] = 24 - lb[names[1]]              # at least one conversion
    path, scheme = str(rng.choice(["ref", "dsp"])), str(rng.choice(["q7", "q15", "q7q15"]))
    g = quantized(case, checkout.version, path, layer_bits=lb, scheme=scheme)
    report = run_network_parity(g, random_inputs(g, 6, seed=seed), cmsis=checkout)
    _check(report, g, 6)
