"""Float forward pass of an HWC Graph in numpy, batched over a leading axis.

Used by calibration, the ONNX import tests and QAT's float reference. Each op's float semantics
live in qsim.train.float_ops, which the training layers' forwards call too (HWC, zero padding
`pads` at the top/left and `pads_end` (default `pads`) at the bottom/right for conv, pooling over
valid taps only with the ceil_mode rule, average divided by the number of valid taps unless
count_include_pad, natural-exp softmax: the float net, not CMSIS's base-2 one); this module only
reads each node's attributes and parameters, in the run's dtype, and walks the graph (a DAG:
each node reads its inputs by tensor name; add and concat take several).
"""
import numpy as np

from .errors import ShapeError
from .ops import OPS
from .train import float_ops as F


def _params(node, dtype, *names):
    return [node.params[k].astype(dtype, copy=False) for k in names]


def _conv(x, node):
    a = node.attrs
    return F.conv(x, *_params(node, x.dtype, "weight", "bias"), a["strides"], a["pads"],
                  a.get("pads_end"))


def _depthwise(x, node):
    a = node.attrs
    return F.depthwise_conv(x, *_params(node, x.dtype, "weight", "bias"), a["strides"], a["pads"],
                            a.get("pads_end"))


def _maxpool(x, node):
    a = node.attrs
    return F.max_pool(x, a["kernel_shape"], a["strides"], a["pads"], a.get("ceil_mode", 0),
                      a.get("pads_end"))


def _avgpool(x, node):
    a = node.attrs
    return F.avg_pool(x, a["kernel_shape"], a["strides"], a["pads"], a.get("ceil_mode", 0),
                      a.get("pads_end"), bool(a.get("count_include_pad", 0)))


def _batchnorm(x, node):
    p = _params(node, x.dtype, "scale", "bias", "mean", "var")
    return F.batchnorm(x, *p, node.attrs["epsilon"])


FORWARD = {
    "conv": _conv, "depthwise_conv": _depthwise,
    "fc": lambda x, n: F.fc(x, *_params(n, x.dtype, "weight", "bias")),
    "relu": lambda x, n: F.relu(x), "sigmoid": lambda x, n: F.sigmoid(x),
    "tanh": lambda x, n: F.tanh(x), "softmax": lambda x, n: F.softmax(x, n.attrs["axis"]),
    "maxpool": _maxpool, "avgpool": _avgpool, "batchnorm": _batchnorm,
    "clip": lambda x, n: F.clip(x, n.attrs["min"], n.attrs["max"]),
    "add": lambda xs, n: F.add(*xs), "concat": lambda xs, n: F.concat(xs, n.attrs["axis"]),
    "flatten": lambda x, n: x.reshape(x.shape[0], -1),
    "reshape": lambda x, n: x.reshape((x.shape[0],) + tuple(n.attrs["shape"])),
    "transpose": lambda x, n: x.transpose((0,) + tuple(p + 1 for p in n.attrs["perm"])),
    "transpose_hw": lambda x, n: np.ascontiguousarray(x.transpose(0, 2, 1, 3)),
    "requantize": lambda x, n: x,       # a storage change: the identity on real values
}


def run(graph, x, *, dtype=np.float32, trace=False):
    """Run `graph` on a batch.

    Parameters
    ----------
    graph : Graph (HWC)
    x : array (N,) + input shape, or a dict {input name: array} for several inputs
    dtype : np.float32 (fast, the default) or np.float64
    trace : if True return every tensor (inputs included) as {name: (N,) + shape array}

    Returns
    -------
    The output array (N,) + output shape; a dict {name: array} if the graph has several outputs
    or trace=True.
    """
    graph.require_hwc("float_exec.run")
    feeds = x if isinstance(x, dict) else {graph.inputs[0]: x}
    if set(feeds) != set(graph.inputs):
        raise ShapeError(f"float_exec.run: got inputs {sorted(feeds)}, the graph needs "
                         f"{graph.inputs}")
    env = {}
    for name, arr in feeds.items():
        arr = np.asarray(arr, dtype)
        shape = graph.tensors[name].shape
        if arr.shape[1:] != shape:
            raise ShapeError(f"input '{name}' must have shape (N,) + {shape} (HWC, batch first), "
                             f"got {arr.shape}")
        env[name] = arr
    for node in graph.nodes:
        xs = [env[t] for t in node.inputs]
        y = FORWARD[node.op](xs[0] if OPS[node.op].n_inputs == 1 else xs, node)
        env[node.outputs[0]] = y.astype(dtype, copy=False)
    if trace:
        return env
    if len(graph.outputs) == 1:
        return env[graph.outputs[0]]
    return {t: env[t] for t in graph.outputs}
