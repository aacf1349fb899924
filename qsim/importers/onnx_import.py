"""ONNX -> Graph: read and check the file, build a transient CHW graph with one small handler per
ONNX op (`onnx_handlers.HANDLERS`), then run `qsim.passes.PIPELINE` (to_hwc, fold_batchnorm).

    graph = load_onnx("kws.onnx")          # HWC graph, BN folded, ready for calibration
    raw = load_onnx("kws.onnx", passes=False)   # the CHW graph exactly as imported

Supported: opsets 11 .. the installed onnx's current one (default domain), float weights given as
initializers or Constant nodes, a static input shape (only the batch axis may be symbolic).
Shape arithmetic on constants (Shape, Gather, Unsqueeze, Squeeze, Concat: torch's
`x.view(x.size(0), -1)`) is folded at import (`onnx_handlers.fold_constant`).
Graph outputs of a 3-D activation come out HWC, i.e. ONNX's NCHW result transposed to NHWC.
Errors: ModelFormatError (not ONNX, truncated, NaN/Inf weights, opset too old),
UnsupportedOpError (op or attribute qsim cannot run, dynamic shape), each naming the node.
"""
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import ModelFormatError, UnsupportedOpError
from ..graph import Graph, Node
from .onnx_handlers import FOLDABLE, HANDLERS, fold_constant

MIN_OPSET = 11


class OnnxContext:
    """What handlers see: constants, tensor aliases, shapes, and `add` to append a node."""

    def __init__(self, model):
        self.model = model
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.graph = Graph(model.graph.name or "onnx", layout="CHW")
        self.consts: dict[str, np.ndarray] = {}
        self.alias: dict[str, str] = {}
        self.uses: dict[str, int] = {}

    def tensor(self, name, node):
        """Graph tensor name of an ONNX activation input (raises if it is a constant)."""
        name = self.alias.get(name, name)
        if name not in self.graph.tensors:
            what = "a constant" if name in self.consts else "undefined"
            raise UnsupportedOpError(f"{_where(node)}: input '{name}' is {what}; qsim expects an "
                                     "activation here")
        return name

    def const(self, node, index, default=None):
        """Constant input `index` of `node` as a numpy array (default if absent)."""
        if index >= len(node.input) or not node.input[index]:
            return default
        name = node.input[index]
        if name not in self.consts:
            raise UnsupportedOpError(f"{_where(node)}: input {index} ('{name}') must be a constant "
                                     "(initializer or Constant node); computed weights/shapes are "
                                     "not supported. help: export with constant folding on")
        return self.consts[name]

    def shape(self, name):
        return self.graph.tensors[self.alias.get(name, name)].shape

    def add(self, node, op, inputs, attrs=None, params=None, output=None):
        name = node.name or f"{node.op_type}_{len(self.graph.nodes)}"
        while any(n.name == name for n in self.graph.nodes):
            name += "_"
        out = output or node.output[0]
        params = {k: np.asarray(v, np.float32) for k, v in (params or {}).items()}
        return self.graph.add_node(Node(name, op, list(inputs), [out], dict(attrs or {}), params))


def _where(node):
    return f"node '{node.name or '?'}' ({node.op_type})"


def _read(source):
    if isinstance(source, onnx.ModelProto):
        return source, "<model>"
    path = Path(source)
    if not path.is_file():
        raise ModelFormatError(f"{path}: no such file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf raises DecodeError/RuntimeWarning subclasses
        raise ModelFormatError(f"{path}: not an ONNX model or truncated file ({type(e).__name__}: "
                               f"{e})") from None
    return model, str(path)


def _check_model(model, where):
    if not model.graph.node or not model.opset_import:
        raise ModelFormatError(f"{where}: not an ONNX model (no graph nodes or opset); the file "
                               "may be empty, truncated or of another format")
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise ModelFormatError(f"{where}: invalid ONNX model ({str(e).splitlines()[0]})") from None


def _constants(ctx, model):
    tensors = [(t.name, t) for t in model.graph.initializer]
    tensors += [(n.output[0], next(a.t for a in n.attribute if a.name == "value"))
                for n in model.graph.node if n.op_type == "Constant"
                and any(a.name == "value" for a in n.attribute)]
    for name, t in tensors:
        arr = numpy_helper.to_array(t)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.isfinite(arr).sum())
            raise ModelFormatError(f"weight '{name}' holds {bad} NaN/Inf values; help: check the "
                                   "training run or the export")
        ctx.consts[name] = arr


def _inputs(ctx, model):
    for vi in model.graph.input:
        if vi.name in ctx.consts:
            continue
        dims = vi.type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        if len(shape) < 2 or any(d is None or d <= 0 for d in shape[1:]):
            raise UnsupportedOpError(
                f"input '{vi.name}' has dynamic or unknown shape "
                f"{[d.dim_param or d.dim_value for d in dims]}; only the batch axis may be "
                "dynamic. help: export with a fixed input size")
        ctx.graph.add_input(vi.name, shape[1:])


def load_onnx(source, *, passes=True) -> Graph:
    """Import an ONNX file (path) or ModelProto as a qsim Graph.

    Parameters
    ----------
    source : str | Path | onnx.ModelProto
    passes : run qsim.passes.PIPELINE (CHW -> HWC, fold BN); False returns the raw CHW graph

    Returns
    -------
    Graph (HWC if passes else CHW), validated.
    """
    model, where = _read(source)
    _check_model(model, where)
    ctx = OnnxContext(model)
    if ctx.opset < MIN_OPSET:
        raise ModelFormatError(f"{where}: opset {ctx.opset} is older than {MIN_OPSET}; help: "
                               f"re-export with opset_version >= {MIN_OPSET}")
    _constants(ctx, model)
    _inputs(ctx, model)
    for n in model.graph.node:
        for t in n.input:
            ctx.uses[t] = ctx.uses.get(t, 0) + 1
    for n in model.graph.node:
        if n.op_type == "Constant":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        inputs_const = all(t in ctx.consts for t in n.input if t)
        if n.op_type in FOLDABLE and (n.op_type == "Shape" or inputs_const):
            values = [ctx.consts.get(t) for t in n.input]
            ctx.consts[n.output[0]] = fold_constant(n, attrs, values, ctx.shape)
            continue
        if n.domain not in ("", "ai.onnx") or n.op_type not in HANDLERS:
            op = f"{n.domain}.{n.op_type}" if n.domain else n.op_type
            raise UnsupportedOpError(f"{_where(n)}: unsupported op '{op}'. qsim imports: "
                                     f"{', '.join(sorted(HANDLERS))}")
        HANDLERS[n.op_type](ctx, n, attrs)
    g = ctx.graph
    g.outputs = [ctx.alias.get(o.name, o.name) for o in model.graph.output]
    g.meta = {"source": where, "opset": ctx.opset, "producer": model.producer_name}
    g.validate()
    if passes:
        from ..passes import run_pipeline
        run_pipeline(g)
    return g.validate()
