"""Constant folding at import: an ONNX node whose inputs are all constants (initializers, Constant
nodes, earlier folded nodes) is evaluated here and its outputs become constants too, before any
op handler sees the graph. This is how exporters' shape arithmetic disappears:

    torch's x.view(x.size(0), -1)   Shape -> Gather -> Unsqueeze -> Concat -> Reshape's target
    torch's F.pad(x, (1, 1, 1, 1))  ConstantOfShape -> Concat -> Reshape -> Slice -> Transpose ->
                                    Reshape -> Cast -> Pad's pads
    nn.GRU's initial state          Shape -> Gather -> Unsqueeze -> Concat -> ConstantOfShape

`Shape` (and `Size`) of an activation folds too, from its static shape; the batch axis reads as
the model input's static batch size, or 0 when it is symbolic (a following Reshape reads 0 as
"copy the batch axis"). Every other op is evaluated by onnx's reference implementation
(`onnx.reference`) at the model's opset, so folding covers any op onnx defines, with onnx's own
semantics. Never folded: random generators (each run differs) and control flow.
"""
import numpy as np
from onnx.reference import ReferenceEvaluator

NOT_FOLDED = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
              "Multinomial", "Bernoulli", "If", "Loop", "Scan", "Constant"}


def foldable(n, consts, shape_of):
    """True if `n` can be evaluated now: default domain, all inputs constant (Shape/Size: the
    input's shape known)."""
    if n.domain not in ("", "ai.onnx") or n.op_type in NOT_FOLDED or not n.input:
        return False
    if n.op_type in ("Shape", "Size"):
        return shape_of(n.input[0]) is not None
    return all(t in consts for t in n.input if t)


def fold(n, attrs, consts, shape_of, opset):
    """Output arrays of `n` (a `foldable` node), as a list in the order of `n.output`."""
    if n.op_type == "Shape":
        shape = np.array(shape_of(n.input[0]), np.int64)
        rank = len(shape)
        start, end = attrs.get("start", 0), attrs.get("end", rank)
        start, end = (min(max(i + rank if i < 0 else i, 0), rank) for i in (start, end))
        return [shape[start:end]]
    if n.op_type == "Size":
        return [np.array(np.prod(shape_of(n.input[0])), np.int64)]
    feeds = {t: consts[t] for t in n.input if t}
    return ReferenceEvaluator(n, opsets={"": opset}).run(None, feeds)
