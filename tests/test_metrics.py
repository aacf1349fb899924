"""qsim.metrics / qsim.plots: numbers recomputed independently from the two traces, PNGs valid.

Float tolerance: SQNR is a ratio of float64 sums accumulated per batch in evaluate and over the
whole set here; summation order differs, so rtol 1e-9.
"""
import json
import math

import numpy as np
import pytest
from matplotlib.image import imread

from qsim import float_exec
from qsim.calibrate import calibrate
from qsim.errors import QuantizationError, ShapeError
from qsim.importers.spec import Sequential
from qsim.plots import plot_sqnr, save_png, write_profile
from qsim.quantize import quantize
from qsim.metrics import evaluate, sqnr_db
from qsim.simulate import simulate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.filterwarnings("ignore::qsim.errors.SaturationWarning")


def _net(pool=True):
    s = Sequential((6, 6, 4), name="tiny").conv(4, 3, pad=1).relu()
    if pool:
        s = s.maxpool(2)
    return s.fc(8).relu().fc(3).softmax().build(seed=1)


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(7)
    g = _net()
    x = rng.normal(size=(40, 6, 6, 4)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    cal = calibrate(g, x[:30], stats=("minmax", "log2hist"))
    return g, quantize(g, cal, scheme="q7"), x, y, cal


def test_sqnr_edge_cases():
    assert sqnr_db(1.0, 0.0) == math.inf
    assert sqnr_db(0.0, 1.0) == -math.inf
    assert sqnr_db(100.0, 1.0) == pytest.approx(20.0)


def test_numbers_match_independent_computation(setup):
    g, q, x, y, _ = setup
    rep = evaluate(g, q, x, y, batch_size=7)
    fenv = float_exec.run(g, x, trace=True)
    qenv = simulate(q, x, trace=True)
    assert [r.tensor for r in rep.layers] == ["input"] + [n.output for n in q.nodes]
    for r in rep.layers:
        f = fenv[r.tensor].astype(np.float64)
        fmt = q.tensors[r.tensor].qformat
        fq = fmt.dequantize(qenv[r.tensor])
        readers = q.consumers(r.tensor)
        if readers and all(n.op == "relu" for n in readers):    # compared after the relu
            f, fq = np.maximum(f, 0), np.maximum(fq, 0)
        d = f - fq
        # rel 1e-6: the float32 forward's sums depend on the batch (BLAS blocking)
        assert r.sqnr_db == pytest.approx(10 * np.log10((f * f).sum() / (d * d).sum()), rel=1e-6)
        assert r.at_max == np.count_nonzero(qenv[r.tensor] == fmt.qmax)
        assert r.at_min == np.count_nonzero(qenv[r.tensor] == fmt.qmin)
        assert r.size == qenv[r.tensor].size
        assert r.output_q == str(fmt)
    pf = fenv[q.outputs[0]].argmax(1)
    pq = qenv[q.outputs[0]].argmax(1)
    assert rep.float_accuracy == np.mean(pf == y)
    assert rep.quant_accuracy == np.mean(pq == y)
    assert rep.agreement == np.mean(pf == pq)
    fc1 = next(r for r in rep.layers if r.name == "fc1")
    n = q.node("fc1")
    assert (fc1.kernel, fc1.bias_shift, fc1.out_shift) == (n.kernel, n.bias_shift, n.out_shift)
    assert fc1.weight_q == str(n.weight_q) and fc1.weight_sqnr_db > 30


def test_batch_size_does_not_change_results(setup):
    g, q, x, y, _ = setup
    a, b = evaluate(g, q, x, y, batch_size=7), evaluate(g, q, x, y, batch_size=1000)
    for ra, rb in zip(a.layers, b.layers):
        assert (ra.at_max, ra.at_min, ra.saturated, ra.size) == (rb.at_max, rb.at_min,
                                                                 rb.saturated, rb.size)
        assert ra.sqnr_db == pytest.approx(rb.sqnr_db, rel=1e-6)
        np.testing.assert_array_equal(a.histograms[ra.tensor].counts,
                                      b.histograms[rb.tensor].counts)


def test_saturation_rule_and_histograms(setup):
    g, q, x, _, _ = setup
    big = x * 50                                   # far outside the calibrated range
    rep = evaluate(g, q, big)
    rows = {r.name: r for r in rep.layers}
    assert rows["input"].saturated == rows["input"].at_max + rows["input"].at_min > 0
    assert rows["conv1"].saturated == rows["conv1"].at_max      # only relu reads conv1
    assert "data outside the calibrated range" in rep.summary()
    assert rep.float_accuracy is None and "n/a" in rep.summary()
    cal = calibrate(g, big, stats=("log2hist",))
    for t, h in rep.histograms.items():
        np.testing.assert_array_equal(h.counts, cal[t]["log2hist"].counts)
        assert h.zeros == cal[t]["log2hist"].zeros


def test_text_and_json(setup):
    g, q, x, y, _ = setup
    rep = evaluate(g, q, x, y)
    text = rep.to_text()
    for r in rep.layers:
        assert r.name in text and r.output_q in text
    d = json.loads(rep.to_json())
    assert d["scheme"] == "q7" and d["num_samples"] == 40
    assert [row["name"] for row in d["layers"]] == [r.name for r in rep.layers]
    rep.layers[1].sqnr_db = math.inf                     # exact layers: null in JSON, inf in text
    assert json.loads(rep.to_json())["layers"][1]["sqnr_db"] is None
    assert " inf " in rep.table()


def test_q15_scheme(setup):
    g = _net(pool=False)
    x = np.random.default_rng(3).normal(size=(12, 6, 6, 4)).astype(np.float32)
    q = quantize(g, calibrate(g, x), scheme="q15")
    rep = evaluate(g, q, x)
    conv = next(r for r in rep.layers if r.name == "conv1")
    assert conv.sqnr_db > 60 and conv.output_q.endswith("(16b)")


def test_errors_name_the_problem(setup):
    g, q, x, y, _ = setup
    with pytest.raises(ShapeError, match=r"\(N,\) \+ \(6, 6, 4\)"):
        evaluate(g, q, x.transpose(0, 3, 1, 2))
    with pytest.raises(ShapeError, match="empty"):
        evaluate(g, q, x[:0])
    with pytest.raises(ShapeError, match="argmax"):
        evaluate(g, q, x, np.eye(3)[y])
    with pytest.raises(ShapeError, match=r"labels must have shape \(40,\)"):
        evaluate(g, q, x, y[:5])
    with pytest.raises(ShapeError, match="classes 0..2"):
        evaluate(g, q, x, y + 3)
    with pytest.raises(QuantizationError, match="not quantized"):
        evaluate(g, g, x)
    other = Sequential((6, 6, 4)).conv(5, 3, pad=1).relu().maxpool(2).fc(8).relu().fc(3) \
        .softmax().build(seed=0)
    with pytest.raises(ShapeError, match="float model the quantized one was made from"):
        evaluate(other, q, x)


def test_profile_pngs(setup, tmp_path):
    g, q, x, y, cal = setup
    rep = evaluate(g, q, x, y, histograms={t: cal[t]["log2hist"] for t in q.tensors})
    paths = write_profile(rep, q, tmp_path)
    assert sorted(p.name for p in paths) == ["activations.png", "sqnr.png", "weights.png"]
    for p in paths:
        assert p.read_bytes()[:8] == PNG_MAGIC
        img = imread(p)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 500
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(p.name for p in paths)  # no temps
    rep.layers[2].sqnr_db = math.inf                       # an exact layer still plots
    save_png(plot_sqnr(rep), tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG_MAGIC
