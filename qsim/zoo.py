"""The networks users bring (issue 13's acceptance nets), as ONNX models built with onnx.helper
the way exporters write them: NCHW activations, BatchNormalization after the convs, Relu or
Clip(0, 6), residual Add, Concat, explicit asymmetric pads as tf2onnx writes TF "SAME" padding.

    model = ds_cnn_s(classes=12, seed=0)        # onnx.ModelProto, random weights
    graph = load_onnx(model)                    # qsim.importers.onnx_import (qsim.load: a file)

    ds_cnn_s        Hello Edge's DS-CNN-S on 49x10x1 MFCC: conv 10x4 stride 2x2, 64 channels, TF
                    SAME padding (top/left 4/1, bottom/right 5/1), BN, ReLU; four DS blocks
                    (depthwise 3x3 + BN + ReLU + pointwise 1x1 + BN + ReLU); global average pool
                    over 25x5; fc; softmax
    resnet8         MLPerf Tiny's ResNet-8 shape on 32x32x3: conv 3x3 16 + BN + ReLU, three
                    residual stacks (16, 32, 64 channels; the last two stride 2 with a 1x1 conv
                    shortcut), residual Add + ReLU, global average pool, fc
    mobilenet_v1    MobileNet-v1 style on 32x32x3 (width 1/4 of the paper's 32..): conv 3x3
                    stride 2, depthwise-separable blocks, BN, ReLU6 = Clip(0, 6) everywhere, global
                    average pool, fc
    keras_same      a Keras CNN as tf2onnx writes it: NHWC input + Transpose, convs with even
                    kernels (4x4, 2x2) and a stride-2 3x3, all "SAME" (explicit pads, one more at
                    the bottom/right), max pools, Transpose back, Flatten (NHWC order), Gemm
    kws_cnn_pool    a KWS CNN on 49x10x1 with max pooling over time only (2x1 windows) and a
                    channel Concat of two branches (3x3 and 5x5 convs)

`ACCEPTANCE` maps each name to (builder, input shape (C, H, W) or (H, W, C) for keras_same,
classes). Weights: He-normal convs, BN statistics near identity (mean +-0.1, var 0.5..1.5), so
activations stay of order one through the depth.
"""
from math import ceil

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from .ops import out_dim

OPSET = 13


class OnnxBuilder:
    """Append ONNX nodes to a model over an NCHW activation, tracking (C, H, W) shapes."""

    def __init__(self, name, in_shape, seed=0, input_layout="NCHW"):
        self.name, self.rng = name, np.random.default_rng(seed)
        self.nodes, self.inits, self.shapes, self.k = [], [], {}, 0
        self.in_shape, self.input_layout = tuple(in_shape), input_layout
        self.x = "input"
        if input_layout == "NHWC":
            h, w, c = in_shape
            self.x = self._node("Transpose", ["input"], (c, h, w), perm=[0, 3, 1, 2])
        else:
            self.shapes["input"] = tuple(in_shape)

    def _name(self, op):
        self.k += 1
        return f"{op.lower()}{self.k}"

    def _node(self, op, inputs, shape, **attrs):
        name = self._name(op)
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        self.shapes[name] = shape
        return name

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    def conv(self, x, co, k, stride=1, pads=None, same=False, group=1):
        """Conv (bias) with kernel k (int or (ky, kx)); pads [t, l, b, r], or same=True for TF SAME
        as tf2onnx writes it (explicit pads, the odd one at the bottom/right)."""
        c, h, w = self.shapes[x]
        ky, kx = (k, k) if isinstance(k, int) else k
        sy, sx = (stride, stride) if isinstance(stride, int) else stride
        if same:
            ty, tx = (max((ceil(n / s) - 1) * s + kk - n, 0) for n, s, kk in
                      ((h, sy, ky), (w, sx, kx)))
            pads = [ty // 2, tx // 2, ty - ty // 2, tx - tx // 2]
        pads = list(pads or [0, 0, 0, 0])
        ci = c // group
        name = self._name("Conv")
        wt = self.const(f"{name}.weight", self.rng.normal(0, np.sqrt(2 / (ci * ky * kx)),
                                                          (co, ci, ky, kx)))
        b = self.const(f"{name}.bias", self.rng.normal(0, 0.05, co))
        ho = out_dim(h, ky, sy, pads[0], False, pads[2])
        wo = out_dim(w, kx, sx, pads[1], False, pads[3])
        self.nodes.append(helper.make_node("Conv", [x, wt, b], [name], name=name,
                                           kernel_shape=[ky, kx], strides=[sy, sx], pads=pads,
                                           group=group))
        self.shapes[name] = (co, ho, wo)
        return name

    def depthwise(self, x, k=3, stride=1, pads=None, same=False):
        return self.conv(x, self.shapes[x][0], k, stride, pads, same, group=self.shapes[x][0])

    def bn(self, x):
        c = self.shapes[x][0]
        name = self._name("BatchNormalization")
        p = [self.const(f"{name}.{k}", v) for k, v in (
            ("scale", self.rng.uniform(0.8, 1.2, c)), ("bias", self.rng.normal(0, 0.1, c)),
            ("mean", self.rng.normal(0, 0.1, c)), ("var", self.rng.uniform(0.5, 1.5, c)))]
        self.nodes.append(helper.make_node("BatchNormalization", [x, *p], [name], name=name,
                                           epsilon=1e-3))
        self.shapes[name] = self.shapes[x]
        return name

    def relu(self, x):
        return self._node("Relu", [x], self.shapes[x])

    def relu6(self, x):
        """Clip(0, 6) with min/max as inputs (opset >= 11), as torch's nn.ReLU6 exports."""
        if not any(t.name == "relu6.min" for t in self.inits):
            self.const("relu6.min", np.float32(0))
            self.const("relu6.max", np.float32(6))
        lo, hi = "relu6.min", "relu6.max"
        return self._node("Clip", [x, lo, hi], self.shapes[x])

    def add(self, a, b):
        return self._node("Add", [a, b], self.shapes[a])

    def concat(self, xs):
        c = sum(self.shapes[t][0] for t in xs)
        return self._node("Concat", list(xs), (c,) + self.shapes[xs[0]][1:], axis=1)

    def maxpool(self, x, k, stride=None, pads=(0, 0, 0, 0)):
        c, h, w = self.shapes[x]
        ky, kx = (k, k) if isinstance(k, int) else k
        sy, sx = (ky, kx) if stride is None else stride
        shape = (c, out_dim(h, ky, sy, pads[0], False, pads[2]),
                 out_dim(w, kx, sx, pads[1], False, pads[3]))
        return self._node("MaxPool", [x], shape, kernel_shape=[ky, kx], strides=[sy, sx],
                          pads=list(pads))

    def global_avgpool(self, x):
        return self._node("GlobalAveragePool", [x], (self.shapes[x][0], 1, 1))

    def flatten(self, x):
        return self._node("Flatten", [x], (int(np.prod(self.shapes[x])),), axis=1)

    def to_nhwc(self, x):
        c, h, w = self.shapes[x]
        return self._node("Transpose", [x], (h, w, c), perm=[0, 2, 3, 1])

    def gemm(self, x, rows):
        k = self.shapes[x][0]
        name = self._name("Gemm")
        wt = self.const(f"{name}.weight", self.rng.normal(0, np.sqrt(1 / k), (rows, k)))
        b = self.const(f"{name}.bias", self.rng.normal(0, 0.05, rows))
        self.nodes.append(helper.make_node("Gemm", [x, wt, b], [name], name=name, transB=1))
        self.shapes[name] = (rows,)
        return name

    def softmax(self, x):
        return self._node("Softmax", [x], self.shapes[x], axis=1)

    def model(self, out):
        """The onnx.ModelProto with output `out` renamed "output" (batch axis "N")."""
        self.nodes.append(helper.make_node("Identity", [out], ["output"], name="output"))
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *self.in_shape])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                           ["N", *self.shapes[out]])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="qsim.zoo")
        model.ir_version = 8
        return model


def _cbr(b, x, co, k, stride=1, pads=None, same=False, act="relu"):
    """conv + BN + activation."""
    y = b.bn(b.conv(x, co, k, stride, pads, same))
    return getattr(b, act)(y)


def ds_cnn_s(classes=12, seed=0, channels=64, blocks=4, in_shape=(1, 49, 10)):
    b = OnnxBuilder("ds_cnn_s", in_shape, seed)
    x = _cbr(b, b.x, channels, (10, 4), 2, same=True)
    for _ in range(blocks):
        x = b.relu(b.bn(b.depthwise(x, 3, 1, same=True)))
        x = _cbr(b, x, channels, 1)
    x = b.flatten(b.global_avgpool(x))
    return b.model(b.softmax(b.gemm(x, classes)))


def resnet8(classes=10, seed=0, widths=(16, 32, 64), in_shape=(3, 32, 32)):
    b = OnnxBuilder("resnet8", in_shape, seed)
    x = _cbr(b, b.x, widths[0], 3, 1, [1, 1, 1, 1])
    for i, co in enumerate(widths):
        stride = 1 if i == 0 else 2
        y = _cbr(b, x, co, 3, stride, [1, 1, 1, 1])
        y = b.bn(b.conv(y, co, 3, 1, [1, 1, 1, 1]))
        short = x if i == 0 else b.bn(b.conv(x, co, 1, stride))
        x = b.relu(b.add(y, short))
    x = b.flatten(b.global_avgpool(x))
    return b.model(b.softmax(b.gemm(x, classes)))


def mobilenet_v1(classes=10, seed=0, in_shape=(3, 32, 32),
                 blocks=((16, 1), (32, 2), (32, 1), (64, 2))):
    b = OnnxBuilder("mobilenet_v1", in_shape, seed)
    x = _cbr(b, b.x, 8, 3, 2, [1, 1, 1, 1], act="relu6")
    for co, stride in blocks:
        x = b.relu6(b.bn(b.depthwise(x, 3, stride, [1, 1, 1, 1])))
        x = _cbr(b, x, co, 1, act="relu6")
    x = b.flatten(b.global_avgpool(x))
    return b.model(b.softmax(b.gemm(x, classes)))


def keras_same(classes=10, seed=0, in_shape=(32, 32, 3)):
    b = OnnxBuilder("keras_same", in_shape, seed, input_layout="NHWC")
    x = b.relu(b.conv(b.x, 16, 4, 1, same=True))
    x = b.maxpool(x, 2)
    x = b.relu(b.conv(x, 32, 2, 1, same=True))
    x = b.maxpool(x, 2)
    x = b.relu(b.conv(x, 32, 3, 2, same=True))
    x = b.flatten(b.to_nhwc(x))
    x = b.relu(b.gemm(x, 32))
    return b.model(b.softmax(b.gemm(x, classes)))


def kws_cnn_pool(classes=12, seed=0, in_shape=(1, 49, 10)):
    b = OnnxBuilder("kws_cnn_pool", in_shape, seed)
    x = b.relu(b.conv(b.x, 16, (10, 4), 1, same=True))
    x = b.maxpool(x, (2, 1))                                  # over time only: 49 -> 24
    left = b.relu(b.conv(x, 8, 3, 1, [1, 1, 1, 1]))
    right = b.relu(b.conv(x, 8, 5, 1, [2, 2, 2, 2]))
    x = b.maxpool(b.concat([left, right]), (3, 1), (2, 1), (0, 0, 0, 0))     # 24 -> 11
    x = b.relu(b.gemm(b.flatten(x), 32))
    return b.model(b.softmax(b.gemm(x, classes)))


ACCEPTANCE = {
    "ds_cnn_s": (ds_cnn_s, (1, 49, 10), 12),
    "resnet8": (resnet8, (3, 32, 32), 10),
    "mobilenet_v1": (mobilenet_v1, (3, 32, 32), 10),
    "keras_same": (keras_same, (32, 32, 3), 10),
    "kws_cnn_pool": (kws_cnn_pool, (1, 49, 10), 12),
}
