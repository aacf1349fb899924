"""Float forward pass of an HWC Graph in numpy, batched over a leading axis.

Used by calibration, the ONNX import tests and QAT's float reference. Semantics per op are those
of `qsim.ops` (HWC, symmetric zero padding for conv, pooling over valid taps only, average
divided by the number of valid taps, natural-exp softmax: the float net, not CMSIS's base-2 one).
Conv uses im2col + one matmul per chunk of the batch (chunks keep the im2col buffer under about
64 MB), or, for images at most 3 kernels wide (the KWS nets), KY row matmuls against a banded
weight matrix, which avoids the im2col copy (about 2x faster there); depthwise conv and pooling
use strided window views.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import ShapeError
from .ops import out_dim

_CHUNK_BYTES = 64 << 20


def _pad(x, py, px, value=0.0):
    if py == 0 and px == 0:
        return x
    return np.pad(x, ((0, 0), (py, py), (px, px), (0, 0)), constant_values=value)


def _windows(x, a):
    """(N, Ho, Wo, C, KY, KX) view of the padded input's windows (stride applied)."""
    (ky, kx), (sy, sx) = a["kernel_shape"], a["strides"]
    return sliding_window_view(x, (ky, kx), axis=(1, 2))[:, ::sy, ::sx]


def _im2col(xp, ky, kx, sy, sx, ho, wo):
    """(b, Ho, Wo, KY, KX, Ci) patches, one strided block copy per kernel tap."""
    cols = np.empty((xp.shape[0], ho, wo, ky, kx, xp.shape[3]), xp.dtype)
    for i in range(ky):
        for j in range(kx):
            cols[:, :, :, i, j] = xp[:, i:i + sy * (ho - 1) + 1:sy, j:j + sx * (wo - 1) + 1:sx]
    return cols


def _conv_rows(xp, w, sy, sx, ho, wo):
    """Conv as KY matmuls of whole input rows (b, Ho, W*Ci) with a banded (W*Ci, Wo*Co) matrix:
    no im2col copy, W/KX times the MACs, so used only for narrow images (KWS-like)."""
    n, _, wp, ci = xp.shape
    co, ky, kx, _ = w.shape
    band = np.zeros((ky, wp, ci, wo, co), xp.dtype)
    for ox in range(wo):
        band[:, ox * sx:ox * sx + kx, :, ox, :] = w.transpose(1, 2, 3, 0)
    band = band.reshape(ky, wp * ci, wo * co)
    rows = xp.reshape(n, xp.shape[1], wp * ci)
    out = rows[:, 0:sy * (ho - 1) + 1:sy] @ band[0]
    for i in range(1, ky):
        out += rows[:, i:i + sy * (ho - 1) + 1:sy] @ band[i]
    return out.reshape(n, ho, wo, co)


def _conv(x, node):
    a, w = node.attrs, node.params["weight"]
    co, ky, kx, ci = w.shape
    (sy, sx), (py, px) = a["strides"], a["pads"]
    xp = _pad(x, py, px)
    ho = (xp.shape[1] - ky) // sy + 1
    wo = (xp.shape[2] - kx) // sx + 1
    if xp.shape[2] <= 3 * kx and kx > 1:
        out = _conv_rows(xp, w.astype(x.dtype), sy, sx, ho, wo)
        return out + node.params["bias"].astype(x.dtype)
    wm = w.astype(x.dtype).reshape(co, ky * kx * ci).T            # rows ordered (ky, kx, ci)
    n = x.shape[0]
    out = np.empty((n, ho, wo, co), x.dtype)
    step = max(1, _CHUNK_BYTES // max(1, ho * wo * ky * kx * ci * x.itemsize))
    for s in range(0, n, step):
        cols = _im2col(xp[s:s + step], ky, kx, sy, sx, ho, wo)
        out[s:s + step] = (cols.reshape(-1, ky * kx * ci) @ wm).reshape(-1, ho, wo, co)
    out += node.params["bias"].astype(x.dtype)
    return out


def _depthwise(x, node):
    a, w = node.attrs, node.params["weight"].astype(x.dtype)   # (KY, KX, C)
    (ky, kx), (sy, sx) = a["kernel_shape"], a["strides"]
    xp = _pad(x, *a["pads"])
    ho = (xp.shape[1] - ky) // sy + 1
    wo = (xp.shape[2] - kx) // sx + 1
    out = np.zeros((x.shape[0], ho, wo, x.shape[3]), x.dtype)
    for i in range(ky):
        for j in range(kx):
            out += xp[:, i:i + sy * (ho - 1) + 1:sy, j:j + sx * (wo - 1) + 1:sx] * w[i, j]
    return out + node.params["bias"].astype(x.dtype)


def _pool_pad(x, a, value=0.0):
    """Pad for pooling: symmetric pads, plus the bottom/right rows a ceil_mode window reaches."""
    if not a.get("ceil_mode"):
        return _pad(x, *a["pads"], value=value)
    extra = []
    for n, k, s, p in zip(x.shape[1:3], a["kernel_shape"], a["strides"], a["pads"]):
        extra.append((p, max(0, (out_dim(n, k, s, p, True) - 1) * s + k - n - p)))
    return np.pad(x, ((0, 0), extra[0], extra[1], (0, 0)), constant_values=value)


def _maxpool(x, node):
    return _windows(_pool_pad(x, node.attrs, value=-np.inf), node.attrs).max(axis=(4, 5))


def _avgpool(x, node):
    a = node.attrs
    total = _windows(_pool_pad(x, a), a).sum(axis=(4, 5), dtype=x.dtype)
    ones = np.ones((1,) + x.shape[1:3] + (1,), x.dtype)
    count = _windows(_pool_pad(ones, a), a).sum(axis=(4, 5))   # valid taps per window
    return total / count


def _fc(x, node):
    w = node.params["weight"].astype(x.dtype)
    return x.reshape(x.shape[0], -1) @ w.T + node.params["bias"].astype(x.dtype)


def _softmax(x, node):
    axis = node.attrs["axis"]
    axis = axis + 1 if axis >= 0 else axis
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _batchnorm(x, node):
    p = {k: v.astype(x.dtype) for k, v in node.params.items()}
    s = p["scale"] / np.sqrt(p["var"] + x.dtype.type(node.attrs["epsilon"]))
    return (x - p["mean"]) * s + p["bias"]


def _sigmoid(x, node):
    e = np.exp(-np.abs(x))                   # overflow-free and accurate in both tails
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


FORWARD = {
    "conv": _conv, "depthwise_conv": _depthwise, "fc": _fc,
    "relu": lambda x, n: np.maximum(x, 0), "sigmoid": _sigmoid, "tanh": lambda x, n: np.tanh(x),
    "maxpool": _maxpool, "avgpool": _avgpool, "softmax": _softmax, "batchnorm": _batchnorm,
    "flatten": lambda x, n: x.reshape(x.shape[0], -1),
    "reshape": lambda x, n: x.reshape((x.shape[0],) + tuple(n.attrs["shape"])),
    "transpose": lambda x, n: x.transpose((0,) + tuple(p + 1 for p in n.attrs["perm"])),
    "transpose_hw": lambda x, n: np.ascontiguousarray(x.transpose(0, 2, 1, 3)),
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
        env[node.outputs[0]] = FORWARD[node.op](env[node.inputs[0]], node).astype(dtype, copy=False)
    if trace:
        return env
    if len(graph.outputs) == 1:
        return env[graph.outputs[0]]
    return {t: env[t] for t in graph.outputs}
