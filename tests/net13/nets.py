"""Graphs with the issue-13 ops and geometries (built with Graph/Node: Sequential has no add, concat,
clip or asymmetric padding), and a float reference for them.

`float_forward(graph, x)` is an independent numpy reference written here (explicit padding, plain
loops over windows) so these tests do not depend on qsim.float_exec knowing the new ops.
"""
import numpy as np

from qsim.graph import Graph, Node
from qsim.ops import pads_end


def _w(rng, shape, fan_in):
    return (rng.normal(0, np.sqrt(2.0 / fan_in), shape)).astype(np.float32)


class Builder:
    def __init__(self, name, shape, seed=0):
        self.g = Graph(name)
        self.rng = np.random.default_rng(seed)
        self.last = self.g.add_input("input", tuple(shape)).name
        self.n = 0

    def shape(self, t=None):
        return self.g.tensors[t or self.last].shape

    def add(self, op, inputs=None, attrs=None, params=None, name=None):
        self.n += 1
        name = name or f"{op}{self.n}"
        inputs = inputs or [self.last]
        self.g.add_node(Node(name, op, list(inputs), [name], dict(attrs or {}), dict(params or {})))
        self.last = name
        return name

    def conv(self, co, k, stride=(1, 1), pads=(0, 0), pads_end=None, src=None):
        ci = self.shape(src)[-1]
        w = _w(self.rng, (co,) + tuple(k) + (ci,), k[0] * k[1] * ci)
        b = self.rng.uniform(-0.2, 0.2, co).astype(np.float32)
        a = dict(kernel_shape=tuple(k), strides=tuple(stride), pads=tuple(pads))
        if pads_end is not None:
            a["pads_end"] = tuple(pads_end)
        return self.add("conv", [src] if src else None, a, dict(weight=w, bias=b))

    def depthwise(self, k, stride=(1, 1), pads=(0, 0), pads_end=None):
        c = self.shape()[-1]
        w = _w(self.rng, tuple(k) + (c,), k[0] * k[1])
        b = self.rng.uniform(-0.2, 0.2, c).astype(np.float32)
        a = dict(kernel_shape=tuple(k), strides=tuple(stride), pads=tuple(pads))
        if pads_end is not None:
            a["pads_end"] = tuple(pads_end)
        return self.add("depthwise_conv", None, a, dict(weight=w, bias=b))

    def fc(self, rows):
        d = int(np.prod(self.shape()))
        return self.add("fc", None, {}, dict(weight=_w(self.rng, (rows, d), d),
                                             bias=self.rng.uniform(-0.2, 0.2, rows).astype(np.float32)))

    def pool(self, op, k, stride=None, pads=(0, 0), pads_end=None, count_include_pad=None):
        a = dict(kernel_shape=tuple(k), strides=tuple(stride or k), pads=tuple(pads))
        if pads_end is not None:
            a["pads_end"] = tuple(pads_end)
        if count_include_pad is not None:
            a["count_include_pad"] = count_include_pad
        return self.add(op, None, a)

    def done(self):
        self.g.outputs = [self.last]
        return self.g


def _window_op(x, node):
    a = node.attrs
    (ky, kx), (sy, sx), (py, px) = a["kernel_shape"], a["strides"], a["pads"]
    ey, ex = pads_end(node)
    n, h, w, c = x.shape
    oy = (h + py + ey - ky) // sy + 1
    ox = (w + px + ex - kx) // sx + 1
    op = node.op
    xp = np.pad(x, ((0, 0), (py, max(ey, 0) + ky), (px, max(ex, 0) + kx), (0, 0)))
    valid = np.pad(np.ones((h, w)), ((py, max(ey, 0) + ky), (px, max(ex, 0) + kx)))
    inside = np.pad(np.ones((h + py + ey, w + px + ex)), ((0, ky), (0, kx)))
    cout = node.params["weight"].shape[0] if op == "conv" else c
    out = np.zeros((n, oy, ox, cout))
    for i in range(oy):
        for j in range(ox):
            win = xp[:, i * sy:i * sy + ky, j * sx:j * sx + kx, :]
            m = valid[i * sy:i * sy + ky, j * sx:j * sx + kx]
            if op == "conv":
                out[:, i, j] = np.einsum("nyxc,oyxc->no", win, node.params["weight"]) + node.params["bias"]
            elif op == "depthwise_conv":
                out[:, i, j] = np.einsum("nyxc,yxc->nc", win, node.params["weight"]) + node.params["bias"]
            elif op == "maxpool":
                out[:, i, j] = np.where(m[None, :, :, None] > 0, win, -np.inf).max(axis=(1, 2))
            else:
                cnt = inside[i * sy:i * sy + ky, j * sx:j * sx + kx].sum() if \
                    a.get("count_include_pad") else m.sum()
                out[:, i, j] = win.sum(axis=(1, 2)) / cnt
    return out


def float_forward(graph, x):
    """Float64 reference of every op used here; returns {tensor: array}."""
    env = {graph.inputs[0]: np.asarray(x, np.float64)}
    for node in graph.nodes:
        ins = [env[t] for t in node.inputs]
        x0 = ins[0]
        op = node.op
        if op in ("conv", "depthwise_conv", "maxpool", "avgpool"):
            y = _window_op(x0, node)
        elif op == "fc":
            y = x0.reshape(len(x0), -1) @ node.params["weight"].T + node.params["bias"]
        elif op == "relu":
            y = np.maximum(x0, 0)
        elif op == "clip":
            y = np.clip(x0, node.attrs["min"], node.attrs["max"])
        elif op == "add":
            y = ins[0] + ins[1]
        elif op == "concat":
            y = np.concatenate(ins, axis=node.attrs["axis"] % (x0.ndim - 1) + 1)
        elif op == "flatten":
            y = x0.reshape(len(x0), -1)
        elif op == "softmax":
            e = np.exp(x0 - x0.max(-1, keepdims=True))
            y = e / e.sum(-1, keepdims=True)
        else:
            raise NotImplementedError(op)
        env[node.output] = y
    return env


def calibration(graph, x):
    """A Calibration from the reference forward (minmax + log2hist of every tensor)."""
    from qsim.calibrate import Calibration
    from qsim.stats import Log2Histogram, MinMax
    env = float_forward(graph, x)
    stats = {}
    for t, v in env.items():
        per = {}
        for cls in (MinMax, Log2Histogram):
            s = cls()
            s.update(v.astype(np.float32))
            per[s.key if hasattr(s, "key") else cls.__name__.lower()] = s
        stats[t] = per
    return Calibration(stats, len(x))


# -- the networks of the tests ---------------------------------------------------------------------

def ds_cnn(seed=0, ch=16):
    """DS-CNN (Hello Edge) shape on 49x10x1: conv 10x4 stride 2 with TF SAME padding (top/left
    4/1, bottom/right 5/1: asymmetric), two depthwise + pointwise blocks, global average pool
    25x5, fc."""
    b = Builder("dscnn", (49, 10, 1), seed)
    b.conv(ch, (10, 4), (2, 2), (4, 1), (5, 1))
    b.add("relu")
    for _ in range(2):
        b.depthwise((3, 3), pads=(1, 1))
        b.add("relu")
        b.conv(ch, (1, 1))
        b.add("relu")
    b.pool("avgpool", b.shape()[:2])
    b.fc(12)
    return b.done()


def residual(seed=0):
    """conv -> relu -> [conv -> relu -> conv] + skip -> relu -> fc: a residual add block."""
    b = Builder("resblock", (8, 8, 4), seed)
    b.conv(8, (3, 3), pads=(1, 1))
    skip = b.add("relu")
    b.conv(8, (3, 3), pads=(1, 1))
    b.add("relu")
    b.conv(8, (3, 3), pads=(1, 1))
    b.add("add", [b.last, skip])
    b.add("relu")
    b.pool("maxpool", (2, 2))
    b.fc(5)
    return b.done()


def relu6(seed=0):
    """MobileNet-style: conv -> ReLU6 -> depthwise -> ReLU6 -> pointwise -> ReLU6 -> fc."""
    b = Builder("relu6net", (8, 8, 3), seed)
    b.conv(8, (3, 3), (2, 2), (0, 0), (1, 1))
    b.add("clip", attrs=dict(min=0.0, max=6.0))
    b.depthwise((3, 3), pads=(1, 1))
    b.add("clip", attrs=dict(min=0.0, max=6.0))
    b.conv(8, (1, 1))
    b.add("clip", attrs=dict(min=0.0, max=6.0))
    b.fc(4)
    return b.done()


def concat(seed=0):
    """Two branches (1x1 and 3x3 convs) joined along channels, then a 3x3 conv: inception-style;
    plus a non-square average pool with count_include_pad and asymmetric padding."""
    b = Builder("concatnet", (8, 6, 4), seed)
    stem = b.conv(6, (3, 3), pads=(1, 1))
    b.add("relu")
    r = b.last
    a1 = b.conv(4, (1, 1), src=r)
    a2 = b.conv(6, (3, 3), pads=(1, 1), src=r)
    b.add("concat", [a1, a2, stem], dict(axis=-1))
    b.add("relu")
    b.pool("avgpool", (3, 2), (2, 2), (1, 0), (1, 1), count_include_pad=1)
    b.fc(5)
    return b.done()


def maxpool_time(seed=0):
    """A KWS CNN with max pooling over time on 49x10: conv 5x3 -> relu -> maxpool 4x1 (time only)
    -> conv -> relu -> maxpool 3x2 padded at the bottom/right -> fc."""
    b = Builder("kwspool", (49, 10, 1), seed)
    b.conv(8, (5, 3), pads=(2, 1))
    b.add("relu")
    b.pool("maxpool", (4, 1), (4, 1))
    b.conv(8, (3, 3), pads=(1, 1))
    b.add("relu")
    b.pool("maxpool", (3, 2), (2, 2), (0, 0), (1, 1))
    b.fc(6)
    return b.done()


NETS = {"dscnn": ds_cnn, "residual": residual, "relu6": relu6, "concat": concat,
        "maxpool_time": maxpool_time}


def quantized(net, scheme, n=32, seed=1, **kw):
    """(float graph, quantized graph, inputs): random weights, calibrated on random data."""
    import warnings

    from qsim.quantize import quantize
    g = NETS[net]()
    x = np.random.default_rng(seed).normal(0, 1, (n,) + g.tensors["input"].shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, calibration(g, x), scheme=scheme, **kw)
    return g, q, x
