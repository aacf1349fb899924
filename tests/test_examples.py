"""The examples' two networks (CMSIS-NN's CIFAR-10 topology and a DS-CNN) through the public API
and through the unchanged `qsim` subcommands, on scikit-learn's digits (qsim.datasets.digits).

Fast tests train one short epoch on a subset (the CLI only needs a saved, sensible model); the
accuracy runs of examples/*.py are marked slow. Parity runs on the stand-in (REF path) always and
on the real CMSIS-NN (REF and DSP paths) when CMSIS_PATH is set.
"""
import os
import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import qsim
from qsim.cli import main
from qsim.datasets.digits import load_digits, split_indices, to_images
from qsim.importers.spec import CIFAR10_SPEC, DS_CNN_SPEC
from qsim.train import train

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::qsim.errors.SaturationWarning",
                                        "ignore::qsim.errors.QuantizationWarning")
MODELS = {"cifar10": (CIFAR10_SPEC, 3), "ds_cnn": (DS_CNN_SPEC, 1)}


@pytest.fixture(scope="module")
def digits():
    return {c: load_digits(channels=c) for c in (1, 3)}


def test_digits_shapes_range_and_split(digits):
    d = digits[3]
    sizes = [len(d.split(s)[0]) for s in ("train", "val", "test")]
    assert sizes == [1078, 269, 450] and sum(sizes) == 1797
    for s in ("train", "val", "test"):
        x, y = d.split(s)
        assert x.shape[1:] == (32, 32, 3) and x.dtype == np.float32 and y.dtype == np.int64
        assert x.min() >= -1.0 and x.max() <= 127 / 128          # inside Q0.7: no saturation
        assert np.array_equal(x[..., 0], x[..., 2])
        assert set(np.unique(y)) == set(range(10))
    assert np.array_equal(digits[1].x_test[..., 0], d.x_test[..., 0])


def test_digits_split_is_deterministic_disjoint_and_stratified():
    y = np.repeat(np.arange(10), 20)
    a, b = split_indices(y, seed=3), split_indices(y, seed=3)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert np.array_equal(np.sort(np.concatenate(a)), np.arange(len(y)))
    assert [np.bincount(y[p], minlength=10).tolist() for p in a] == [[12] * 10, [3] * 10, [5] * 10]
    assert not np.array_equal(split_indices(y, seed=4)[0], a[0])


def test_to_images_keeps_block_structure():
    raw = np.zeros((1, 8, 8), np.float32)
    raw[0, 3, 4] = 16
    img = to_images(raw, 32, 1)[0, ..., 0]
    peak = img[13:15, 17:19]                  # the 4 output pixels around the source centre
    assert np.all(peak == img.max()) and np.sum(img == img.max()) == 4
    assert img[0, 0] == -1.0 and np.all(img[:8] == -1.0) and np.all(img[:, :12] == -1.0)
    full = to_images(np.full((1, 8, 8), 16, np.float32), 32, 1)
    assert np.all(full == 127 / 128)


def test_public_api_names_stay_functions():
    """qsim.calibrate / quantize / simulate are functions even after their submodules load."""
    import importlib
    for name in ("calibrate", "quantize", "simulate"):
        importlib.import_module(f"qsim.{name}")
        assert callable(getattr(qsim, name)) and callable(getattr(qsim, name))
    from qsim import calibrate
    assert callable(calibrate)
    importlib.import_module("qsim.tune")
    assert qsim.tune_formats is importlib.import_module("qsim.tune").tune_formats


def test_cifar10_spec_matches_cmsis_example_geometry():
    g = qsim.Sequential.from_dict(CIFAR10_SPEC).build(seed=0)
    shapes = {n.name: g.tensors[n.output].shape for n in g.nodes}
    assert [shapes[f"maxpool{i}"] for i in (1, 2, 3)] == [(16, 16, 32), (8, 8, 16), (4, 4, 32)]
    assert g.node("fc1").params["weight"].shape == (10, 4 * 4 * 32)


def _quick(name, digits, n=256):
    spec, ch = MODELS[name]
    d = digits[ch]
    g = qsim.Sequential.from_dict(spec).build(seed=0)
    g, _ = train(g, d.x_train[:n], d.y_train[:n], epochs=1, batch_size=32, seed=0)
    return g, d


@pytest.fixture(scope="module", params=sorted(MODELS))
def saved(request, digits, tmp_path_factory):
    """A briefly trained float model saved as a folder and as ONNX, with test data files."""
    g, d = _quick(request.param, digits)
    folder = tmp_path_factory.mktemp(request.param)
    g.save(folder / "float")
    from qsim.exporters import export_onnx
    export_onnx(g, folder / "model.onnx")
    np.save(folder / "x.npy", d.x_test[:64])
    np.save(folder / "y.npy", d.y_test[:64])
    np.save(folder / "x8.npy", d.x_test[:8])
    return request.param, g, folder


@pytest.fixture
def cli(capsys):
    def run(*args):
        rc = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert rc == 0, out + err
        return out
    return run


def test_onnx_round_trip_keeps_ceil_mode_pooling(saved):
    name, g, folder = saved
    back = qsim.load(folder / "model.onnx")
    x = np.load(folder / "x8.npy")
    np.testing.assert_allclose(qsim.run_float(back, x), qsim.run_float(g, x), atol=1e-5)
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(folder / "model.onnx"))
    inp = sess.get_inputs()[0]
    feed = x if inp.shape[-1] == x.shape[-1] else x.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(sess.run(None, {inp.name: feed})[0].reshape(len(x), -1),
                               qsim.run_float(g, x), atol=1e-5)


@pytest.mark.parametrize("path", ["ref", "dsp"])
def test_cli_flow_unchanged(saved, cli, path, tmp_path):
    name, g, folder = saved
    model = folder / ("model.onnx" if path == "dsp" else "float")       # both model kinds
    out = cli("calibrate", model, "--data", folder / "x.npy", "--labels", folder / "y.npy",
              "-o", tmp_path / "cal.json")
    assert "accuracy" in out
    cli("quantize", model, "--calib", tmp_path / "cal.json", "--path", path, "-o", tmp_path / "q")
    out = cli("evaluate", tmp_path / "q", "--float", model, "--data", folder / "x.npy",
              "--labels", folder / "y.npy", "--layers")
    assert "quantized accuracy" in out and ("maxpool3" in out or "avgpool1" in out)
    cli("report", tmp_path / "q", "--float", model, "--data", folder / "x.npy", "--labels",
        folder / "y.npy", "--calib", tmp_path / "cal.json", "-o", tmp_path / "rep")
    assert (tmp_path / "rep" / "report.json").is_file()
    cli("codegen", tmp_path / "q", "-o", tmp_path / "c")
    src = (tmp_path / "c" / f"{g.name}.c").read_text()
    kernels = {"cifar10": ["arm_convolve_HWC_q7_RGB", "arm_convolve_HWC_q7_fast",
                           "arm_maxpool_q7_HWC", "arm_fully_connected_q7_opt", "arm_softmax_q7"],
               "ds_cnn": ["arm_depthwise_separable_conv_HWC_q7",
                          "arm_convolve_1x1_HWC_q7_fast_nonsquare"]}[name]
    assert all(k + "(" in src for k in kernels)
    if name == "ds_cnn":    # CMSIS-NN's average keeps its input format; a finer one needs qsim's
        assert "arm_avepool_q7_HWC(" in src or "qsim_avepool_q7_HWC_nonsquare(" in src
    if path == "ref":
        out = cli("parity", tmp_path / "q", "--standin", "--data", folder / "x8.npy")
        assert out.rstrip().endswith("8 inputs, 0 mismatches")


def test_simulate_matches_float_on_quick_model(saved):
    """PTQ keeps most top-1 decisions of the briefly trained model (both paths; the model is
    unsure, with near-ties, so 70%: the slow example tests check real accuracies). CMSIS 5.9.0:
    the DSP softmax_q7 of 5.7.0 mis-ranks logits 123+ LSBs below the maximum (doc §4.2)."""
    name, g, folder = saved
    x = np.load(folder / "x.npy")
    cal = qsim.calibrate(g, x)
    ref = qsim.run_float(g, x).argmax(1)
    for path in ("ref", "dsp"):
        q = qsim.quantize(g, cal, path=path, version="5.9.0")
        assert np.mean(qsim.predict(q, x) == ref) >= 0.7


@pytest.mark.cmsis
@pytest.mark.parametrize("path", ["ref", "dsp"])
def test_cli_parity_real_cmsis(saved, cli, path, tmp_path, cmsis_path):
    name, g, folder = saved
    cli("calibrate", folder / "float", "--data", folder / "x.npy", "-o", tmp_path / "cal.json")
    from cmsis_nn.locate import find_cmsis
    version = find_cmsis(cmsis_path).version
    cli("quantize", folder / "float", "--calib", tmp_path / "cal.json", "--path", path,
        "--version", version, "-o", tmp_path / "q")
    out = cli("parity", tmp_path / "q", "--cmsis", cmsis_path, "--data", folder / "x.npy")
    assert out.rstrip().endswith("64 inputs, 0 mismatches"), out


def _run_example(script, tmp_path, argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script] + argv + ["--out", str(tmp_path)])
    with warnings.catch_warnings():
        runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    return capsys.readouterr().out


def _accuracies(out):
    acc = {}
    for line in out.splitlines():
        if "test accuracy" in line:
            key = line.split("test accuracy")[0].strip()
            acc[key] = float(line.split()[-1].rstrip("%"))
    return acc


@pytest.mark.slow
def test_example_cifar_digits(tmp_path, monkeypatch, capsys):
    out = _run_example("cifar_digits.py", tmp_path, ["--epochs", "6"], monkeypatch, capsys)
    acc = _accuracies(out)
    assert acc["float"] >= 90 and acc["PTQ q7 ref"] >= acc["float"] - 3, out
    assert acc["PTQ q7 dsp"] >= acc["float"] - 3, out
    assert out.count(" 0 mismatches") >= 1 and "FAIL" not in out, out
    assert (tmp_path / "c_ref" / "cifar10.c").is_file()


@pytest.mark.slow
def test_example_ds_cnn(tmp_path, monkeypatch, capsys):
    out = _run_example("ds_cnn.py", tmp_path, ["--epochs", "10"], monkeypatch, capsys)
    acc = _accuracies(out)
    assert acc["float"] >= 85 and acc["PTQ q7 ref"] >= acc["float"] - 5, out
    assert out.count(" 0 mismatches") >= 1, out
    if os.environ.get("CMSIS_PATH"):
        assert out.count(" 0 mismatches") == 2, out
