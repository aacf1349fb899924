"""Build an HWC Graph from a tiny Python or JSON spec (tests, examples, the KWS seed net).

    g = (Sequential(input_shape=(49, 10, 1), name="kws")
         .conv(28, (10, 4)).relu().conv(30, (10, 4), stride=(2, 1)).relu()
         .fc(58).relu().fc(128).relu().fc(3).softmax()
         .build(seed=0))

Layers are named "<op><k>" (conv1, relu1, fc2, ...) unless a name is given, and each layer's
output tensor has the layer's name; the input tensor is "input". Weights are He-initialised
(normal, std sqrt(2 / fan_in), fan_in = KY*KX*Ci for conv, KY*KX for depthwise, dim_in for fc);
biases uniform in +-1/sqrt(fan_in) (PyTorch's default), so they are not all zero. An fc reads
its input flattened in HWC order (no explicit flatten needed). The same net as a dict:
`to_dict()` / `Sequential.from_dict(d)`; `KWS_SPEC` is the seed's keyword-spotting net,
`CIFAR10_SPEC` CMSIS-NN's CIFAR-10 example and `DS_CNN_SPEC` a small depthwise-separable net.
"""
import numpy as np

from ..graph import Graph, Node

KWS_SPEC = {
    "name": "kws", "input_shape": [49, 10, 1],
    "layers": [
        {"op": "conv", "ch_out": 28, "kernel": [10, 4], "stride": [1, 1], "pad": [0, 0]},
        {"op": "relu"},
        {"op": "conv", "ch_out": 30, "kernel": [10, 4], "stride": [2, 1], "pad": [0, 0]},
        {"op": "relu"},
        {"op": "fc", "rows": 58}, {"op": "relu"},
        {"op": "fc", "rows": 128}, {"op": "relu"},
        {"op": "fc", "rows": 3}, {"op": "softmax"},
    ],
}

# CMSIS-NN's CIFAR-10 example topology (arm_nnexamples_cifar10): RGB 32x32, three times conv 5x5
# pad 2 + relu + max pool 3x3 stride 2 with the example's sizes 32 -> 16 -> 8 -> 4 (pad 0, so
# the ceil output rule: the last window is clipped to the image), then fc 10 and softmax.
CIFAR10_SPEC = {
    "name": "cifar10", "input_shape": [32, 32, 3],
    "layers": [
        {"op": "conv", "ch_out": 32, "kernel": 5, "pad": 2}, {"op": "relu"},
        {"op": "maxpool", "kernel": 3, "stride": 2, "ceil_mode": 1},
        {"op": "conv", "ch_out": 16, "kernel": 5, "pad": 2}, {"op": "relu"},
        {"op": "maxpool", "kernel": 3, "stride": 2, "ceil_mode": 1},
        {"op": "conv", "ch_out": 32, "kernel": 5, "pad": 2}, {"op": "relu"},
        {"op": "maxpool", "kernel": 3, "stride": 2, "ceil_mode": 1},
        {"op": "fc", "rows": 10}, {"op": "softmax"},
    ],
}

# A small DS-CNN in the style of Arm's ML-KWS-for-MCU, for square 32x32 grey images: conv 5x5
# stride 2 -> 2 x [depthwise 3x3 + relu, pointwise 1x1 + relu] -> average pool 4x4 (16 -> 4;
# a global pool loses too much of a digit's layout at this width) -> fc.
DS_CNN_SPEC = {
    "name": "ds_cnn", "input_shape": [32, 32, 1],
    "layers": [
        {"op": "conv", "ch_out": 32, "kernel": 5, "stride": 2, "pad": 2}, {"op": "relu"},
        {"op": "depthwise_conv", "kernel": 3, "pad": 1}, {"op": "relu"},
        {"op": "conv", "ch_out": 32, "kernel": 1}, {"op": "relu"},
        {"op": "depthwise_conv", "kernel": 3, "pad": 1}, {"op": "relu"},
        {"op": "conv", "ch_out": 32, "kernel": 1}, {"op": "relu"},
        {"op": "avgpool", "kernel": 4}, {"op": "fc", "rows": 10}, {"op": "softmax"},
    ],
}


class Sequential:
    """Chainable builder of a linear HWC graph; every method but build() returns self."""

    def __init__(self, input_shape, name="net"):
        self.input_shape = tuple(int(d) for d in input_shape)
        self.name = name
        self.layers: list[dict] = []

    def _add(self, op, **kw):
        self.layers.append({"op": op, **{k: v for k, v in kw.items() if v is not None}})
        return self

    def conv(self, ch_out, kernel, stride=1, pad=0, name=None):
        return self._add("conv", ch_out=ch_out, kernel=kernel, stride=stride, pad=pad, name=name)

    def depthwise(self, kernel, stride=1, pad=0, name=None):
        return self._add("depthwise_conv", kernel=kernel, stride=stride, pad=pad, name=name)

    def fc(self, rows, name=None):
        return self._add("fc", rows=rows, name=name)

    def maxpool(self, kernel, stride=None, pad=0, ceil_mode=False, name=None):
        """ceil_mode: the ceil output-size rule (qsim.ops), e.g. CMSIS's CIFAR-10 32 -> 16."""
        return self._add("maxpool", kernel=kernel, stride=stride, pad=pad,
                         ceil_mode=1 if ceil_mode else None, name=name)

    def avgpool(self, kernel=None, stride=None, pad=0, ceil_mode=False, name=None):
        """kernel=None: global average pooling over the whole H x W."""
        return self._add("avgpool", kernel=kernel, stride=stride, pad=pad,
                         ceil_mode=1 if ceil_mode else None, name=name)

    def relu(self, name=None):
        return self._add("relu", name=name)

    def sigmoid(self, name=None):
        return self._add("sigmoid", name=name)

    def tanh(self, name=None):
        return self._add("tanh", name=name)

    def softmax(self, name=None):
        return self._add("softmax", name=name)

    def flatten(self, name=None):
        return self._add("flatten", name=name)

    def reshape(self, shape, name=None):
        return self._add("reshape", shape=list(shape), name=name)

    def to_dict(self) -> dict:
        return {"name": self.name, "input_shape": list(self.input_shape),
                "layers": [dict(layer) for layer in self.layers]}

    @classmethod
    def from_dict(cls, spec: dict) -> "Sequential":
        seq = cls(spec["input_shape"], spec.get("name", "net"))
        seq.layers = [dict(layer) for layer in spec["layers"]]
        return seq

    def build(self, seed=None, rng=None, dtype=np.float32) -> Graph:
        """Create the Graph with He-initialised weights from `rng` (or a new one from `seed`)."""
        rng = rng if rng is not None else np.random.default_rng(seed)
        g = Graph(self.name)
        g.meta = {"source": "spec", "seed": seed, "spec": self.to_dict()}
        prev = g.add_input("input", self.input_shape).name
        counts: dict[str, int] = {}
        for layer in self.layers:
            op = layer["op"]
            counts[op] = counts.get(op, 0) + 1
            name = layer.get("name") or f"{op.replace('_conv', '')}{counts[op]}"
            attrs, params = _layer(layer, g.tensors[prev].shape, rng, dtype)
            g.add_node(Node(name, op, [prev], [name], attrs, params))
            prev = name
        g.outputs = [prev]
        return g


def _he(rng, shape, fan_in, dtype):
    w = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(dtype)
    b = rng.uniform(-1, 1, shape[0] if len(shape) != 3 else shape[2]) / np.sqrt(fan_in)
    return {"weight": w, "bias": b.astype(dtype)}


def _layer(layer, in_shape, rng, dtype):
    op = layer["op"]
    geom = {}
    if "kernel" in layer or op == "avgpool":
        k = layer.get("kernel") or in_shape[:2]          # avgpool(None) = global
        k = (k, k) if isinstance(k, int) else tuple(k)
        stride = layer.get("stride") or (k if op in ("maxpool", "avgpool") else 1)
        geom = {"kernel_shape": k, "strides": stride, "pads": layer.get("pad", 0)}
        if layer.get("ceil_mode"):
            geom["ceil_mode"] = 1
    if op == "conv":
        ci = in_shape[-1]
        shape = (layer["ch_out"],) + geom["kernel_shape"] + (ci,)
        return geom, _he(rng, shape, int(np.prod(shape[1:])), dtype)
    if op == "depthwise_conv":
        shape = geom["kernel_shape"] + (in_shape[-1],)
        return geom, _he(rng, shape, int(np.prod(shape[:2])), dtype)
    if op == "fc":
        dim_in = int(np.prod(in_shape))
        return {}, _he(rng, (layer["rows"], dim_in), dim_in, dtype)
    if op in ("maxpool", "avgpool"):
        return geom, {}
    if op == "reshape":
        return {"shape": tuple(layer["shape"])}, {}
    return {}, {}
