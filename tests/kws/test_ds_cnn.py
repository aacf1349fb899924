"""`qsim train kws --arch ds_cnn` (and `qsim demo --arch ds_cnn`): the KWS recipe with Hello Edge's
DS-CNN-S (qsim.kws.net.ds_cnn_graph) on the 49x10x1 MFCC input instead of the seed net."""
import json

import numpy as np
import pytest

from qsim import float_exec
from qsim.cli import main
from qsim.errors import ShapeError
from qsim.kws.net import ds_cnn_graph, fold_input_norm, train_kws
from tests.kws.test_flow import HAVE_ESPEAK, tiny_set  # noqa: F401 (a fixture)

pytestmark = pytest.mark.filterwarnings("ignore::qsim.errors.SaturationWarning",
                                        "ignore::qsim.errors.QuantizationWarning")


def test_ds_cnn_graph_is_hello_edge_ds_cnn_s():
    g = ds_cnn_graph(classes=5)
    assert g.tensors[g.inputs[0]].shape == (49, 10, 1)
    first = g.nodes[0]
    assert first.op == "conv" and first.attrs["kernel_shape"] == (10, 4)
    assert first.attrs["strides"] == (2, 2) and g.tensors[first.output].shape == (25, 5, 64)
    assert (first.attrs["pads"], first.attrs["pads_end"]) == ((4, 1), (5, 1))     # TF SAME
    assert [n.op for n in g.nodes].count("depthwise_conv") == 4
    pool = next(n for n in g.nodes if n.op == "avgpool")
    assert pool.attrs["kernel_shape"] == (25, 5)
    assert g.tensors[g.outputs[0]].shape == (5,)


def test_fold_input_scale_into_a_padded_first_conv(rng):
    g = ds_cnn_graph(classes=3, channels=8, blocks=1)
    x = rng.normal(0.0, 10.0, (4, 49, 10, 1)).astype(np.float32)
    folded = fold_input_norm(g, 0.0, 10.0)       # zeros of the padding stay zeros: exact
    np.testing.assert_allclose(float_exec.run(folded, x, dtype=np.float64),
                               float_exec.run(g, x / 10.0, dtype=np.float64), rtol=1e-4, atol=1e-6)
    with pytest.raises(ShapeError, match="unpadded"):
        fold_input_norm(g, -3.0, 10.0)


def test_train_kws_ds_cnn_on_arrays(rng):
    X = rng.normal(0, 3, (40, 49, 10, 1)).astype(np.float32)
    y = np.arange(40) % 5
    X[y == 1, :10] += 4.0
    g, hist = train_kws(X, y, X[:10], y[:10], classes=5, epochs=2, batch_size=8, arch="ds_cnn")
    assert g.meta["arch"] == "ds_cnn" and "spec" not in g.meta
    assert {"depthwise_conv", "avgpool"} <= {n.op for n in g.nodes}
    assert len(hist["loss"]) == 2 and np.all(np.isfinite(hist["loss"]))
    assert float_exec.run(g, X).shape == (40, 5)
    with pytest.raises(ShapeError, match="arch"):
        train_kws(X, y, classes=5, epochs=1, arch="resnet")


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
def test_cli_train_kws_arch_ds_cnn(tiny_set, tmp_path):      # noqa: F811 (the fixture)
    from qsim.kws.flow import KwsModel
    out = tmp_path / "m"
    assert main(["train", "kws", "--data", str(tiny_set), "-o", str(out), "--arch", "ds_cnn",
                 "--epochs", "1", "--batch-size", "16"]) == 0
    m = KwsModel.load(out)
    assert {"depthwise_conv", "avgpool"} <= {n.op for n in m.float_graph.nodes}
    assert set(m.qgraphs) == {"q7", "q15"}
    kernels = {n.kernel for n in m.qgraphs["q15"].nodes}
    assert any(k.startswith("qsim_") for k in kernels if k)     # q15 depthwise: a companion
    doc = json.loads((out / "kws.json").read_text())
    assert doc["train"]["arch"] == "ds_cnn"


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
def test_tiny_demo_arch_ds_cnn(tmp_path):
    """`qsim demo --arch ds_cnn` on a tiny set: the whole flow, stand-in parity of every layer."""
    import argparse
    from qsim.commands.train import settings_from
    from qsim.kws.demo import DemoSettings, run_demo
    from tests.kws.test_flow import VOICES
    ns = argparse.Namespace(epochs=1, seed=0, lr=2e-3, batch_size=16, conv=[4, 4], fc=[8],
                            keep="last", arch="ds_cnn")
    s = DemoSettings(per_class=4, voices=tuple(VOICES), train=settings_from(ns), parity_inputs=4,
                     report_samples=8)
    summary = run_demo(tmp_path / "demo", s, cache=tmp_path / "cache", standin=True)
    assert all(p["mismatches"] == 0 and p["layers"] > 0 for p in summary["parity"].values())
    doc = json.loads((tmp_path / "demo" / "model" / "kws.json").read_text())
    assert doc["train"]["arch"] == "ds_cnn"
