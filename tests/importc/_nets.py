"""Small qsim-trained-style nets quantized by qsim, and their C-call arguments, for the import tests."""
import warnings

import numpy as np

from qsim.calibrate import calibrate
from qsim.importers.spec import DS_CNN_SPEC, KWS_SPEC, Sequential
from qsim.lower import kernel_call
from qsim.ops import OPS
from qsim.quantize import quantize

MIXED = {"name": "mixed", "input_shape": [8, 8, 3], "layers": [
    {"op": "conv", "ch_out": 8, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
    {"op": "maxpool", "kernel": 2, "stride": 2},
    {"op": "depthwise_conv", "kernel": 3, "stride": 1, "pad": 1}, {"op": "tanh"},
    {"op": "avgpool", "kernel": 2, "stride": 2}, {"op": "flatten"},
    {"op": "fc", "rows": 6}, {"op": "sigmoid"}, {"op": "fc", "rows": 4}, {"op": "softmax"}]}
SMALL_Q15 = {"name": "small", "input_shape": [6, 6, 2], "layers": [
    {"op": "conv", "ch_out": 4, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
    {"op": "flatten"}, {"op": "fc", "rows": 5}, {"op": "tanh"}, {"op": "fc", "rows": 3},
    {"op": "softmax"}]}
# Every single-input companion kernel: q15 depthwise, clip (relu1 becomes clip(-0.25, 0.75) in
# `quantized`), non-square max / average pools (ceil_mode: an explicit output size), global average.
COMP = {"name": "comp", "input_shape": [9, 7, 2], "layers": [
    {"op": "depthwise_conv", "kernel": 3, "pad": 1}, {"op": "relu"},
    {"op": "maxpool", "kernel": [3, 2], "stride": 2, "ceil_mode": 1},
    {"op": "avgpool", "kernel": [3, 2], "stride": 1, "pad": 1},
    {"op": "avgpool"}, {"op": "fc", "rows": 4}, {"op": "softmax"}]}
SPECS = {"kws": KWS_SPEC, "ds_cnn": DS_CNN_SPEC, "mixed": MIXED, "small": SMALL_Q15, "comp": COMP}


def data(spec, n=16, seed=0):
    return np.random.default_rng(seed).normal(0, 1, (n,) + tuple(spec["input_shape"])).astype(np.float32)


def quantized(name, scheme="q7", path="ref", version="5.9.0", fc_opt=True):
    spec = SPECS[name]
    g = Sequential.from_dict(spec).build(seed=0)
    if name == "comp":
        relu = g.node("relu1")
        relu.op, relu.attrs = "clip", {"min": -0.25, "max": 0.75}
    x = data(spec, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize(g, calibrate(g, x), scheme=scheme, path=path, version=version,
                        fc_opt=fc_opt)


def call_layers(q, weight_frac=True):
    """The C-call arguments of every node of a quantized graph, as intnet.build takes them."""
    layers = []
    for n in q.nodes:
        d = {"name": n.name, "kernel": n.kernel} if n.kernel else {"name": n.name, "op": n.op}
        if n.op == "reshape":
            d["shape"] = list(n.attrs["shape"])
        if n.op in ("sigmoid", "tanh"):
            d["op"] = n.op
            d["int_width"] = int(kernel_call(q, n).args["int_width"])
        if OPS[n.op].window:
            d.update(kernel_shape=n.attrs["kernel_shape"], strides=n.attrs["strides"],
                     pads=n.attrs["pads"])
            if "pads_end" in n.attrs or n.attrs.get("ceil_mode"):
                d["out"] = list(q.tensors[n.output].shape[:2])
        if n.kernel and n.kernel.startswith("qsim_"):     # a companion's own scalar arguments
            a = kernel_call(q, n).args
            d.update({k: int(a[k]) for k in ("out_lshift", "count_include_pad", "rounding",
                                             "min_val", "max_val") if k in a})
        if OPS[n.op].weighted:
            a = kernel_call(q, n).args
            d.update(weight=a.get("wt", a.get("pM")), bias=a["bias"], bias_shift=n.bias_shift,
                     out_shift=n.out_shift)
            if weight_frac:
                d["weight_frac"] = n.weight_q.frac_bits
        layers.append(d)
    return layers


def input_spec(q, frac=True):
    t = q.tensors[q.inputs[0]]
    d = {"shape": list(t.shape), "bits": t.qformat.bits, "name": q.inputs[0]}
    if frac:
        d["frac_bits"] = t.qformat.frac_bits
    return d
