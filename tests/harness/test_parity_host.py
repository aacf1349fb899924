"""Whole-network parity on the host: generated C + CMSIS-NN vs simulate(trace=True), per layer.

With the stand-in (no CMSIS needed) this checks the generator, the buffer plan, the taps and the
harness, never parity with Arm's library. With CMSIS_PATH set it is the real check.
"""
import shutil
import warnings

import numpy as np
import pytest

from codegen.generate import render
from harness.host import HostNetwork, standin_library
from harness.parity import compare, random_inputs, run_network_parity
from qsim.calibrate import calibrate
from qsim.cli import main
from qsim.importers.spec import KWS_SPEC, Sequential
from qsim.quantize import quantize
from qsim.tune import tune_formats
from tests.codegen._models import tiny_q7, tiny_q15

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")

MIXED = {"name": "mixed", "input_shape": [8, 8, 3], "layers": [
    {"op": "conv", "ch_out": 8, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
    {"op": "maxpool", "kernel": 2, "stride": 2},
    {"op": "depthwise_conv", "kernel": 3, "stride": 1, "pad": 1}, {"op": "tanh"},
    {"op": "avgpool", "kernel": 2, "stride": 2}, {"op": "flatten"},
    {"op": "fc", "rows": 6}, {"op": "sigmoid"}, {"op": "fc", "rows": 4}, {"op": "softmax"}]}

SMALL_Q15 = {"name": "small", "input_shape": [5, 7, 3], "layers": [
    {"op": "relu"}, {"op": "conv", "ch_out": 5, "kernel": [3, 2], "stride": 1, "pad": 0},
    {"op": "relu"}, {"op": "fc", "rows": 5}, {"op": "sigmoid"}]}

# conv2 reads 10 channels and writes 9, conv3 reads 9: choose_kernels appends zero channels
# (10 -> 12, 9 -> 12) so both can use arm_convolve_HWC_q7_fast
PADDED_Q7 = {"name": "padded", "input_shape": [9, 9, 3], "layers": [
    {"op": "conv", "ch_out": 10, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
    {"op": "maxpool", "kernel": 3, "stride": 1, "pad": 1},
    {"op": "conv", "ch_out": 9, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
    {"op": "conv", "ch_out": 8, "kernel": 3, "stride": 1, "pad": 0}, {"op": "relu"},
    {"op": "flatten"}, {"op": "fc", "rows": 4}, {"op": "softmax"}]}


def _quantized(spec, scheme, version="5.9.0", path="ref", tuned=False):
    """tuned: formats moved by qsim.tune (finer / coarser activations, saturated weights)."""
    g = Sequential.from_dict(spec).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (16,) + tuple(spec["input_shape"])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if tuned:               # one outlier spoils the min/max input format: tuning moves it
            x.reshape(len(x), -1)[0, 0] = 40.0
            q, report = tune_formats(g, calibrate(g, x), x, scheme=scheme, version=version,
                                     path=path)
            assert report.moves, f"{spec['name']}: tuning moved no format, nothing to check"
            return q
        return quantize(g, calibrate(g, x), scheme=scheme, version=version, path=path)


CASES = {
    "tiny_q7": lambda v, p="ref": tiny_q7(version=v, path=p),
    "tiny_q15": lambda v, p="ref": tiny_q15(version=v, path=p),
    "kws_q7": lambda v, p="ref": _quantized(KWS_SPEC, "q7", v, p),
    "kws_q15": lambda v, p="ref": _quantized(KWS_SPEC, "q15", v, p),
    "mixed_q7": lambda v, p="ref": _quantized(MIXED, "q7", v, p),
    "small_q15": lambda v, p="ref": _quantized(SMALL_Q15, "q15", v, p),
    "small_q7q15": lambda v, p="ref": _quantized(SMALL_Q15, "q7q15", v, p),
    "padded_q7": lambda v, p="ref": _quantized(PADDED_Q7, "q7", v, p),
    "kws_q7_tuned": lambda v, p="ref": _quantized(KWS_SPEC, "q7", v, p, tuned=True),
    "mixed_q7_tuned": lambda v, p="ref": _quantized(MIXED, "q7", v, p, tuned=True),
}


@pytest.mark.parametrize("version", ["5.7.0", "5.9.0"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_standin_matches_simulator(case, version):
    g = CASES[case](version)
    report = run_network_parity(g, random_inputs(g, 6, seed=1), cmsis=None)
    assert report.library.startswith("stand-in")
    assert report.mismatches == 0, "\n".join(report.lines())
    assert report.lines()[-1] == f"{len(g.nodes)} layers, 6 inputs, 0 mismatches"


def test_a_wrong_weight_is_reported_at_its_layer():
    g = tiny_q7()
    gen = render(g)
    wfile = f"{gen.name}_weights.h"
    text = gen.files[wfile]
    at = text.index("tiny_q7_fc1_weights[")
    head, tail = text[:at], text[at:]
    eq = tail.index("{") + 1
    first_value_end = tail.index(",", eq)
    tail = tail[:eq] + " 127" + tail[first_value_end:]
    gen.files[wfile] = head + tail
    x = random_inputs(g, 8, seed=2)
    net = HostNetwork(gen, standin_library("5.9.0"))
    outputs, taps, statuses = net.run(x)
    results = {r.name: r for r in compare(g, gen, x, outputs, taps, statuses)}
    assert results["conv1"].mismatches == results["maxpool1"].mismatches == 0
    assert results["fc1"].mismatches > 0 and "expected" in results["fc1"].first


def test_cli_parity_and_codegen(tmp_path, capsys):
    model = tmp_path / "model"
    tiny_q15().save(model)
    assert main(["parity", str(model), "--standin", "--inputs", "4"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "4 layers, 4 inputs, 0 mismatches"
    assert main(["codegen", str(model), "-o", str(tmp_path / "c")]) == 0
    assert main(["codegen", str(model), "-o", str(tmp_path / "c")]) == 2         # exists
    assert main(["codegen", str(tmp_path / "none"), "-o", str(tmp_path / "d")]) == 2   # no model
    assert "already exists" in capsys.readouterr().err


@pytest.mark.cmsis
@pytest.mark.parametrize("case,path", [("kws_q7", "ref"), ("kws_q15", "ref"), ("mixed_q7", "ref"),
                                       ("small_q7q15", "ref"),
                                       ("kws_q7", "dsp"), ("mixed_q7", "dsp"), ("small_q15", "dsp"),
                                       ("kws_q7_tuned", "ref"), ("kws_q7_tuned", "dsp"),
                                       ("mixed_q7_tuned", "dsp")])
def test_real_cmsis(cmsis_path, case, path):
    """path 'dsp' is the host DSP-emulation build (cmsis_nn/dsp_intrinsics.h). KWS q15 has no DSP
    case: its conv1 output width 7 is odd, which q15_fast_nonsquare cannot do on DSP."""
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(cmsis_path)
    g = CASES[case](checkout.version, path)
    report = run_network_parity(g, random_inputs(g, 20, seed=3), cmsis=checkout)
    assert report.library.startswith(f"CMSIS_5 {checkout.version}")
    assert report.mismatches == 0, "\n".join(report.lines())


@pytest.mark.slow
def test_sanitize_build_runs_clean(tmp_path):
    """ASan + UBSan build of the generated code and the stand-in, in a fresh process."""
    import os
    import subprocess
    import sys
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(asan):
        pytest.skip("gcc has no libasan")
    model = tmp_path / "model"
    tiny_q7().save(model)
    env = dict(os.environ, LD_PRELOAD=asan, ASAN_OPTIONS="detect_leaks=0")
    proc = subprocess.run([sys.executable, "-m", "qsim.cli", "parity", str(model), "--standin",
                           "--sanitize", "--inputs", "3"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "6 layers, 3 inputs, 0 mismatches"
