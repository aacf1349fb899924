"""Graph / Node / TensorInfo: the one IR every qsim stage reads and writes.

A Graph is a DAG of named tensors: `nodes` is a list in topological order, each Node reads
tensors by name (`inputs`) and produces tensors by name (`outputs`). A linear chain is the main
case, but nothing assumes it.

Layout. Activations are HWC (`layout == "HWC"`); at run time a batch axis leads, so a batched
activation is (N, H, W, C). `TensorInfo.shape` never includes the batch axis: (H, W, C) for
images, (n,) for vectors. The ONNX importer builds a transient `layout == "CHW"` graph (ONNX
shapes and weight layouts) that `passes.to_hwc` converts; every other stage requires "HWC".

Nodes. `op` is one of the catalog in `qsim.ops` (which documents every op's attrs and shape rule);
`attrs` is a JSON-able dict (kernel_shape (ky, kx), strides (sy, sx), pads (top, left) and, when
asymmetric, pads_end (bottom, right), ...); `params` holds numpy arrays (float32/float64 from
importers and spec):
    conv            weight (Co, KY, KX, Ci)  "OHWI", bias (Co,)
    depthwise_conv  weight (KY, KX, C), bias (C,)
    fc              weight (rows, dim_in), columns in the order of the flattened HWC input; bias
Later stages may add attrs listed in `ops.FREE_ATTRS` (e.g. "fused_relu": True) or starting
with "_", but never rename these.

Quantization fields. Left None by import/calibration; `qsim.quantize` fills them, `simulate`,
`qat` and `codegen` only read them (parameters are computed once, before execution):
    TensorInfo.qformat  QFormat of the activation tensor (input_q/output_q of a node are the
                        qformats of its input/output tensors: see Graph.input_q / output_q)
    Node.weight_q, Node.bias_q   QFormat of the weight / bias arrays
    Node.bias_shift, Node.out_shift   the CMSIS shift-API shifts (ints 0..31)
    Node.kernel        CMSIS function name chosen for the node (e.g. "arm_convolve_HWC_q7_fast")
    Node.pad_ch_in, Node.pad_ch_out   zero channels appended to the input/output of the kernel
                        call to meet a kernel constraint (e.g. ch_in % 4 == 0); None = none
    Graph.quant        QuantSettings(scheme, path "ref"|"dsp", version "5.7.0"|"5.9.0", truncate)

Files. `save(path)` writes model.json (structure, attrs, qformats, shifts, settings) and
model.npz (arrays, key "<node>/<param>", loaded with allow_pickle=False) into a folder, or writes
`<stem>.json` + `<stem>.npz` when path ends in ".json". Each file is written to a temporary name
and renamed; the json records the npz's sha256 so a mismatched pair is detected on load.
The json schema is documented in `qsim.graph_io`.
"""
import copy
from dataclasses import dataclass, field

import numpy as np

from . import graph_io, ops
from .errors import ModelFormatError, QsimError, ShapeError, UnsupportedOpError
from .fixedpoint import QFormat
from .releases import UnknownRelease, check_path, release



@dataclass
class TensorInfo:
    """A named tensor: its shape without batch axis, and its fixed-point format once quantized."""

    name: str
    shape: tuple
    qformat: QFormat | None = None

    def __post_init__(self):
        self.shape = tuple(int(d) for d in self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class Node:
    """One op. See the module docstring for params layouts and quantization fields."""

    name: str
    op: str
    inputs: list
    outputs: list
    attrs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    weight_q: QFormat | None = None
    bias_q: QFormat | None = None
    bias_shift: int | None = None
    out_shift: int | None = None
    kernel: str | None = None
    pad_ch_in: int | None = None
    pad_ch_out: int | None = None

    @property
    def input(self) -> str:
        return self.inputs[0]

    @property
    def output(self) -> str:
        return self.outputs[0]


QUANT_FIELDS = ("weight_q", "bias_q", "bias_shift", "out_shift", "kernel", "pad_ch_in",
                "pad_ch_out")


@dataclass
class QuantSettings:
    """Graph-wide quantization choices: scheme ("q7", "q15", ... set by the quantizer; None =
    float graph), CMSIS code path and version, and the ARM_NN_TRUNCATE build flag."""

    scheme: str | None = None
    path: str = "ref"
    version: str = "5.7.0"
    truncate: bool = False

    def __post_init__(self):
        check_path(self.path)       # UnknownRelease (a ValueError) naming the choices
        release(self.version)

    @property
    def release(self):
        """The qsim.releases.Release of `version`: ask it the release's facts."""
        return release(self.version)


class Graph:
    """Named tensors + nodes in topological order. Build with add_input / add_node."""

    def __init__(self, name="graph", layout="HWC"):
        self.name = name
        self.layout = layout
        self.tensors: dict[str, TensorInfo] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.quant = QuantSettings()
        # free JSON-able provenance (source file, opset, seed, ...); one key is read back:
        # "logit_offset", per class, what was added to the output logits after training (a prior
        # shift, qsim.kws.flow.shift_unknown_prior), which QAT keeps (qsim.qat.finetune)
        self.meta: dict = {}

    # -- building ------------------------------------------------------------------------------
    def add_input(self, name, shape) -> TensorInfo:
        if name in self.tensors:
            raise ShapeError(f"tensor '{name}' already exists")
        self.tensors[name] = TensorInfo(name, shape)
        self.inputs.append(name)
        return self.tensors[name]

    def add_node(self, node: Node) -> Node:
        """Append `node` (its inputs must exist), infer and register its output tensors."""
        if any(n.name == node.name for n in self.nodes):
            raise ShapeError(f"node name '{node.name}' is used twice")
        for t in node.inputs:
            if t not in self.tensors:
                raise ShapeError(f"node '{node.name}' reads tensor '{t}', which no earlier node "
                                 "or graph input produces")
        for t in node.outputs:
            if t in self.tensors:
                raise ShapeError(f"node '{node.name}' writes tensor '{t}', which already exists")
        shapes = ops.infer(node, [self.tensors[t].shape for t in node.inputs], self.layout)
        for t, s in zip(node.outputs, shapes):
            self.tensors[t] = TensorInfo(t, s)
        self.nodes.append(node)
        return node

    # -- queries --------------------------------------------------------------------------------
    def node(self, name) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node named '{name}'")

    def producer(self, tensor) -> Node | None:
        return next((n for n in self.nodes if tensor in n.outputs), None)

    def consumers(self, tensor) -> list:
        return [n for n in self.nodes if tensor in n.inputs]

    def only_relus_read(self, tensor) -> bool:
        """Every reader of `tensor` is a relu (at least one) and it is not a graph output: its
        negative values, saturated or not, become 0 before anything else sees them."""
        readers = self.consumers(tensor)
        return bool(readers) and all(n.op == "relu" for n in readers) and tensor not in self.outputs

    def input_q(self, node) -> QFormat | None:
        return self.tensors[node.inputs[0]].qformat

    def output_q(self, node) -> QFormat | None:
        return self.tensors[node.outputs[0]].qformat

    def is_chain(self) -> bool:
        """True if every node reads exactly the previous node's (or the input's) only output."""
        prev = self.inputs[0] if len(self.inputs) == 1 else None
        for n in self.nodes:
            if n.inputs != [prev] or len(n.outputs) != 1:
                return False
            prev = n.outputs[0]
        return self.outputs == [prev]

    # -- editing (used by passes) ---------------------------------------------------------------
    def bypass(self, node):
        """Remove a one-in/one-out node, rewiring readers of its output to its input."""
        src, dst = node.inputs[0], node.outputs[0]
        if dst in self.outputs and src in self.outputs:
            raise ShapeError(f"cannot remove node '{node.name}': both tensors are graph outputs")
        self.nodes.remove(node)
        for n in self.nodes:
            n.inputs = [src if t == dst else t for t in n.inputs]
        self.outputs = [src if t == dst else t for t in self.outputs]
        del self.tensors[dst]

    def infer_shapes(self):
        """Recompute every node's output shapes from the inputs (after a pass edits the graph)."""
        for n in self.nodes:
            for t, s in zip(n.outputs, ops.infer(n, [self.tensors[t].shape for t in n.inputs],
                                                 self.layout)):
                self.tensors[t].shape = tuple(s)
        return self

    def validate(self):
        """Check names, topological order and shapes; raise ShapeError naming the problem."""
        seen = set(self.inputs)
        for n in self.nodes:
            for t in n.inputs:
                if t not in seen:
                    raise ShapeError(f"node '{n.name}' reads '{t}' before it is produced")
            seen.update(n.outputs)
        for t in self.outputs:
            if t not in seen:
                raise ShapeError(f"graph output '{t}' is never produced")
        stale = {s.name: s.shape for s in self.tensors.values()}
        self.infer_shapes()
        for name, shape in stale.items():
            if self.tensors[name].shape != shape:
                raise ShapeError(f"tensor '{name}' records shape {shape} but its producer "
                                 f"gives {self.tensors[name].shape}")
        return self

    def require_hwc(self, who):
        if self.layout != "HWC":
            raise UnsupportedOpError(f"{who} needs an HWC graph, this one is {self.layout}; "
                                     "help: run qsim.passes.run_pipeline(graph) first")

    def copy(self) -> "Graph":
        return copy.deepcopy(self)

    def summary(self) -> str:
        lines = [f"Graph '{self.name}' ({self.layout}); inputs {self.inputs}, "
                 f"outputs {self.outputs}"]
        for n in self.nodes:
            shape = self.tensors[n.outputs[0]].shape
            lines.append(f"  {n.name:<16} {n.op:<15} {str(shape):<16} "
                         + " ".join(f"{k}={v}" for k, v in n.attrs.items()))
        return "\n".join(lines)

    def __repr__(self):
        return f"<Graph '{self.name}' {len(self.nodes)} nodes, {self.layout}>"

    # -- files (qsim.graph_io) ---------------------------------------------------------------
    def to_dict(self):
        """(doc, arrays): the JSON-able structure (schema in qsim.graph_io) and the parameter
        arrays under "<node name>/<param name>"."""
        arrays = {f"{n.name}/{k}": np.asarray(v) for n in self.nodes for k, v in n.params.items()}
        doc = {
            "name": self.name, "layout": self.layout, "inputs": self.inputs,
            "outputs": self.outputs, "meta": self.meta,
            "quant": vars(self.quant),
            "tensors": [{"name": t.name, "shape": list(t.shape), "qformat": _q(t.qformat)}
                        for t in self.tensors.values()],
            "nodes": [{"name": n.name, "op": n.op, "inputs": n.inputs, "outputs": n.outputs,
                       "attrs": {k: _jsonable(v) for k, v in n.attrs.items()},
                       "params": list(n.params),
                       **{f: (_q(getattr(n, f)) if f.endswith("_q") else getattr(n, f))
                          for f in QUANT_FIELDS}}
                      for n in self.nodes],
        }
        return doc, arrays

    @classmethod
    def from_dict(cls, doc, arrays) -> "Graph":
        """The inverse of `to_dict` (attribute lists of numbers come back as tuples). Formats and
        shapes are read strictly (2.5 or "7" is refused, never rounded); the IR's own checks are
        `validate` and qsim.validate."""
        g = cls(doc["name"], doc["layout"])
        g.inputs, g.outputs, g.meta = list(doc["inputs"]), list(doc["outputs"]), doc["meta"]
        g.quant = QuantSettings(**doc["quant"])
        for t in doc["tensors"]:
            qf = None if t["qformat"] is None else _strict_q(t["qformat"])
            if not isinstance(t["shape"], list) or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in t["shape"]):
                raise ValueError(f"tensor {str(t['name'])[:80]!r}: shape {str(t['shape'])[:80]} is "
                                 "not a list of positive ints")
            g.tensors[t["name"]] = TensorInfo(t["name"], t["shape"], qf)
        for d in doc["nodes"]:
            n = Node(d["name"], d["op"], list(d["inputs"]), list(d["outputs"]),
                     {k: _tuples(v) for k, v in d["attrs"].items()},
                     {k: arrays[f"{d['name']}/{k}"] for k in d["params"]})
            for f in QUANT_FIELDS:
                v = d.get(f)
                setattr(n, f, _strict_q(v) if f.endswith("_q") and v is not None else v)
            g.nodes.append(n)
        return g

    def save(self, path):
        """Write model.json + model.npz (see module docstring); returns the json path. Names are
        checked first (qsim.validate.check_names): a graph that could not be loaded back is never
        written."""
        from .validate import check_names
        check_names(self, f"save {str(path)[:80]}")
        return graph_io.write(*self.to_dict(), path)

    @staticmethod
    def load(path) -> "Graph":
        """Read a graph written by `save` (folder or .json path), checked by qsim.validate (a fully
        quantized graph by validate_quantized); raises ModelFormatError or the validator's error."""
        from .validate import check_names, validate_graph, validate_quantized   # no cycle at import
        doc, arrays, jpath = graph_io.read(path)
        try:
            g = Graph.from_dict(doc, arrays)
            check_names(g, str(jpath))          # arrays are found by layer name: names first
            g.validate()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as e:
            if isinstance(e, UnknownRelease):       # quant.path / quant.version edited in the file
                raise ModelFormatError(f"{jpath}: quant settings: {e}") from None
            if isinstance(e, QsimError):
                raise
            raise ModelFormatError(f"{jpath}: malformed graph file ({type(e).__name__}: "
                                   f"{str(e)[:200]}). help: save the graph again") from None
        if g.quant.scheme is None or any(t.qformat is None for t in g.tensors.values()):
            return validate_graph(g, str(jpath))      # float (or partly quantized, for tests) graph
        return validate_quantized(g, str(jpath))


def _strict_q(v):
    """A QFormat from its JSON dict, refusing what int() would silently round (2.5, "7")."""
    if not isinstance(v, dict) or set(v) != {"bits", "frac_bits"} or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in v.values()):
        raise ValueError(f"format {str(v)[:80]} is not {{'bits': int, 'frac_bits': int}}")
    return QFormat(v["bits"], v["frac_bits"])


def _q(qf):
    return None if qf is None else qf.to_dict()


def _jsonable(v):
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v
