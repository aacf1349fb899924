"""Issue 13's acceptance nets written in PyTorch and exported with both exporters (TorchScript
and dynamo): float import == onnxruntime, q7 quantization, QAT forward == simulate. Skipped
without torch (tests/test_acceptance_nets.py builds the same nets with the onnx helper API and
always runs)."""
import warnings

import numpy as np
import onnxruntime as ort
import pytest

from qsim import float_exec
from qsim.calibrate import calibrate
from qsim.importers.onnx_import import load_onnx
from qsim.qat import QatNet
from qsim.quantize import quantize
from qsim.simulate import simulate

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional
ATOL = 1e-4


def _bn_relu(c, six=False):
    return [nn.BatchNorm2d(c), nn.ReLU6() if six else nn.ReLU()]


class DsCnnS(nn.Module):
    """Hello Edge's DS-CNN-S on 1x49x10: TF SAME of the 10x4 stride-2 conv as ZeroPad2d."""

    def __init__(self, classes=12, c=64):
        super().__init__()
        layers = [nn.ZeroPad2d((1, 1, 4, 5)), nn.Conv2d(1, c, (10, 4), 2), *_bn_relu(c)]
        for _ in range(4):
            layers += [nn.Conv2d(c, c, 3, padding=1, groups=c), *_bn_relu(c),
                       nn.Conv2d(c, c, 1), *_bn_relu(c)]
        self.body, self.fc = nn.Sequential(*layers), nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.body(x), 1), 1))


class Block(nn.Module):
    def __init__(self, ci, co, stride):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(ci, co, 3, stride, 1), *_bn_relu(co),
                               nn.Conv2d(co, co, 3, 1, 1), nn.BatchNorm2d(co))
        self.short = (nn.Identity() if stride == 1 and ci == co else
                      nn.Sequential(nn.Conv2d(ci, co, 1, stride), nn.BatchNorm2d(co)))

    def forward(self, x):
        return torch.relu(self.a(x) + self.short(x))


class ResNet8(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1), *_bn_relu(16))
        self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


class MobileNetV1(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        layers, c = [nn.Conv2d(3, 8, 3, 2, 1), *_bn_relu(8, True)], 8
        for co, s in ((16, 1), (32, 2), (64, 2)):
            layers += [nn.Conv2d(c, c, 3, s, 1, groups=c), *_bn_relu(c, True),
                       nn.Conv2d(c, co, 1), *_bn_relu(co, True)]
            c = co
        self.body, self.pool, self.fc = nn.Sequential(*layers), nn.AdaptiveAvgPool2d(1), \
            nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.body(x)), 1))


class SameCnn(nn.Module):
    """padding="same" with even kernels (torch pads one more at the bottom/right)."""

    def __init__(self, classes=10):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 16, 4, padding="same"), nn.Conv2d(16, 32, 2, padding="same")
        self.fc = nn.Linear(32 * 8 * 8, classes)

    def forward(self, x):
        x = F.max_pool2d(torch.relu(self.c1(x)), 2)
        x = F.max_pool2d(torch.relu(self.c2(x)), 2)
        return self.fc(torch.flatten(x, 1))


class KwsPoolCat(nn.Module):
    """Max pooling over time only, and a channel concat of two branches."""

    def __init__(self, classes=12):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, (10, 4), padding=(4, 1))
        self.a, self.b = nn.Conv2d(16, 8, 3, padding=1), nn.Conv2d(16, 8, 5, padding=2)
        self.fc = nn.Linear(16 * 11 * 9, classes)

    def forward(self, x):
        x = F.max_pool2d(torch.relu(self.c1(x)), (2, 1))
        x = torch.cat([torch.relu(self.a(x)), torch.relu(self.b(x))], 1)
        return self.fc(torch.flatten(F.max_pool2d(x, (3, 1), (2, 1)), 1))


NETS = {"ds_cnn_s": (DsCnnS, (1, 49, 10), "depthwise_conv"),
        "resnet8": (ResNet8, (3, 32, 32), "add"),
        "mobilenet_v1": (MobileNetV1, (3, 32, 32), "clip"),
        "same_cnn": (SameCnn, (3, 32, 32), "maxpool"),
        "kws_pool_cat": (KwsPoolCat, (1, 49, 10), "concat")}


@pytest.mark.parametrize("dynamo", [False, True])
@pytest.mark.parametrize("name", sorted(NETS))
def test_torch_acceptance_net(tmp_path, name, dynamo):
    if dynamo:
        pytest.importorskip("onnxscript")
    cls, shape, op = NETS[name]
    torch.manual_seed(0)
    model = cls()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    path = tmp_path / f"{name}.onnx"
    kw = {} if dynamo else {"input_names": ["x"], "dynamic_axes": {"x": {0: "N"}}}
    torch.onnx.export(model, (torch.randn(16, *shape),), str(path), dynamo=dynamo, **kw)
    x = np.random.default_rng(1).normal(size=(16, *shape)).astype(np.float32)
    sess = ort.InferenceSession(str(path))
    ref = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    g = load_onnx(path)
    xh = x.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(float_exec.run(g, xh, dtype=np.float64), ref, atol=ATOL)
    assert op in {n.op for n in g.nodes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, calibrate(g, xh), scheme="q7")
        want = simulate(q, xh, trace=True)
    qnet = QatNet(q.copy())
    got = qnet.trace(qnet.quantize_input(xh))
    for t in want:
        np.testing.assert_array_equal(got[t], want[t], err_msg=t)
