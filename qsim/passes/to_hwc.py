"""Convert the importer's CHW graph (ONNX layouts) to qsim's HWC graph, explicitly.

Every tensor gets a kind while walking the nodes in order:
    "chw"   a 3-D activation ONNX holds as (C, H, W); qsim stores it (H, W, C)
    "plain" ONNX's and qsim's element orders agree (vectors, NHWC tensors made by a Transpose)
    "perm"  a vector flattened from a CHW tensor: qsim's element j (HWC order) is ONNX's element
            perm[j] (CHW order)
Rewrites:
    conv weight OIHW -> OHWI; depthwise (C, 1, KY, KX) -> (KY, KX, C)
    fc reading a "perm" vector: weight columns permuted, W'[:, j] = W[:, perm[j]], so the layer
        reads the HWC-flattened activation exactly as ONNX read the CHW-flattened one
    batchnorm on a "perm" vector: its per-element params permuted the same way
    softmax over CHW channels (axis 0) -> axis -1
    add             inputs of one kind (and one order), output the same
    concat          CHW axis C/H/W -> HWC axis -1/0/1; vectors: the output's perm is the inputs'
                    perms one after the other (a "plain" input counts as the identity)
    Transpose NCHW->NHWC (perm (1, 2, 0)) or back (2, 0, 1): memory no-ops in HWC, removed
    reshape to 3-D: allowed when it is layout-neutral (C == 1 or H*W == 1)
Anything else that would need a real data transpose is an UnsupportedOpError naming the node, as
is a graph output of kind "perm".
"""
import numpy as np

from ..errors import UnsupportedOpError
from ..ops import OPS


def _hwc(shape):
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 else tuple(shape)


def _neutral(shape):
    """True if a (C, H, W) tensor has the same element order in CHW and HWC."""
    return len(shape) != 3 or shape[0] == 1 or shape[1] * shape[2] == 1


def _fail(node, what):
    raise UnsupportedOpError(f"node '{node.name}' ({node.op}): {what}; this needs a data "
                             "transpose qsim does not emit. help: change the model so it is not "
                             "needed (e.g. flatten right before the fully connected layer)")


def _multi(graph, node, kind, perm):
    """The kind (and perm) of an add or concat output from its inputs; moves a concat's axis."""
    kinds = [kind[t] for t in node.inputs]
    out = node.outputs[0]
    shapes = [graph.tensors[t].shape for t in node.inputs]
    if node.op == "concat" and len(shapes[0]) == 1 and "perm" in kinds:
        sizes = np.cumsum([0] + [s[0] for s in shapes[:-1]])
        kind[out] = "perm"
        perm[out] = np.concatenate([(perm[t] if kind[t] == "perm" else np.arange(s[0])) + o
                                    for t, s, o in zip(node.inputs, shapes, sizes)])
        return
    if len(set(kinds)) != 1 or (kinds[0] == "perm" and any(
            not np.array_equal(perm[t], perm[node.inputs[0]]) for t in node.inputs)):
        _fail(node, f"its inputs are in different layouts ({', '.join(kinds)})")
    kind[out] = kinds[0]
    if kinds[0] == "perm":
        perm[out] = perm[node.inputs[0]]
    if node.op == "concat" and kinds[0] == "chw":
        node.attrs["axis"] = (-1, 0, 1)[node.attrs["axis"] % 3]


def to_hwc(graph) -> bool:
    """Convert a CHW graph to HWC in place; False if it already is HWC."""
    if graph.layout == "HWC":
        return False
    kind, perm = {}, {}
    for t in graph.inputs:
        # An input read only through NHWC->NCHW transposes (qsim's own export) is already HWC.
        users = graph.consumers(t)
        nhwc = bool(users) and all(n.op == "transpose" and tuple(n.attrs["perm"]) == (2, 0, 1)
                                   for n in users)
        kind[t] = "chw" if len(graph.tensors[t].shape) == 3 and not nhwc else "plain"
    for node in list(graph.nodes):
        src, out, op = node.inputs[0], node.outputs[0], node.op
        if len(node.inputs) > 1:
            _multi(graph, node, kind, perm)
            continue
        k, in_shape = kind[src], graph.tensors[src].shape
        out_shape = graph.tensors[out].shape
        kind[out] = k
        if k == "perm":
            perm[out] = perm[src]
        if OPS[op].window:
            if k != "chw":
                _fail(node, f"input '{src}' is not a CHW activation")
            w = node.params.get("weight")
            if op == "conv":
                node.params["weight"] = np.ascontiguousarray(w.transpose(0, 2, 3, 1))
            elif op == "depthwise_conv":
                node.params["weight"] = np.ascontiguousarray(w[:, 0].transpose(1, 2, 0))
        elif op == "batchnorm" and k == "perm":
            node.params = {key: v[perm[src]] for key, v in node.params.items()}
        elif OPS[op].elementwise or op == "batchnorm":
            pass
        elif op == "softmax":
            if k == "chw":
                if node.attrs["axis"] not in (0, -3):
                    _fail(node, "softmax over a spatial axis")
                node.attrs["axis"] = -1
        elif op in ("flatten", "reshape", "fc"):
            if k == "chw" and not _neutral(in_shape):
                kind[out] = "perm"
                perm[out] = np.arange(int(np.prod(in_shape))).reshape(in_shape) \
                    .transpose(1, 2, 0).ravel()
            elif k == "chw":
                kind[out] = "plain"
            if op == "fc":
                if kind[out] == "perm":
                    w = node.params["weight"]
                    node.params["weight"] = np.ascontiguousarray(w[:, perm[out]])
                kind[out] = "plain"
            elif len(out_shape) == 3:     # a reshape to an image: ONNX reads it as CHW
                if kind[out] != "plain" or not _neutral(out_shape):
                    _fail(node, f"reshape to the image shape {out_shape}")
                kind[out] = "chw"
                node.attrs["shape"] = _hwc(out_shape)
            elif len(out_shape) != 1 and kind[out] != "plain":
                _fail(node, f"reshape of a CHW tensor to {out_shape}")
        elif op == "transpose":
            p = tuple(node.attrs["perm"])
            if k == "chw" and p == (1, 2, 0):
                kind[out] = "plain"
            elif k == "plain" and p == (2, 0, 1) and len(in_shape) == 3:
                kind[out] = "chw"
            else:
                _fail(node, f"Transpose perm {p} of a {k} tensor")
            node.op, node.attrs = "reshape", {"shape": _hwc(in_shape) if k == "chw" else in_shape}
        if op != "fc" and kind[out] == "chw" and len(out_shape) != 3:
            _fail(node, f"output shape {out_shape} is not an image")
    for t in graph.outputs:
        if kind[t] == "perm":
            raise UnsupportedOpError(f"graph output '{t}' is a CHW tensor flattened in ONNX's "
                                     "order;"
                                     " qsim would return it in HWC order. help: end the model "
                                     "with a fully connected layer or keep the output unflattened")
    for name, t in graph.tensors.items():
        if kind.get(name) == "chw":
            t.shape = _hwc(t.shape)
    graph.layout = "HWC"
    graph.infer_shapes()
    for node in [n for n in graph.nodes if n.op == "reshape"]:   # drop no-op reshapes
        if graph.tensors[node.inputs[0]].shape == graph.tensors[node.outputs[0]].shape:
            if not (node.inputs[0] in graph.outputs and node.outputs[0] in graph.outputs):
                graph.bypass(node)
    return True
