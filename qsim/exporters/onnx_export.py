"""Graph -> ONNX: write a float HWC Graph as a standard ONNX model onnxruntime can run.

    export_onnx(graph, "kws.onnx")           # opset 17; model = to_onnx(graph) for the proto

The model keeps qsim's data layout at its boundary: each 3-D input is (N, H, W, C) with a symbolic
batch axis N, and each 3-D output comes back NHWC. Inside, images are NCHW as ONNX's Conv and
pooling want; Transposes are inserted only where the layout changes, once per tensor:
    input (N,H,W,C) -> Transpose(0,3,1,2) -> Conv / pooling / BatchNormalization in NCHW
    -> Transpose(0,2,3,1) back to NHWC before Flatten, Reshape, Softmax or Gemm, so the flattened
       vector is in HWC order and the fc weight columns (flattened HWC) stay valid.
Per op (qsim.ops semantics, float graph):
    conv            Conv, weight OHWI -> OIHW, pads (top, left, bottom, right) from pads and
                    pads_end (default pads)
    depthwise_conv  Conv group=C, weight (KY, KX, C) -> (C, 1, KY, KX)
    fc              [Flatten] + Gemm(transB=1)
    maxpool         MaxPool (ONNX pads never win a max: same as valid taps only)
    avgpool         AveragePool, count_include_pad as the node's (default 0: average over the
                    valid taps, as qsim)
    relu, sigmoid, tanh, clip   Relu, Sigmoid, Tanh, Clip(min, max) in whatever layout their input
                    has
    add             Add, in NCHW if both inputs already exist in NCHW, else NHWC
    concat          Concat in NCHW if every input already exists in NCHW, else NHWC (the axis
                    moved to that layout)
    softmax         Softmax on the NHWC tensor (opset < 13 only over the last axis)
    flatten, reshape, transpose, batchnorm   Flatten, Reshape, Transpose, BatchNormalization
    transpose_hw    Transpose swapping H and W (perm (0,2,1,3) in NHWC, (0,1,3,2) in NCHW)
Weights are written as float32 initializers. Quantization fields of a quantized graph are
ignored: the export is always the float net. `attrs["fused_relu"]` is a marking only (the relu
node is still in the graph) and exports nothing.
"""
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import __version__
from ..errors import UnsupportedOpError
from ..fileio import atomic_write

MIN_OPSET = 11
TO_NCHW, TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)


class _Writer:
    """Collects nodes and initializers; knows under which ONNX name each tensor exists per layout.

    A qsim tensor t is named t in ONNX when it is NHWC (or not an image) and t + ".nchw" when NCHW.
    """

    def __init__(self, graph, opset):
        self.graph, self.opset = graph, opset
        self.nodes, self.inits = [], []
        self.have: dict[str, set] = {}      # tensor -> layouts emitted so far ("nhwc", "nchw")

    def rank(self, t):
        return len(self.graph.tensors[t].shape)

    @staticmethod
    def name(t, layout):
        return t + ".nchw" if layout == "nchw" else t

    def get(self, t, layout):
        """ONNX name of tensor t in `layout` (ignored unless t is an image); transposes once."""
        if self.rank(t) != 3:
            return t
        if layout not in self.have[t]:
            src = "nchw" if layout == "nhwc" else "nhwc"
            self.add("Transpose", [self.name(t, src)], self.name(t, layout),
                     f"{t}.to_{layout}", perm=TO_NHWC if layout == "nhwc" else TO_NCHW)
            self.have[t].add(layout)
        return self.name(t, layout)

    def add(self, op_type, inputs, output, node_name, **attrs):
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=node_name, **attrs))
        return output

    def const(self, name, arr, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype), name))
        return name

    def produce(self, node, op_type, inputs, layout, **attrs):
        """Emit `op_type` writing the node's output tensor in `layout`."""
        out = node.outputs[0]
        layout = layout if self.rank(out) == 3 else "nhwc"
        self.have[out] = {layout}
        return self.add(op_type, inputs, self.name(out, layout), node.name, **attrs)


def _geometry(a):
    (py, px) = a["pads"]
    (ey, ex) = a.get("pads_end", (py, px))
    geom = dict(kernel_shape=list(a["kernel_shape"]), strides=list(a["strides"]),
                pads=[py, px, ey, ex])
    if a.get("ceil_mode"):
        geom["ceil_mode"] = 1
    return geom


def _conv(w, node):
    x = w.get(node.inputs[0], "nchw")
    p = node.params
    if node.op == "conv":
        weight, group = np.asarray(p["weight"]).transpose(0, 3, 1, 2), 1
    else:
        weight = np.asarray(p["weight"]).transpose(2, 0, 1)[:, None]
        group = weight.shape[0]
    wn = w.const(f"{node.name}.weight", weight)
    bn = w.const(f"{node.name}.bias", p["bias"])
    w.produce(node, "Conv", [x, wn, bn], "nchw", group=group, **_geometry(node.attrs))


def _pool(w, node):
    x = w.get(node.inputs[0], "nchw")
    if node.op == "maxpool":
        w.produce(node, "MaxPool", [x], "nchw", **_geometry(node.attrs))
    else:
        w.produce(node, "AveragePool", [x], "nchw",
                  count_include_pad=int(node.attrs.get("count_include_pad", 0)),
                  **_geometry(node.attrs))


def _elementwise(w, node):
    t = node.inputs[0]
    layout = "nchw" if w.rank(t) == 3 and "nchw" in w.have[t] else "nhwc"
    w.produce(node, {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}[node.op],
              [w.get(t, layout)], layout)


def _clip(w, node):
    t = node.inputs[0]
    layout = "nchw" if w.rank(t) == 3 and "nchw" in w.have[t] else "nhwc"
    bounds = []
    for k in ("min", "max"):            # scalars (ascontiguousarray would make them 1-D)
        w.inits.append(numpy_helper.from_array(np.array(node.attrs[k], np.float32),
                                               f"{node.name}.{k}"))
        bounds.append(f"{node.name}.{k}")
    w.produce(node, "Clip", [w.get(t, layout), *bounds], layout)


def _layout_of_all(w, node):
    """"nchw" if every input of the node is an image already emitted in NCHW, else "nhwc"."""
    return "nchw" if all(w.rank(t) == 3 and "nchw" in w.have[t] for t in node.inputs) else "nhwc"


def _add(w, node):
    layout = _layout_of_all(w, node)
    w.produce(node, "Add", [w.get(t, layout) for t in node.inputs], layout)


def _concat(w, node):
    layout = _layout_of_all(w, node)
    rank = w.rank(node.inputs[0])
    axis = node.attrs["axis"] % rank                  # in HWC (or the vector's) axes
    onnx_axis = (2, 3, 1)[axis] if layout == "nchw" else axis + 1
    w.produce(node, "Concat", [w.get(t, layout) for t in node.inputs], layout, axis=onnx_axis)


def _fc(w, node):
    t = node.inputs[0]
    x = w.get(t, "nhwc")
    if w.rank(t) != 1:
        x = w.add("Flatten", [x], f"{t}.flat", f"{node.name}.flatten", axis=1)
    wn = w.const(f"{node.name}.weight", node.params["weight"])
    bn = w.const(f"{node.name}.bias", node.params["bias"])
    w.produce(node, "Gemm", [x, wn, bn], "nhwc", transB=1)


def _softmax(w, node):
    t = node.inputs[0]
    rank = w.rank(t)
    axis = node.attrs.get("axis", -1)
    axis = axis + rank if axis < 0 else axis
    if w.opset < 13 and axis != rank - 1:
        raise UnsupportedOpError(f"node '{node.name}' (softmax): axis {axis} of a rank-{rank} "
                                 f"tensor needs opset >= 13 (older Softmax flattens the trailing "
                                 f"axes). help: export_onnx(..., opset=13) or later")
    w.produce(node, "Softmax", [w.get(t, "nhwc")], "nhwc", axis=axis + 1)


def _flatten(w, node):
    w.produce(node, "Flatten", [w.get(node.inputs[0], "nhwc")], "nhwc", axis=1)


def _reshape(w, node):
    shape = w.const(f"{node.name}.shape", [-1, *node.attrs["shape"]], np.int64)
    w.produce(node, "Reshape", [w.get(node.inputs[0], "nhwc"), shape], "nhwc")


def _transpose(w, node):
    perm = [0] + [p + 1 for p in node.attrs["perm"]]
    w.produce(node, "Transpose", [w.get(node.inputs[0], "nhwc")], "nhwc", perm=perm)


def _transpose_hw(w, node):
    """Swap H and W in whichever layout the input already has (no extra layout Transpose)."""
    t = node.inputs[0]
    layout = "nchw" if "nchw" in w.have[t] else "nhwc"
    perm = [0, 1, 3, 2] if layout == "nchw" else [0, 2, 1, 3]
    w.produce(node, "Transpose", [w.get(t, layout)], layout, perm=perm)


def _batchnorm(w, node):
    t = node.inputs[0]
    if w.rank(t) == 2:
        raise UnsupportedOpError(f"node '{node.name}' (batchnorm): a rank-2 input has its "
                                 "channels last in qsim but at axis 1 in ONNX. help: fold it "
                                 "(qsim.passes.fold_batchnorm) or flatten first")
    x = w.get(t, "nchw")          # (N, C, H, W), or (N, C) for a vector
    names = [w.const(f"{node.name}.{k}", node.params[k]) for k in ("scale", "bias", "mean", "var")]
    w.produce(node, "BatchNormalization", [x, *names], "nchw",
              epsilon=float(node.attrs["epsilon"]))


EXPORTERS = {
    "conv": _conv, "depthwise_conv": _conv, "fc": _fc, "maxpool": _pool, "avgpool": _pool,
    "relu": _elementwise, "sigmoid": _elementwise, "tanh": _elementwise, "softmax": _softmax,
    "flatten": _flatten, "reshape": _reshape, "transpose": _transpose, "batchnorm": _batchnorm,
    "transpose_hw": _transpose_hw, "clip": _clip, "add": _add, "concat": _concat,
}


def _value_info(graph, t):
    return helper.make_tensor_value_info(t, TensorProto.FLOAT, ["N", *graph.tensors[t].shape])


def to_onnx(graph, opset=17) -> onnx.ModelProto:
    """The ONNX ModelProto of a float HWC graph (see the module docstring); checked by onnx.checker.

    Raises UnsupportedOpError for an op without an ONNX mapping or an opset below 11.
    """
    graph.require_hwc("export_onnx")
    top = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= top:
        raise UnsupportedOpError(f"export_onnx: opset {opset} is outside {MIN_OPSET}..{top} "
                                 "(the installed onnx package's range)")
    w = _Writer(graph, opset)
    for t in graph.inputs:
        w.have[t] = {"nhwc"}
    for node in graph.nodes:
        fn = EXPORTERS.get(node.op)
        if fn is None:
            raise UnsupportedOpError(f"node '{node.name}': op '{node.op}' has no ONNX export; "
                                     f"exportable ops are {sorted(EXPORTERS)}")
        fn(w, node)
    outputs = [w.get(t, "nhwc") for t in graph.outputs]
    g = helper.make_graph(w.nodes, graph.name, [_value_info(graph, t) for t in graph.inputs],
                          [_value_info(graph, t) for t in outputs], w.inits)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(g, opset_imports=opsets, producer_name="qsim",
                              producer_version=__version__)
    model.ir_version = helper.find_min_ir_version_for(opsets)   # what older runtimes accept
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(graph, path, opset=17) -> Path:
    """Write `graph` (float, HWC) to `path` as an ONNX model; returns the path.

    Parameters
    ----------
    graph : Graph (HWC). Inputs are (N, H, W, C) / (N, n) with a symbolic batch axis "N".
    path : destination .onnx file; written to a temporary file in the same folder and renamed,
        so a reader never sees a half-written model
    opset : ONNX opset of the default domain, 11 .. the installed onnx's current one
    """
    data = to_onnx(graph, opset).SerializeToString()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    return path
