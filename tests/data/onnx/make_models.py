"""Regenerate the small ONNX test models in this folder with PyTorch (not a qsim dependency).

    pip install torch onnx && python tests/data/onnx/make_models.py

Each file stays under 200 KB (small channel counts; the full-size KWS net is built with
onnx.helper inside tests/test_onnx_import.py instead). Seeds are fixed; BatchNorm statistics are
randomised so that folding them is actually exercised. Exported with the TorchScript exporter
(dynamo=False) in eval mode, TrainingMode.PRESERVE so BatchNormalization nodes stay in the file.
"""
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).parent


def _randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def kws_small():
    """The seed KWS topology (conv 10x4, conv 10x4 stride (2,1), fc, fc, softmax), fewer channels,
    with BatchNorm after each conv."""
    return nn.Sequential(
        nn.Conv2d(1, 8, (10, 4)), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 10, (10, 4), stride=(2, 1)), nn.BatchNorm2d(10), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(10 * 16 * 4, 32), nn.ReLU(),
        nn.Linear(32, 3), nn.Softmax(dim=1)), (1, 49, 10)


def cifar():
    """CMSIS-NN's CIFAR-10 example shape: 3 x (conv 5x5 pad 2, relu, maxpool 3 stride 2), fc 10."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(32, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Linear(32 * 3 * 3, 10), nn.Softmax(dim=1)), (3, 32, 32)


def ds_net():
    """Depthwise-separable blocks, an average pool and a global average pool."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 24, 1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(24, 24, (3, 5), stride=(1, 2), padding=(1, 2), groups=24), nn.ReLU(),
        nn.Conv2d(24, 32, 1), nn.Sigmoid(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10), nn.Tanh()), (3, 24, 24)


MODELS = {"kws_small": (kws_small, 13), "cifar": (cifar, 11), "ds_net": (ds_net, 17)}


def main():
    for name, (make, opset) in MODELS.items():
        torch.manual_seed(0)
        model, in_shape = make()
        _randomise_bn(model, torch.Generator().manual_seed(1))
        model.eval()
        path = HERE / f"{name}.onnx"
        torch.onnx.export(model, (torch.randn(1, *in_shape),), str(path), dynamo=False,
                          opset_version=opset, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                          training=torch.onnx.TrainingMode.PRESERVE)
        print(f"{path.name}: opset {opset}, {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
