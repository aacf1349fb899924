"""qsim.tune.tune_formats and quantize's weight_frac_override: formats moved for fidelity to the
float net, checked against an independent recomputation of the error (float_exec vs simulate)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qsim import float_exec
from qsim.calibrate import calibrate
from qsim.errors import ModelFormatError, QuantizationError, ShapeError
from qsim.importers.spec import Sequential
from qsim.quantize import quantize, weight_int
from qsim.simulate import simulate
from qsim.tune import tune_formats


def _net(seed=0):
    return (Sequential((8, 8, 4), "net").conv(6, 3, pad=1).relu().maxpool(2).fc(16).relu()
            .fc(5).softmax().build(seed=seed))


def _data(n, seed=0, outlier=False):
    x = np.random.default_rng(seed).normal(0, 1, (n, 8, 8, 4)).astype(np.float32)
    if outlier:
        x[0, 0, 0, 0] = 60.0       # one value makes the min/max input format 5 bits too coarse
    return x


def _relative_error(g, q, x, tensor):
    """Mean square of simulate - float at `tensor`, over the float's mean square (recomputed here,
    not through qsim.tune)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = q.tensors[tensor].qformat.dequantize(simulate(q, x, trace=True)[tensor])
    ref = float_exec.run(g, x, dtype=np.float64, trace=True)[tensor]
    return float(np.mean((z - ref) ** 2) / np.mean(ref ** 2))


def test_tuning_moves_a_format_spoiled_by_an_outlier_and_lowers_the_error():
    g = _net()
    x = _data(300, outlier=True)          # more than one CHUNK of items
    cal = calibrate(g, x)
    base = quantize(g, cal, scheme="q7")
    q, rep = tune_formats(g, cal, x, scheme="q7")
    assert rep.moves, str(rep)
    # the input format was the outlier's: tuning makes it finer
    assert q.tensors["input"].qformat.frac_bits > base.tensors["input"].qformat.frac_bits
    before, after = _relative_error(g, base, x, "fc2"), _relative_error(g, q, x, "fc2")
    assert rep.error_before == pytest.approx(before, rel=1e-9)
    assert rep.error_after == pytest.approx(after, rel=1e-9)
    assert after < 0.8 * before
    assert all(e2 < e1 for (*_, e1), (*_, e2) in zip(rep.moves, rep.moves[1:]))
    # the overrides reproduce the tuned graph exactly, and QAT/codegen read them from meta
    again = quantize(g, cal, scheme="q7", frac_bits_override=rep.frac_bits_override or None,
                     weight_frac_override=rep.weight_frac_override or None)
    for t in g.tensors:
        assert again.tensors[t].qformat == q.tensors[t].qformat
    for n in q.nodes:
        if n.op in ("conv", "fc"):
            assert np.array_equal(weight_int(n), weight_int(again.node(n.name)))
            assert (n.bias_shift, n.out_shift) == (again.node(n.name).bias_shift,
                                                   again.node(n.name).out_shift)
    meta = q.meta["quantize"]
    assert meta.get("frac_bits_override", {}) == rep.frac_bits_override
    assert meta.get("weight_frac_override", {}) == rep.weight_frac_override
    text = str(rep)
    assert all(f"{kind:10s} {name}: frac_bits {a} -> {b}" in text for kind, name, a, b, _ in rep.moves)


def test_tuning_is_deterministic_and_never_worse():
    g = _net(seed=3)
    x = _data(128, seed=3)
    cal = calibrate(g, x)
    q1, r1 = tune_formats(g, cal, x, scheme="q15")
    q2, r2 = tune_formats(g, cal, x, scheme="q15")
    assert r1.moves == r2.moves and r1.error_after == r2.error_after
    assert r1.error_after <= r1.error_before
    assert r1.evaluated >= 1 + 2 * 3     # every free group and layer was tried


def test_weight_frac_override_saturates_the_largest_weights():
    g = _net()
    x = _data(64)
    cal = calibrate(g, x)
    base = quantize(g, cal, scheme="q7")
    fw = base.node("fc1").weight_q.frac_bits
    q = quantize(g, cal, scheme="q7", weight_frac_override={"fc1": fw + 1})
    n = q.node("fc1")
    assert n.weight_q.frac_bits == fw + 1
    w = g.node("fc1").params["weight"].astype(np.float64)
    assert np.array_equal(weight_int(n), np.clip(np.floor(w * 2.0 ** (fw + 1) + 0.5), -128, 127))
    assert n.out_shift == base.node("fc1").out_shift + 1
    assert q.node("conv1").weight_q == base.node("conv1").weight_q
    assert q.meta["quantize"]["weight_frac_override"] == {"fc1": fw + 1}


@pytest.mark.parametrize("override, match", [({"relu1": 3}, "no layer with weights"),
                                             ({"nope": 3}, "no layer with weights"),
                                             ({"fc1": 2.0}, "must be an int"),
                                             ({"fc1": True}, "must be an int"),
                                             ({"fc1": 10 ** 6}, "must be an int in"),
                                             ([("fc1", 3)], "must be a dict")])
def test_weight_frac_override_errors(override, match):
    g = _net()
    cal = calibrate(g, _data(8))
    with pytest.raises(QuantizationError, match=match):
        quantize(g, cal, scheme="q7", weight_frac_override=override)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.integers(-40, 140), max_size=3))
def test_weight_frac_override_from_untrusted_input_is_applied_or_refused(override):
    g = _net()
    cal = calibrate(g, _data(8))
    try:
        q = quantize(g, cal, scheme="q7", weight_frac_override=override)
    except QuantizationError as e:
        assert "weight_frac_override" in str(e) or "layer" in str(e)
        return
    except ModelFormatError as e:      # a format far too fine for the weights
        assert "far outside" in str(e), e
        return
    for name, f in override.items():
        assert q.node(name).weight_q.frac_bits <= f    # the int32 headroom may coarsen it


@pytest.mark.parametrize("x, match", [(np.zeros((4, 8, 8, 3)), "shape"),
                                      (np.zeros((0, 8, 8, 4)), "N >= 1"),
                                      (np.full((4, 8, 8, 4), np.nan), "NaN"),
                                      (np.zeros((4, 8, 8, 4), np.int8), "float inputs")])
def test_bad_data_is_a_clear_error(x, match):
    g = _net()
    cal = calibrate(g, _data(8))
    with pytest.raises(ShapeError, match=match):
        tune_formats(g, cal, x, scheme="q7")
