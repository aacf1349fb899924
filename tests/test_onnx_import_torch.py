"""Real PyTorch exports, both exporters (TorchScript `dynamo=False`, dynamo `dynamo=True`, which
writes `X.onnx` + `X.onnx.data`), imported from another working directory that holds a decoy
data file of the same name, and compared with onnxruntime. Skipped where torch (or, for dynamo,
onnxscript) is not installed; tests/test_onnx_import_exports.py builds the same graphs with
onnx.helper and always runs.
"""
import numpy as np
import onnxruntime as ort
import pytest

from qsim import float_exec
from qsim.errors import UnsupportedOpError
from qsim.importers.onnx_import import load_onnx
from tests.test_onnx_import import ATOL

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional


class PadPoolNet(nn.Module):
    """F.pad then an unpadded conv, BatchNorm, AdaptiveAvgPool2d(1), flatten, fc."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(2, 6, 3), nn.BatchNorm2d(6)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(6, 3)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(F.pad(x, (1, 1, 2, 2)))))
        return self.fc(torch.flatten(self.pool(x), 1))


class MeanNet(nn.Module):
    """x.mean((2, 3)) (ReduceMean keepdims=0), then fc; F.pad after a ReLU into a max pool."""

    def __init__(self):
        super().__init__()
        self.conv, self.conv2, self.fc = nn.Conv2d(2, 4, 3), nn.Conv2d(4, 5, 1), nn.Linear(5, 3)

    def forward(self, x):
        x = F.max_pool2d(F.pad(torch.relu(self.conv(x)), (1, 1, 1, 1)), 3, 2)
        return self.fc(torch.relu(self.conv2(x)).mean((2, 3)))


class ViewNet(nn.Module):
    """x.view(x.size(0), -1) before the fc (shape arithmetic on Shape)."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(2, 4, 3, padding=1), nn.Linear(4 * 8 * 9, 3)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(x.view(x.size(0), -1))


class GruNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru, self.fc = nn.GRU(9, 8, batch_first=True), nn.Linear(8, 3)

    def forward(self, x):
        _, h = self.gru(x[:, 0])
        return self.fc(h[0])


class AsymPadNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))          # TF "SAME" for a 2x2 kernel


def export(model, path, dynamo, batch=2):
    if dynamo:
        pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = torch.randn(batch, 2, 8, 9)
    kw = {} if dynamo else {"input_names": ["x"], "dynamic_axes": {"x": {0: "N"}}}
    torch.onnx.export(model, (x,), str(path), dynamo=dynamo, **kw)
    return path


def imported_vs_ort(path, batch=2):
    x = np.random.default_rng(1).normal(size=(batch, 2, 8, 9)).astype(np.float32)
    sess = ort.InferenceSession(str(path))
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    g = load_onnx(path)
    np.testing.assert_allclose(float_exec.run(g, x.transpose(0, 2, 3, 1), dtype=np.float64), ref,
                               atol=ATOL)
    return g


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """(model folder, decoy folder = the working directory)."""
    model, decoy = tmp_path / "model", tmp_path / "cwd"
    model.mkdir()
    decoy.mkdir()
    monkeypatch.chdir(decoy)
    return model, decoy


@pytest.mark.parametrize("dynamo", [False, True])
@pytest.mark.parametrize("net, ops", [
    (PadPoolNet, ["conv", "relu", "avgpool", "fc"]),
    (MeanNet, ["conv", "relu", "maxpool", "conv", "relu", "avgpool", "fc"]),
    (ViewNet, ["conv", "relu", "fc"]),
])
def test_torch_exports_import_and_match_ort(folders, net, ops, dynamo):
    model_dir, decoy_dir = folders
    torch.manual_seed(1)
    path = export(net(), model_dir / "net.onnx", dynamo)
    torch.manual_seed(2)
    export(net(), decoy_dir / "net.onnx", dynamo)                  # same file names, other weights
    g = imported_vs_ort(path)
    assert [n.op for n in g.nodes if n.op != "flatten"] == ops
    if net is PadPoolNet:
        assert g.nodes[0].attrs["pads"] == (2, 1)
    if dynamo:
        assert (model_dir / "net.onnx.data").exists()


@pytest.mark.parametrize("dynamo", [False, True])
def test_torch_gru_named_in_one_error(folders, dynamo):
    path = export(GruNet(), folders[0] / "gru.onnx", dynamo)
    with pytest.raises(UnsupportedOpError) as e:
        load_onnx(path)
    head = str(e.value).split("qsim imports:")[0]
    assert "unsupported op 'GRU'" in head and "ConstantOfShape" not in head, head


@pytest.mark.parametrize("dynamo", [False, True])
@pytest.mark.parametrize("net", [AsymPadNet, lambda: nn.Conv2d(2, 3, 4, padding="same")])
def test_torch_asymmetric_pad_imports_as_pads_end(folders, dynamo, net):
    """F.pad for a 2x2 kernel's TF-style SAME, and padding="same" with an even kernel (torch pads
    one more at the bottom/right, written as the Conv's own pads): pads + pads_end."""
    path = export(net(), folders[0] / "asym.onnx", dynamo)
    x = np.random.default_rng(1).normal(size=(2, 2, 8, 9)).astype(np.float32)
    sess = ort.InferenceSession(str(path))
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    g = load_onnx(path)
    np.testing.assert_allclose(float_exec.run(g, x.transpose(0, 2, 3, 1), dtype=np.float64),
                               ref.transpose(0, 2, 3, 1), atol=ATOL)
    conv = next(n for n in g.nodes if n.op == "conv")
    assert conv.attrs["pads_end"] != conv.attrs["pads"]
