"""Mixed-precision networks for the tests: (float graph builder, scheme, layer_bits) per case,
covering widening and narrowing (with and without a format change), add / concat reading
tensors of both widths, q15 pooling and depthwise companion kernels behind a 16-bit layer,
sigmoid / tanh at 16 bits reading 8-bit tensors, a 16-bit fc keeping q7 weights (q7q15), and
zero padding channels carried through a conversion."""
import functools
import warnings

import numpy as np

from qsim import zoo
from qsim.calibrate import calibrate
from qsim.importers.onnx_import import load_onnx
from qsim.importers.spec import CIFAR10_SPEC, Sequential
from qsim.kws.net import kws_spec
from qsim.quantize import quantize

ACT = {"name": "act", "input_shape": [8, 8, 3], "layers": [
    {"op": "conv", "ch_out": 8, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
    {"op": "maxpool", "kernel": 2, "stride": 2},
    {"op": "depthwise_conv", "kernel": 3, "stride": 1, "pad": 1}, {"op": "tanh"},
    {"op": "avgpool", "kernel": 2, "stride": 2}, {"op": "flatten"},
    {"op": "fc", "rows": 6}, {"op": "sigmoid"}, {"op": "fc", "rows": 4}, {"op": "softmax"}]}

# conv2 reads 10 channels and writes 9, conv3 reads 9: zero channels are appended (q7 _fast or
# q15 non-square rules) and travel through the requantize layers
PADDED = {"name": "padded", "input_shape": [9, 9, 3], "layers": [
    {"op": "conv", "ch_out": 10, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
    {"op": "maxpool", "kernel": 3, "stride": 1, "pad": 1},
    {"op": "conv", "ch_out": 9, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
    {"op": "conv", "ch_out": 8, "kernel": 3, "stride": 1, "pad": 0}, {"op": "relu"},
    {"op": "flatten"}, {"op": "fc", "rows": 4}, {"op": "softmax"}]}


def _spec(spec):
    return lambda: Sequential.from_dict(spec).build(seed=0)


def _zoo(name):
    return lambda: load_onnx(zoo.ACCEPTANCE[name][0](seed=1))


# name: (graph builder, scheme, layer_bits)
CASES = {
    "kws_conv2_fc1_16": (_spec(kws_spec()), "q7", {"conv2": 16, "fc1": 16}),
    "kws_q15_ends_8": (_spec(kws_spec()), "q15", {"conv1": 8, "fc3": 8, "softmax1": 8}),
    "kws_q7q15_fc_16": (_spec(kws_spec()), "q7q15", {"conv1": 8, "conv2": 8, "fc3": 8,
                                                     "softmax1": 8}),
    "cifar_conv2_16": (_spec(CIFAR10_SPEC), "q7", {"conv2": 16}),
    "act_tanh_sigmoid_16": (_spec(ACT), "q7", {"tanh1": 16, "sigmoid1": 16}),
    "resnet8_add_16": (_zoo("resnet8"), "q7", {"conv4": 16, "add9": 16}),
    "kws_pool_concat_16": (_zoo("kws_cnn_pool"), "q7", {"conv4": 16, "concat8": 16}),
    "mobilenet_dw_16": (_zoo("mobilenet_v1"), "q7", {"conv4": 16, "conv7": 16}),
    "padded_conv2_16": (_spec(PADDED), "q7", {"conv2": 16}),
    "padded_q15_conv2_8": (_spec(PADDED), "q15", {"conv2": 8}),
}


@functools.lru_cache(maxsize=None)
def float_case(name, n=12):
    """(float graph, calibration, calibration inputs) of a case (cached: do not modify)."""
    g = CASES[name][0]()
    shape = g.tensors[g.inputs[0]].shape
    x = np.random.default_rng(0).normal(0, 1, (n,) + shape).astype(np.float32)
    return g, calibrate(g, x), x


def quantized(name, version="5.9.0", path="ref", layer_bits=None, scheme=None):
    g, cal, _ = float_case(name)
    _, sch, lb = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize(g, cal, scheme=scheme or sch, version=version, path=path,
                        layer_bits=lb if layer_bits is None else layer_bits)


def inputs(qgraph, n, seed=1):
    shape = qgraph.tensors[qgraph.inputs[0]].shape
    return np.random.default_rng(seed).normal(0, 1, (n,) + shape).astype(np.float32)
