"""qsim.costmodel: predicted QEMU instruction counts from the committed coefficients.

Fast tests use qsim/data/costmodel.json only (no QEMU). The slow test compares the prediction
with a real whole-network QEMU run (harness.cortex_m through harness.parity) of a small net.
"""
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from qsim.calibrate import calibrate
from qsim.cmsis_signatures import SIGNATURES
from qsim.companion_signatures import COMPANION_SIGNATURES
from qsim.costmodel import (DATA_FILE, PSEUDO, TARGET_PATH, CostEstimate, CostModelError, call_cost,
                            coefficients, estimate, features)
from qsim.errors import QsimError
from qsim.importers.spec import Sequential
from qsim.quantize import quantize

RELEASES = ("5.7.0", "5.9.0")
BENCH = Path(__file__).resolve().parent.parent / "bench"


def _net(ch=(8, 12), fc=16, shape=(12, 10, 2), kernel=3, scheme="q7", path="dsp", version="5.9.0"):
    spec = {"name": "cm", "input_shape": list(shape), "layers": [
        {"op": "conv", "ch_out": ch[0], "kernel": kernel, "pad": 1}, {"op": "relu"},
        {"op": "maxpool", "kernel": 2, "stride": 2},
        {"op": "conv", "ch_out": ch[1], "kernel": kernel, "pad": 1}, {"op": "relu"},
        {"op": "fc", "rows": fc}, {"op": "relu"}, {"op": "fc", "rows": 4}, {"op": "softmax"}]}
    g = Sequential.from_dict(spec).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (16,) + shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize(g, calibrate(g, x), scheme=scheme, version=version, path=path)


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("target", sorted(TARGET_PATH))
def test_every_kernel_has_a_fit(release, target):
    """Fails when a kernel is added to qsim (CMSIS table or companion) without re-running the fit."""
    table = coefficients(release, target)
    missing = [f for f in (*SIGNATURES, *COMPANION_SIGNATURES, *PSEUDO) if f not in table]
    assert not missing, f"no cost model fit for {missing}: run bench/fit_cost_model.py"
    for fn, model in table.items():
        assert len(model["features"]) == len(model["coef"]) > 0, fn
        assert all(c >= 0 for c in model["coef"]), fn        # NNLS: no negative loop cost


def test_the_data_file_holds_numbers_only():
    doc = json.loads(DATA_FILE.read_text())

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        else:
            assert isinstance(x, (int, float, str)) and (not isinstance(x, str) or len(x) < 400)
    walk(doc)


@pytest.mark.parametrize("target,path", sorted(TARGET_PATH.items()))
def test_estimate_shape_and_sum(target, path):
    g = _net(path=path)
    est = estimate(g, target)
    assert isinstance(est, CostEstimate)
    assert (est.target, est.release) == (target, "5.9.0")
    assert list(est.per_layer) == [n.name for n in g.nodes]
    assert est.total == sum(est.per_layer.values())
    assert all(v > 0 for v in est.per_layer.values())
    # the convolution dominates a relu by far
    conv = next(n.name for n in g.nodes if n.op == "conv")
    relu = next(n.name for n in g.nodes if n.op == "relu")
    assert est.per_layer[conv] > 20 * est.per_layer[relu]


def test_the_ref_path_costs_more_than_dsp():
    assert estimate(_net(path="ref"), "cortex-m3").total > 1.5 * estimate(_net(path="dsp"), "cortex-m4").total


@pytest.mark.parametrize("target,path", sorted(TARGET_PATH.items()))
def test_monotone_in_channels_and_kernel(target, path):
    totals = [estimate(_net(ch=(c, c), path=path), target).total for c in (4, 8, 16, 32)]
    assert totals == sorted(totals) and totals[-1] > 3 * totals[0]
    assert estimate(_net(kernel=5, path=path), target).total > estimate(_net(kernel=3, path=path), target).total
    big = estimate(_net(shape=(24, 20, 2), path=path), target).total
    assert big > 2.5 * estimate(_net(path=path), target).total


@pytest.mark.parametrize("release", RELEASES)
def test_conv_cost_tracks_macs(release):
    """Doubling the output channels of a big q7 conv roughly doubles its cost on both paths."""
    a = dict(dim_im_in=16, ch_im_in=16, dim_kernel=3, padding=1, stride=1, dim_im_out=16,
             bias_shift=0, out_shift=9)
    for target in TARGET_PATH:
        c16 = call_cost("arm_convolve_HWC_q7_fast", {**a, "ch_im_out": 16}, release, target)
        c32 = call_cost("arm_convolve_HWC_q7_fast", {**a, "ch_im_out": 32}, release, target)
        assert 1.7 < c32 / c16 < 2.1


def test_refuses_a_graph_quantized_for_the_other_path():
    with pytest.raises(CostModelError, match="DSP path.*cortex-m4.*not cortex-m3"):
        estimate(_net(path="dsp"), "cortex-m3")
    with pytest.raises(QsimError, match="REF path"):
        estimate(_net(path="ref"), "cortex-m4")


def test_refuses_unknown_target_kernel_and_release(tmp_path):
    g = _net()
    with pytest.raises(CostModelError, match="target 'cortex-m7' is not one of"):
        estimate(g, "cortex-m7")
    with pytest.raises(CostModelError, match="no fit for 'arm_no_such_kernel'"):
        call_cost("arm_no_such_kernel", {}, "5.9.0", "cortex-m4")
    with pytest.raises(CostModelError, match="no cost features for C function"):
        features("arm_no_such_kernel", {})
    with pytest.raises(CostModelError, match="no coefficients for CMSIS 5.8.0"):
        coefficients("5.8.0", "cortex-m4")
    # a data file without a kernel's fit: refused by name, with what to run
    doc = json.loads(DATA_FILE.read_text())
    del doc["models"]["5.9.0"]["cortex-m4"]["arm_relu_q7"]
    p = tmp_path / "cm.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(CostModelError, match="arm_relu_q7.*fit_cost_model"):
        call_cost("arm_relu_q7", {"size": 10}, "5.9.0", "cortex-m4", path=p)


def test_unquantized_graph_is_refused():
    spec = {"name": "f", "input_shape": [4, 4, 1], "layers": [{"op": "fc", "rows": 3}]}
    g = Sequential.from_dict(spec).build(seed=0)
    with pytest.raises(CostModelError, match="quantize"):
        estimate(g, "cortex-m4")


def test_the_fit_recovers_a_known_linear_model():
    """bench/fit_cost_model.fit: exact on counts that are a non-negative combination of features."""
    sys.path.insert(0, str(BENCH))
    try:
        from fit_cost_model import fit
    finally:
        sys.path.remove(str(BENCH))
    rng = np.random.default_rng(1)
    cases = [("arm_fully_connected_q7", dict(dim_vec=int(d), num_of_rows=int(r), bias_shift=0, out_shift=7))
             for d, r in zip(rng.integers(1, 600, 40), rng.integers(1, 90, 40))]
    truth = {"one": 40.0, "R": 12.0, "RD": 2.5, "R_Dmod4": 3.0}
    counts = [sum(c * features(fn, a)[k] for k, c in truth.items()) for fn, a in cases]
    names, coef, q = fit("arm_fully_connected_q7", cases, counts, np.random.default_rng(0))
    assert q["max_rel"] < 1e-6 and q["holdout_max_rel"] < 1e-6
    got = dict(zip(names, coef))
    pred = [sum(got[k] * features(fn, a)[k] for k in got) for fn, a in cases]
    np.testing.assert_allclose(pred, counts, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.cmsis
@pytest.mark.parametrize("target,path", sorted(TARGET_PATH.items()))
def test_prediction_matches_a_real_qemu_run(cmsis_path, target, path):
    """Within 3% on the total and 10% on every layer costing >= 2% of the net."""
    missing = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install gcc-arm-none-eabi "
                    "libnewlib-arm-none-eabi qemu-system-arm)")
    from cmsis_nn.locate import find_cmsis
    from harness.parity import random_inputs, run_network_parity
    checkout = find_cmsis(os.path.expanduser(cmsis_path))
    g = _net(path=path, version=checkout.version)
    est = estimate(g, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = run_network_parity(g, random_inputs(g, 2, seed=3), target=target, cmsis=checkout)
    assert rep.mismatches == 0
    measured = {r.name: r.insns for r in rep.layers if r.insns is not None}
    total = sum(measured.values())
    assert abs(est.total - total) / total < 0.03, (est.total, total)
    for name, v in measured.items():
        if v >= 0.02 * total:
            assert abs(est.per_layer[name] - v) / v < 0.10, (name, est.per_layer[name], v)


def test_kernel_cost_program_brackets_each_call_with_taps():
    """harness/kernel_cost.program: one call per case between two tap calls, fresh random data
    before each, every argument cast to its C type (no QEMU needed to read the text)."""
    from harness.kernel_cost import program
    text = program([("arm_relu_q7", {"size": 10}), ("memcpy", {"nbytes": 100}),
                    ("arm_fully_connected_q7_opt", dict(dim_vec=20, num_of_rows=3, bias_shift=0,
                                                        out_shift=7))])
    assert "arm_relu_q7((q7_t *)b_data, (uint16_t)10);" in text
    assert "memcpy(b_dst, b_src, 100);" in text
    assert "st = (long)arm_fully_connected_q7_opt((const q7_t *)b_pV, (const q7_t *)b_pM, " \
           "(uint16_t)20, (uint16_t)3, (uint16_t)0, (uint16_t)7" in text
    assert "if (st != 0) { return 12; }" in text
    assert [text.count(f"qk_tap({k}, b_dst, 0);") for k in range(6)] == [1] * 6
    assert "qk_fill(b_pM, 60);" in text and "qk_fill(b_bias, 3);" in text
    with pytest.raises(QsimError, match="1..200 cases"):
        program([])
