"""Tiny quantized graphs built by hand (no calibration, weights already on their grid), so the
generated C depends only on codegen, not on quantizer heuristics or float rounding."""
import numpy as np

from qsim.fixedpoint import QFormat
from qsim.graph import QuantSettings
from qsim.importers.spec import Sequential
from qsim.passes.choose_kernels import choose_kernels

# (frac_bits of weights, bias, output, bias_shift, out_shift) per weighted layer; activations
# keep the input's frac_bits through relu/pool/flatten.
TINY_Q7 = {"name": "tiny_q7", "input_shape": [5, 5, 4], "layers": [
    {"op": "conv", "ch_out": 4, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
    {"op": "maxpool", "kernel": 2, "stride": 2}, {"op": "flatten"},
    {"op": "fc", "rows": 3}, {"op": "softmax"}]}
TINY_Q15 = {"name": "tiny_q15", "input_shape": [4, 6, 1], "layers": [
    {"op": "conv", "ch_out": 2, "kernel": [3, 2], "stride": 1, "pad": 0}, {"op": "relu"},
    {"op": "fc", "rows": 3}, {"op": "softmax"}]}


def _on_grid(rng, shape, q):
    return (rng.integers(q.qmin // 2, q.qmax // 2 + 1, shape) * q.step).astype(np.float64)


def tiny_graph(spec, scheme, path="ref", version="5.9.0", seed=1):
    g = Sequential.from_dict(spec).build(seed=seed)
    bits = 8 if scheme == "q7" else 16
    rng = np.random.default_rng(seed)
    g.quant = QuantSettings(scheme, path, version, False)
    fi = bits - 4                                    # input Q3.(bits-4)
    for t in g.tensors.values():
        t.qformat = QFormat(bits, fi)
    for node in g.nodes:
        if node.op in ("conv", "depthwise_conv", "fc"):
            node.weight_q, node.bias_q = QFormat(bits, bits - 2), QFormat(bits, bits - 3)
            node.params["weight"] = _on_grid(rng, node.params["weight"].shape, node.weight_q)
            node.params["bias"] = _on_grid(rng, node.params["bias"].shape, node.bias_q)
            node.bias_shift = fi + bits - 2 - (bits - 3)
            node.out_shift = fi + bits - 2 - fi
        if node.op == "softmax":
            g.tensors[node.output].qformat = QFormat(bits, bits - 1)
    choose_kernels(g)
    return g


def tiny_q7(**kw):
    return tiny_graph(TINY_Q7, "q7", **kw)


def tiny_q15(**kw):
    return tiny_graph(TINY_Q15, "q15", **kw)
