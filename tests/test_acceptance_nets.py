"""Issue 13's acceptance networks (qsim.zoo: DS-CNN-S on 49x10 MFCC, ResNet-8 with residual adds,
MobileNet-v1 with ReLU6, a Keras SAME-padding CNN with even kernels as tf2onnx writes it, a KWS CNN
with max pooling over time and a channel concat), built with the onnx helper API:

    float import == onnxruntime; export -> onnxruntime == float_exec
    float training runs over the DAG (a few steps lower the training loss)
    q7 / q7q15 quantization, QAT forward == simulate bit for bit, one QAT step, C parity
    (stand-in always; the real CMSIS-NN with CMSIS_PATH)

The quantization cases skip, naming the refusal, while the quantizer cannot take a net.
Tolerance vs onnxruntime: float64 here, float32 there, dot products of up to ~600 terms and a
dozen layers: atol 1e-4 on outputs (softmax probabilities).
"""
import shutil
import warnings

import numpy as np
import onnxruntime as ort
import pytest

from qsim import float_exec, zoo
from qsim.calibrate import calibrate
from qsim.errors import QuantizationError, UnsupportedOpError
from qsim.exporters import to_onnx
from qsim.importers.onnx_import import load_onnx
from qsim.qat import QatNet
from qsim.quantize import quantize
from qsim.simulate import simulate
from qsim.train import train

NETS = sorted(zoo.ACCEPTANCE)
ATOL = 1e-4
pytestmark = pytest.mark.filterwarnings("ignore::qsim.errors.SaturationWarning",
                                        "ignore::qsim.errors.QuantizationWarning")


@pytest.fixture(scope="module")
def models():
    return {name: zoo.ACCEPTANCE[name][0](seed=1) for name in NETS}


def _inputs(name, n, seed=0):
    shape = zoo.ACCEPTANCE[name][1]
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)


def _hwc(name, x):
    """The zoo's NCHW inputs as qsim's NHWC (keras_same already takes NHWC)."""
    return x if name == "keras_same" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("name", NETS)
def test_float_import_matches_onnxruntime_and_exports_back(models, name):
    model = models[name]
    x = _inputs(name, 6)
    ref = ort.InferenceSession(model.SerializeToString()).run(None, {"input": x})[0]
    g = load_onnx(model)
    y = float_exec.run(g, _hwc(name, x), dtype=np.float64)
    np.testing.assert_allclose(y, ref, atol=ATOL)
    ops = {n.op for n in g.nodes}
    want = {"ds_cnn_s": {"depthwise_conv", "avgpool"}, "resnet8": {"add"},
            "mobilenet_v1": {"clip", "depthwise_conv"}, "keras_same": {"maxpool"},
            "kws_cnn_pool": {"concat", "maxpool"}}[name]
    assert want <= ops and "batchnorm" not in ops
    if name in ("ds_cnn_s", "keras_same", "kws_cnn_pool"):      # TF SAME: pads + pads_end
        assert any("pads_end" in n.attrs for n in g.nodes)
    exported = to_onnx(g)
    back = ort.InferenceSession(exported.SerializeToString()).run(None, {"input": _hwc(name, x)})[0]
    np.testing.assert_allclose(back, y, atol=ATOL)


@pytest.mark.parametrize("name", NETS)
def test_float_training_steps_lower_the_loss(models, name):
    g = load_onnx(models[name])
    x = _hwc(name, _inputs(name, 24, seed=2))
    classes = zoo.ACCEPTANCE[name][2]
    y = np.arange(24) % classes
    trained, hist = train(g, x, y, epochs=4, batch_size=8, lr=3e-3, seed=0)
    assert np.all(np.isfinite(hist["loss"])) and hist["loss"][-1] < hist["loss"][0], hist["loss"]
    changed = [n.name for n, m in zip(g.nodes, trained.nodes) if n.params
               and not np.array_equal(n.params["weight"], m.params["weight"])]
    assert len(changed) == sum(bool(n.params) for n in g.nodes)      # every layer learned


def _quantized(g, x, scheme):
    try:
        return quantize(g, calibrate(g, x), scheme=scheme)
    except (UnsupportedOpError, QuantizationError) as e:
        pytest.skip(f"quantize does not take this net yet: {e}")


@pytest.mark.parametrize("scheme", ["q7", "q7q15"])
@pytest.mark.parametrize("name", NETS)
def test_quantized_qat_equals_simulate_and_c_parity(models, name, scheme):
    from harness.parity import run_network_parity
    from qsim.qat.train import finetune
    g = load_onnx(models[name])
    x = _hwc(name, _inputs(name, 24, seed=3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = _quantized(g, x, scheme)
        want = simulate(q, x, trace=True)
    qnet = QatNet(q.copy())
    got = qnet.trace(qnet.quantize_input(x))
    assert set(got) == set(want)
    for t in want:
        np.testing.assert_array_equal(got[t], want[t], err_msg=t)
    classes = zoo.ACCEPTANCE[name][2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tuned, _ = finetune(g, q, x, np.arange(len(x)) % classes, epochs=1, batch_size=12)
    assert tuned.quant.scheme == scheme
    report = run_network_parity(q, x[:3], cmsis=None)
    assert report.mismatches == 0 and report.layers, report.summary()


@pytest.mark.cmsis
@pytest.mark.parametrize("name", NETS)
def test_c_parity_real_cmsis(models, name, cmsis_path):
    from cmsis_nn.locate import find_cmsis
    from harness.parity import run_network_parity
    g = load_onnx(models[name])
    x = _hwc(name, _inputs(name, 16, seed=4))
    for scheme in ("q7", "q7q15"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = _quantized(g, x, scheme)
        report = run_network_parity(q, x[:4], cmsis=find_cmsis(cmsis_path))
        assert report.mismatches == 0 and report.layers, report.summary()


@pytest.mark.cmsis
@pytest.mark.skipif(any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "qemu-system-arm")),
                    reason="arm-none-eabi-gcc and qemu-system-arm are needed for Cortex-M parity")
@pytest.mark.parametrize("name", NETS)
def test_c_parity_cortex_m_real_cmsis(models, name, cmsis_path):
    """q7 on the Cortex-M4 (DSP path) and q7q15 on the Cortex-M3 (REF path), in QEMU."""
    from cmsis_nn.locate import find_cmsis
    from harness.parity import run_network_parity
    cmsis = find_cmsis(cmsis_path)
    g = load_onnx(models[name])
    x = _hwc(name, _inputs(name, 16, seed=5))
    for scheme, target, path in (("q7", "cortex-m4", "dsp"), ("q7q15", "cortex-m3", "ref")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                q = quantize(g, calibrate(g, x), scheme=scheme, path=path, version=cmsis.version)
            except (UnsupportedOpError, QuantizationError) as e:
                pytest.skip(f"quantize does not take this net yet: {e}")
        report = run_network_parity(q, x[:2], target=target, cmsis=cmsis)
        assert report.mismatches == 0 and report.layers, f"{target}: {report.summary()}"


@pytest.mark.slow
def test_example_script_runs_end_to_end(tmp_path, capsys):
    import runpy
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / "examples" / "acceptance_nets.py"
    argv = sys.argv
    sys.argv = [str(script), "--nets", "kws_cnn_pool", "--epochs", "3", "--out", str(tmp_path)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    assert out.count("0 mismatches") == 2 and "qsim_concat_channels_q7" in out
    acc = [float(line.split("accuracy ")[1].split("%")[0]) for line in out.splitlines()
           if "float        test accuracy" in line]
    assert acc and acc[0] > 50, out
