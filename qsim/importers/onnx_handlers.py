"""One small handler per ONNX op: handler(ctx, node, attrs) appends CHW-graph nodes via ctx.add
(or aliases a tensor for ops that vanish). `HANDLERS` maps the ONNX op_type to its handler;
`unsupported_op` refuses any other op with advice on what to do (`ADVICE`).

Shapes seen here are ONNX's without the batch axis, e.g. (C, H, W); weights keep ONNX layouts
(conv OIHW, depthwise (C, 1, KY, KX), fc (rows, dim_in) in ONNX's column order). `passes.to_hwc`
turns all of that into HWC afterwards. Constant subgraphs were folded before (`onnx_fold`), so
every shape, pad or axes input a handler reads is in `ctx.consts`.
Padding and the `Pad` op: `onnx_padding`.
"""
from math import prod

import numpy as np

from .onnx_padding import ceil_mode, geometry, pad, padded_input
from .onnx_padding import unsupported as _unsupported
from .onnx_padding import where as _where


def conv(ctx, n, a):
    w = ctx.const(n, 1)
    b = ctx.const(n, 2, np.zeros(w.shape[0], np.float32))
    x, extra, pad_node = padded_input(ctx, n)
    c_in, group = ctx.shape(x)[0], a.get("group", 1)
    kernel = list(a.get("kernel_shape", w.shape[2:]))
    strides, pads, ends = geometry(ctx, n, a, kernel, x, extra, pad_node)
    geom = {"kernel_shape": kernel, "strides": strides, "pads": pads}
    if ends is not None:
        geom["pads_end"] = ends
    if group == 1:
        ctx.add(n, "conv", [x], geom, {"weight": w, "bias": b})
    elif group == c_in and w.shape[:2] == (c_in, 1):
        ctx.add(n, "depthwise_conv", [x], geom, {"weight": w, "bias": b})
    else:
        _unsupported(n, f"group={group} with weight {w.shape}; only group 1 or depthwise "
                        "(group == channels, multiplier 1) are supported")


def _pool(op, default_stride=1):
    def handler(ctx, n, a):
        if len(n.output) > 1 and n.output[1]:
            _unsupported(n, "the Indices output of MaxPool")
        kernel = list(a["kernel_shape"])
        x, extra, pad_node = padded_input(ctx, n)
        include = bool(a.get("count_include_pad", 0))
        if pad_node is not None and any(extra):
            producer = ctx.graph.producer(x)
            if op == "avgpool" and not include and any(a.get("pads", ())):
                _unsupported(pad_node, f"zero padding before the average pool {_where(n)}, "
                                       "which has padding of its own that it does not count: "
                                       "the pool would average the Pad's zeros but not its own",
                             "use the pool's own padding only (or count_include_pad=1)")
            include = include or op == "avgpool"    # the Pad's zeros are averaged: counted
            if op == "maxpool" and (producer is None or producer.op != "relu"):
                _unsupported(pad_node, f"zero padding before the max pool {_where(n)}, whose "
                                       "input may be negative (a padded zero could be the "
                                       "maximum); CMSIS-NN's max pool ignores padding",
                             "use the pool's own padding, or pad after a ReLU")
        ceil = bool(a.get("ceil_mode", 0))
        strides, pads, ends = geometry(ctx, n, a, kernel, x, extra, pad_node, default_stride,
                                       ceil, keep_end=ceil and include)
        geom = {"kernel_shape": kernel, "strides": strides, "pads": pads}
        if ends is not None:
            geom["pads_end"] = ends
        if a.get("ceil_mode", 0) and ceil_mode(ctx.shape(x)[1:], kernel, strides, pads, ends):
            geom["ceil_mode"] = 1     # CMSIS's pooling takes dim_im_out as given and clips windows
        if op == "avgpool" and include and any(pads + (ends or ())):
            geom["count_include_pad"] = 1   # the divisor counts the padding (ONNX's rule)
        ctx.add(n, op, [x], geom)
    return handler


def _global_pool(op):
    def handler(ctx, n, a):
        x = ctx.tensor(n.input[0], n)
        hw = ctx.shape(x)[1:]
        ctx.add(n, op, [x], {"kernel_shape": hw, "strides": (1, 1), "pads": (0, 0)})
    return handler


def _reduce(op):
    """ReduceMean / ReduceMax over the spatial axes (2, 3) of an NCHW activation = global average /
    max pooling (torch's nn.AdaptiveAvgPool2d(1), x.mean((2, 3))); keepdims=0 adds a flatten."""
    def handler(ctx, n, a):
        x = ctx.tensor(n.input[0], n)
        shape = ctx.shape(x)
        axes = a.get("axes", ctx.const(n, 1))
        rank = len(shape) + 1
        axes = None if axes is None else sorted(int(d) + rank if d < 0 else int(d) for d in axes)
        if rank != 4 or axes != [2, 3]:
            what = "all axes" if axes is None or not len(axes) else f"axes {axes}"
            _unsupported(n, f"{n.op_type} over {what} of shape (N,) + {shape}; only the spatial "
                            "axes (2, 3) of an NCHW activation (global pooling) import",
                         "reduce over (2, 3), as nn.AdaptiveAvgPool2d(1) or x.mean((2, 3)) do")
        geom = {"kernel_shape": shape[1:], "strides": (1, 1), "pads": (0, 0)}
        if a.get("keepdims", 1):
            return ctx.add(n, op, [x], geom)
        pooled = n.output[0] + "/pool"
        while pooled in ctx.graph.tensors:
            pooled += "_"
        ctx.add(n, op, [x], geom, output=pooled)
        ctx.add(n, "flatten", [pooled])
    return handler


def _fc_input(ctx, n):
    x = ctx.tensor(n.input[0], n)
    if len(ctx.shape(x)) != 1:
        _unsupported(n, f"input of shape (N,) + {ctx.shape(x)}; Gemm/MatMul need (N, K)",
                     "flatten before the fully connected layer")
    return x


def gemm(ctx, n, a):
    if a.get("transA", 0):
        _unsupported(n, "transA=1")
    x = _fc_input(ctx, n)
    w = ctx.const(n, 1) * a.get("alpha", 1.0)
    w = w if a.get("transB", 0) else w.T
    b = ctx.const(n, 2, np.zeros(1, np.float32)) * a.get("beta", 1.0)
    ctx.add(n, "fc", [x], {}, {"weight": w, "bias": np.broadcast_to(b, (w.shape[0],)).ravel()})


def matmul(ctx, n, a):
    w = ctx.const(n, 1).T
    ctx.add(n, "fc", [_fc_input(ctx, n)], {}, {"weight": w, "bias": np.zeros(w.shape[0])})


def add(ctx, n, a):
    """Add of two activations of one shape -> add (residual blocks); MatMul + Add(constant bias):
    the constant is folded into the fc's bias."""
    names = list(n.input)
    ci = next((i for i, t in enumerate(names) if t in ctx.consts), None)
    if ci is None and len(names) == 2:
        x, y = (ctx.tensor(t, n) for t in names)
        if ctx.shape(x) != ctx.shape(y):
            _unsupported(n, f"Add of activations of shapes (N,) + {ctx.shape(x)} and (N,) + "
                            f"{ctx.shape(y)}; qsim adds tensors of one shape (no broadcasting)",
                         "give both branches the same shape (a 1x1 conv on the shortcut)")
        return ctx.add(n, "add", [x, y])
    other = ctx.alias.get(names[1 - ci], names[1 - ci]) if ci is not None else None
    prod_node = ctx.graph.producer(other) if other else None
    if prod_node is None or prod_node.op != "fc" or ctx.uses.get(names[1 - ci], 0) != 1:
        _unsupported(n, "Add is supported only as the bias of a preceding MatMul/Gemm "
                        "(one constant input, the other used only here)")
    rows = prod_node.params["bias"].shape[0]
    bias = np.asarray(ctx.consts[names[ci]], np.float32).ravel()
    prod_node.params["bias"] = prod_node.params["bias"] + np.broadcast_to(bias, (rows,))
    ctx.alias[n.output[0]] = other


def clip(ctx, n, a):
    lo = a.get("min", ctx.const(n, 1))
    hi = a.get("max", ctx.const(n, 2))
    lo = None if lo is None else float(lo)
    hi = None if hi is None or np.isinf(hi) else float(hi)
    if lo == 0.0 and hi is None:
        return ctx.add(n, "relu", [ctx.tensor(n.input[0], n)])
    if lo is not None and hi is not None and np.isfinite(lo) and lo < hi:
        return ctx.add(n, "clip", [ctx.tensor(n.input[0], n)], {"min": lo, "max": hi})
    _unsupported(n, f"Clip(min={lo}, max={hi}); qsim imports Clip(min=0, no max) = ReLU and "
                    "Clip with both bounds finite, min < max (ReLU6 = Clip(0, 6))",
                 "give the Clip both bounds")


def concat(ctx, n, a):
    """Concat of activations along a non-batch axis (CHW here; passes.to_hwc moves the axis)."""
    xs = [ctx.tensor(t, n) for t in n.input if t]
    rank = len(ctx.shape(xs[0])) + 1
    axis = int(a.get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if axis == 0 or not 0 < axis < rank:
        _unsupported(n, f"Concat along axis {a.get('axis')} of rank-{rank} tensors; qsim joins "
                        "along a non-batch axis", "concatenate channels (axis 1)")
    if len(xs) == 1:
        ctx.alias[n.output[0]] = xs[0]
        return None
    return ctx.add(n, "concat", xs, {"axis": axis - 1})


def softmax(ctx, n, a):
    x = ctx.tensor(n.input[0], n)
    shape = ctx.shape(x)
    rank = len(shape) + 1
    axis = a.get("axis", 1 if ctx.opset < 13 else -1)
    axis = axis + rank if axis < 0 else axis
    if axis == 0 or (ctx.opset < 13 and prod(shape[axis - 1:]) != shape[axis - 1]):
        _unsupported(n, f"softmax over axis {a.get('axis')} of shape (N,) + {shape}; qsim "
                        "needs one non-batch axis")
    ctx.add(n, "softmax", [x], {"axis": -1 if axis == rank - 1 else axis - 1})


def flatten(ctx, n, a):
    if a.get("axis", 1) != 1:
        _unsupported(n, f"Flatten axis={a['axis']}; only axis=1 (keep the batch) is supported")
    ctx.add(n, "flatten", [ctx.tensor(n.input[0], n)])


def _reshape_to(ctx, n, target):
    x = ctx.tensor(n.input[0], n)
    shape = ctx.shape(x)
    dims = [shape[i] if d == 0 and i < len(shape) else d for i, d in enumerate(target)]
    if dims.count(-1) > 1:
        _unsupported(n, f"reshape target {list(target)} (batch + {dims}) has two unknown sizes")
    if -1 in dims:
        known = prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = prod(shape) // max(known, 1)
    if len(dims) == 1:
        return ctx.add(n, "flatten", [x])
    ctx.add(n, "reshape", [x], {"shape": dims})


def reshape(ctx, n, a):
    target = [int(d) for d in ctx.const(n, 1)]
    if a.get("allowzero", 0) and 0 in target:
        _unsupported(n, f"reshape target {target} with allowzero=1 makes an empty tensor")
    if target[0] not in (0, -1, 1, ctx.batch):
        _unsupported(n, f"reshape target {target} changes the batch axis")
    if target[0] == -1 and -1 in target[1:]:
        _unsupported(n, f"reshape target {target} has two -1 sizes")
    _reshape_to(ctx, n, target[1:])


def unsqueeze(ctx, n, a):
    axes = a.get("axes", ctx.const(n, 1))
    shape = list(ctx.shape(n.input[0]))
    out_rank = len(shape) + 1 + len(axes)
    axes = sorted(int(x) + out_rank if x < 0 else int(x) for x in axes)
    if 0 in axes:
        _unsupported(n, "Unsqueeze at axis 0 (in front of the batch axis)")
    full = [None] + shape
    for ax in axes:
        full.insert(ax, 1)
    _reshape_to(ctx, n, full[1:])


def squeeze(ctx, n, a):
    axes = a.get("axes", ctx.const(n, 1))
    shape = list(ctx.shape(n.input[0]))
    rank = len(shape) + 1
    if axes is None:
        axes = [i + 1 for i, d in enumerate(shape) if d == 1]
    axes = {int(x) + rank if x < 0 else int(x) for x in axes}
    if 0 in axes or any(shape[ax - 1] != 1 for ax in axes):
        _unsupported(n, f"Squeeze of axes {sorted(axes)} of shape (N,) + {tuple(shape)}")
    _reshape_to(ctx, n, [d for i, d in enumerate(shape) if i + 1 not in axes])


def transpose(ctx, n, a):
    perm = list(a.get("perm", []))
    if not perm or perm[0] != 0:
        _unsupported(n, f"Transpose perm {perm} moves the batch axis")
    ctx.add(n, "transpose", [ctx.tensor(n.input[0], n)], {"perm": [p - 1 for p in perm[1:]]})


def batchnorm(ctx, n, a):
    if len([o for o in n.output if o]) > 1:
        _unsupported(n, "training-mode BatchNormalization", "export the model in eval mode")
    params = dict(zip(("scale", "bias", "mean", "var"), (ctx.const(n, i) for i in range(1, 5))))
    ctx.add(n, "batchnorm", [ctx.tensor(n.input[0], n)], {"epsilon": a.get("epsilon", 1e-5)},
            params)


def _simple(op):
    return lambda ctx, n, a: ctx.add(n, op, [ctx.tensor(n.input[0], n)])


def drop(ctx, n, a):
    """Dropout (inference) and Identity vanish: their output is an alias of their input."""
    if n.op_type == "Dropout" and len(n.output) > 1 and n.output[1] and ctx.uses.get(n.output[1]):
        _unsupported(n, "the mask output of Dropout")
    ctx.alias[n.output[0]] = ctx.tensor(n.input[0], n)


HANDLERS = {
    "Conv": conv, "Gemm": gemm, "MatMul": matmul, "Add": add, "Concat": concat,
    "Relu": _simple("relu"), "Clip": clip, "Sigmoid": _simple("sigmoid"), "Tanh": _simple("tanh"),
    "MaxPool": _pool("maxpool"), "AveragePool": _pool("avgpool"),
    "GlobalAveragePool": _global_pool("avgpool"), "GlobalMaxPool": _global_pool("maxpool"),
    "ReduceMean": _reduce("avgpool"), "ReduceMax": _reduce("maxpool"), "Pad": pad,
    "Softmax": softmax, "Flatten": flatten, "Reshape": reshape, "Unsqueeze": unsqueeze,
    "Squeeze": squeeze, "Transpose": transpose, "BatchNormalization": batchnorm, "Dropout": drop,
    "Identity": drop,
}

_RECURRENT = ("legacy CMSIS-NN has no recurrent kernel; replace the recurrent layer by "
              "convolutions over time (e.g. a DS-CNN) or fully connected layers")
_ACTIVATION = "there is no kernel for this activation; train with ReLU (or Sigmoid/Tanh)"
_ARITHMETIC = ("elementwise arithmetic between activations has no kernel; fold constant scales "
               "and offsets into the neighbouring conv/fc (or a BatchNorm) before export")
_INDEXING = ("indexing or slicing an activation has no kernel; give the layer the whole tensor "
             "(e.g. drop x[:, 0] or y[:, -1] from forward)")
ADVICE = {
    "GRU": _RECURRENT, "LSTM": _RECURRENT, "RNN": _RECURRENT,
    "LeakyRelu": _ACTIVATION, "PRelu": _ACTIVATION, "HardSwish": _ACTIVATION,
    "HardSigmoid": _ACTIVATION, "Elu": _ACTIVATION, "Selu": _ACTIVATION, "Gelu": _ACTIVATION,
    "Mish": _ACTIVATION, "Softplus": _ACTIVATION,
    "Mul": _ARITHMETIC, "Sub": _ARITHMETIC, "Div": _ARITHMETIC, "Pow": _ARITHMETIC,
    "Sqrt": _ARITHMETIC,
    "Gather": _INDEXING, "Slice": _INDEXING, "Split": _INDEXING,
    "LRN": "remove local response normalisation (use BatchNorm, which folds into the conv)",
    "Resize": "there is no resize/upsampling kernel; use strided convs or pooling only",
    "Upsample": "there is no resize/upsampling kernel; use strided convs or pooling only",
    "ConvTranspose": "there is no transposed convolution kernel; upsample differently",
    "InstanceNormalization": "only BatchNormalization in eval mode folds away; use BatchNorm",
    "LayerNormalization": "only BatchNormalization in eval mode folds away; use BatchNorm",
}


def unsupported_op(n):
    """Refuse an op no handler imports, with what to do about it."""
    default = n.domain in ("", "ai.onnx")
    op = n.op_type if default else f"{n.domain}.{n.op_type}"
    fix = ADVICE.get(n.op_type) if default else None
    _unsupported(n, f"unsupported op '{op}'", fix or "replace it by a layer qsim imports")
