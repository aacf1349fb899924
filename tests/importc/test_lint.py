"""qsim.lint: a release/path behaviour is reported exactly when the given data reaches it, with
the affected fraction; checked on a bare softmax whose logit spans are chosen by hand."""
import warnings
from dataclasses import replace

import numpy as np
import pytest

from qsim.cli import main
from qsim.intnet import build
from qsim.lint import lint

from ._nets import SPECS, data, quantized


def _softmax_net(path, release, n=10):
    return build("sm", {"shape": [n], "bits": 8, "frac_bits": 4},
                 [{"name": "softmax", "kernel": "arm_softmax_q7"}], path=path, release=release)


def _logits(rng, spans):
    """One int8 logit vector per span: max 100, one element `span` below it, others in between."""
    out = []
    for s in spans:
        v = rng.integers(100 - min(s, 60), 101, 10)
        v[rng.integers(10)] = 100
        v[rng.integers(10)] = 100 - s
        v[v == v.max()] = 100
        out.append(v)
    return np.asarray(out, np.int8)


def test_softmax_span_fraction():
    rng = np.random.default_rng(0)
    spans = [50, 122, 100, 200, 227, 180, 10, 160]
    x = _logits(rng, spans)
    wide = sum(s > 122 for s in spans)
    found = lint(_softmax_net("dsp", "5.7.0"), x)
    assert len(found) == 1 and found[0].fact == "softmax_q7_dsp_lane_wrap"
    f = found[0]
    assert f.total == len(spans) and 0 < f.affected <= wide
    assert f"{100 * f.affected / len(spans):.1f}% of the given items" in f
    assert "logits span up to 227 steps" in f and f"more than 122 on {100 * wide / len(spans):.1f}%" in f
    assert "5.9.0" in f and "argmax" in f
    # narrow spans never trigger it; other builds have no such behaviour
    assert lint(_softmax_net("dsp", "5.7.0"), x[np.asarray(spans) <= 122]) == []
    for path, release in (("ref", "5.7.0"), ("dsp", "5.9.0"), ("ref", "5.9.0")):
        assert lint(_softmax_net(path, release), x) == []


def test_avepool_on_dsp_and_quantize_cli(tmp_path, capsys):
    # "mixed"'s pool keeps its format: arm_avepool_q7_HWC (ds_cnn's moves the format, so it runs
    # on qsim's companion kernel, the same bytes on both paths)
    g = quantized("mixed", "q7", "dsp", "5.9.0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = lint(g, data(SPECS["mixed"], 4))
    assert [f.layer for f in found] == ["avgpool1"]
    assert lint(quantized("mixed", "q7", "ref", "5.9.0"), data(SPECS["mixed"], 4)) == []
    ds = quantized("ds_cnn", "q7", "dsp", "5.9.0")
    assert ds.node("avgpool1").kernel == "qsim_avepool_q7_HWC_nonsquare"
    assert lint(ds, data(SPECS["ds_cnn"], 4)) == []


def test_import_c_lints_with_data(tmp_path, capsys):
    from .test_import_c import _export
    g = quantized("ds_cnn", "q7", "dsp", "5.9.0")
    fc = [n for n in g.nodes if n.op == "fc"][-1]
    fine = min(fc.out_shift, 4)                   # finer logits (a valid model: the output
    fc.out_shift -= fine                          # format moves with the shift)
    t = g.tensors[fc.output]
    t.qformat = replace(t.qformat, frac_bits=t.qformat.frac_bits + fine)
    header, spec = _export(g, tmp_path)
    np.save(tmp_path / "x.npy", data(SPECS["ds_cnn"], 8))
    assert main(["import-c", str(header), "--spec", str(spec), "--release", "5.7.0", "--path", "dsp",
                 "--data", str(tmp_path / "x.npy"), "-o", str(tmp_path / "imp")]) == 0
    out = capsys.readouterr().out
    assert "warning: layer 'softmax1' (arm_softmax_q7) on path dsp of CMSIS 5.7.0" in out
    assert "raise the producing layer's out_shift by" in out


@pytest.mark.parametrize("release,expect", [("5.7.0", True), ("5.9.0", False)])
def test_q15_activation_clamp(release, expect):
    net = build("act", {"shape": [16], "bits": 16, "frac_bits": 12},
                [{"name": "tanh", "op": "tanh", "kernel": "arm_nn_activations_direct_q15"}],
                release=release)
    x = np.linspace(-3000, 3000, 16 * 4).astype(np.int16).reshape(4, 16)
    found = lint(net, x)
    assert bool(found) == expect
    if expect:
        assert found[0].affected == int((x < -16).any(axis=1).sum()) == 2 and "§5.4" in found[0]
        assert lint(net, np.abs(x)) == []       # no negative input: not reached
