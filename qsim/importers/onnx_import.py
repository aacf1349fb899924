"""ONNX -> Graph: read and check the file, fold constant subgraphs, build a transient CHW graph
with one small handler per ONNX op (`onnx_handlers.HANDLERS`), then run `qsim.passes.PIPELINE`
(to_hwc, fold_batchnorm).

    graph = load_onnx("kws.onnx")          # HWC graph, BN folded, ready for calibration
    raw = load_onnx("kws.onnx", passes=False)   # the CHW graph exactly as imported

Supported: opsets 11 .. the installed onnx's current one (default domain), float weights given as
initializers or Constant nodes, a static input shape (only the batch axis may be symbolic).
External data (PyTorch's dynamo exporter writes `X.onnx` + `X.onnx.data`) is read from the
model's own folder only, never the current directory (`onnx_files`).
Any node whose inputs are all constants is evaluated at import (`onnx_fold`): shape arithmetic
(torch's `x.view(x.size(0), -1)`), `F.pad`'s pads, Reshape targets. A zero `Pad` merges into
the next Conv's (or, after a ReLU, MaxPool's) padding (`onnx_padding`).
Graph outputs of a 3-D activation come out HWC, i.e. ONNX's NCHW result transposed to NHWC.
Errors: ModelFormatError (not ONNX, truncated, NaN/Inf weights, opset too old, bad external
data), UnsupportedOpError (op or attribute qsim cannot run, dynamic shape), each naming the node;
all the refused nodes of a model are listed in one UnsupportedOpError, each with what to do (after
a refused node the check goes on with its output as a stand-in input, where onnx's shape
inference knows its shape).
"""
import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import ModelFormatError, ShapeError, UnsupportedOpError
from ..graph import Graph, Node
from .onnx_files import read_model
from .onnx_fold import fold, foldable
from .onnx_handlers import HANDLERS, unsupported_op
from .onnx_padding import where as _where

MIN_OPSET = 11


class OnnxContext:
    """What handlers see: constants, tensor aliases, shapes, pending Pads and `add` to append a
    node."""

    def __init__(self, model):
        self.model = model
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.graph = Graph(model.graph.name or "onnx", layout="CHW")
        self.consts: dict[str, np.ndarray] = {}
        self.alias: dict[str, str] = {}
        self.uses: dict[str, int] = {}
        self.pads: dict[str, tuple] = {}     # Pad output -> (Pad node, source tensor, pads)
        self.batch = None                    # the input's static batch size (None: symbolic)
        self.onnx_shapes: dict[str, tuple] = {}
        self.outputs: set[str] = set()       # the model's output names

    def tensor(self, name, node):
        """Graph tensor name of an ONNX activation input (raises if it is a constant)."""
        if name in self.pads:
            pad_node = self.pads[name][0]
            raise UnsupportedOpError(
                f"{_where(pad_node)}: its zero padding feeds {_where(node)}; qsim merges a Pad "
                "only into the padding of the Conv (or MaxPool after a ReLU) that reads it. "
                "help: pad with the layer's own padding argument instead of a separate pad")
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

    def full_shape(self, name):
        """ONNX shape of `name` with the batch axis (static batch or 0), or None if unknown."""
        name = self.alias.get(name, name)
        if name in self.graph.tensors:
            return (self.batch or 0,) + tuple(self.graph.tensors[name].shape)
        return self.onnx_shapes.get(name)

    def add(self, node, op, inputs, attrs=None, params=None, output=None):
        name = node.name or f"{node.op_type}_{len(self.graph.nodes)}"
        while any(n.name == name for n in self.graph.nodes):
            name += "_"
        out = output or node.output[0]
        params = {k: np.asarray(v, np.float32) for k, v in (params or {}).items()}
        return self.graph.add_node(Node(name, op, list(inputs), [out], dict(attrs or {}), params))


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
    for n in model.graph.node:       # Constant nodes with value_float(s)/value_int(s)
        if n.op_type == "Constant" and n.output[0] not in ctx.consts:
            ctx.consts[n.output[0]] = fold(n, {}, {}, None, ctx.opset)[0]


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
        ctx.batch = shape[0] or None
        ctx.graph.add_input(vi.name, shape[1:])


def _onnx_shapes(model, batch):
    """Shapes onnx's shape inference finds, the batch axis as `batch` (used only where qsim's
    graph has none: the Shape of a tensor downstream of a refused node)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:
        return {}
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and dims and \
                all(d.HasField("dim_value") for d in dims[1:]):
            shapes[vi.name] = (dims[0].dim_value or batch,) + tuple(d.dim_value for d in dims[1:])
    return shapes


def _build(ctx, model):
    """Fold and handle every node; returns the list of refusals (messages), empty if none.

    A refused node's output whose shape onnx's shape inference knows becomes a stand-in graph
    input, so the nodes after it are still checked (the graph is thrown away). Otherwise it is
    `dead`: nodes reading it are named only if their op is unsupported, and constant arithmetic
    on its shape (`unknown`) is skipped silently. A ShapeError after a refusal is listed too."""
    problems, dead, unknown = [], set(), set()
    for n in model.graph.node:
        if n.op_type == "Constant":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        inputs = [t for t in n.input if t]
        try:
            if foldable(n, ctx.consts, ctx.full_shape):
                try:
                    values = fold(n, attrs, ctx.consts, ctx.full_shape, ctx.opset)
                except Exception as e:
                    raise UnsupportedOpError(f"{_where(n)}: cannot evaluate this constant node "
                                             f"({type(e).__name__}: {e})") from None
                ctx.consts.update((t, np.asarray(v)) for t, v in zip(n.output, values) if t)
                continue
            if (n.op_type in ("Shape", "Size") and inputs[0] in dead) or (
                    any(t in unknown for t in inputs)
                    and all(t in unknown or t in ctx.consts for t in inputs)):
                unknown.update(n.output)
                continue
            if n.domain not in ("", "ai.onnx") or n.op_type not in HANDLERS:
                unsupported_op(n)
            if any(t in dead or t in unknown for t in inputs):
                dead.update(n.output)        # reads a refused node's output: not checked
                continue
            try:
                HANDLERS[n.op_type](ctx, n, attrs)
            except (ValueError, IndexError, TypeError, KeyError, ZeroDivisionError,
                    OverflowError) as e:        # the node's own numbers do not fit together
                raise ModelFormatError(
                    f"{_where(n)}: its attributes and initializers do not fit together "
                    f"({type(e).__name__}: {str(e)[:160]}). help: re-export the model; if "
                    "onnxruntime runs it as it is, report this to qsim") from None
        except (UnsupportedOpError, ShapeError) as e:
            if isinstance(e, ShapeError) and not problems:
                raise
            problems.append(str(e))
            for t in (t for t in n.output if t and t not in ctx.graph.tensors):
                shape = ctx.onnx_shapes.get(t)
                if shape is not None and len(shape) >= 2 and min(shape[1:]) > 0:
                    ctx.graph.add_input(t, shape[1:])
                else:
                    dead.add(t)
    return problems


def _refuse(problems):
    """One UnsupportedOpError on one line (the CLI prints one line per error): every problem."""
    ops = (". qsim imports: " + ", ".join(sorted(HANDLERS))
           if any("unsupported op '" in p for p in problems) else "")
    if len(problems) == 1:
        raise UnsupportedOpError(problems[0] + ops)
    raise UnsupportedOpError(f"{len(problems)} nodes qsim cannot import (all listed, fix each): "
                             + " | ".join(f"[{i}] {p}" for i, p in enumerate(problems, 1)) + ops)


def load_onnx(source, *, passes=True) -> Graph:
    """Import an ONNX file (path) or ModelProto as a qsim Graph.

    Parameters
    ----------
    source : str | Path | onnx.ModelProto (a path's external data is read from its folder)
    passes : run qsim.passes.PIPELINE (CHW -> HWC, fold BN); False returns the raw CHW graph

    Returns
    -------
    Graph (HWC if passes else CHW), validated.
    """
    model, where = read_model(source)
    ctx = OnnxContext(model)
    if ctx.opset < MIN_OPSET:
        raise ModelFormatError(f"{where}: opset {ctx.opset} is older than {MIN_OPSET}; help: "
                               f"re-export with opset_version >= {MIN_OPSET}")
    _constants(ctx, model)
    _inputs(ctx, model)
    for n in model.graph.node:
        for t in n.input:
            ctx.uses[t] = ctx.uses.get(t, 0) + 1
    for o in model.graph.output:
        ctx.uses[o.name] = ctx.uses.get(o.name, 0) + 1
        ctx.outputs.add(o.name)
    ctx.onnx_shapes = _onnx_shapes(model, ctx.batch or 0)
    problems = _build(ctx, model)
    if problems:
        _refuse(problems)
    g = ctx.graph
    g.outputs = [ctx.alias.get(o.name, o.name) for o in model.graph.output]
    g.meta = {"source": where, "opset": ctx.opset, "producer": model.producer_name}
    g.validate()
    if passes:
        from ..passes import run_pipeline
        run_pipeline(g)
    return g.validate()
