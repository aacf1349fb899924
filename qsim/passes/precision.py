"""Per-layer precision (qsim.quantize's `layer_bits`): each tensor's storage width and the
`requantize` nodes that change it between layers of different precision.

Widths. Every node that computes a new format (conv, depthwise_conv, fc, add, concat, softmax,
sigmoid, tanh) runs at `layer_bits.get(name, scheme width)`: its output is stored in that many
bits and its weights and biases follow (qsim.schemes.weight_bits: q7 kernels at 8, q15 kernels at
16, and an fc at 16 keeps q7 weights in scheme "q7q15"). A node that keeps its input's format
(relu, maxpool, avgpool, clip, flatten, reshape, transpose_hw) follows its producer, so
naming one in `layer_bits` is an error. The graph input is stored at the width of the first layer
reading it (through such format-keeping nodes), or at `layer_bits[input tensor name]` when given.

Conversions. Wherever a computing node runs at another width than a tensor it reads, one
`requantize` node per (tensor, width) is inserted just before its first such reader (named
`<tensor>_to_q7` / `_to_q15`, made unique); the readers at that width read its output. Its
format and kernel are chosen by qsim.quantize (a widening keeps the format: CMSIS-NN's
arm_q7_to_q15_no_shift; otherwise qsim's companion qsim_requantize_q7_q15 / _q15_q7).
"""
import numpy as np

from ..errors import QuantizationError
from ..graph import Node, TensorInfo
from ..ops import OPS


def _fresh(names, base):
    name, k = base, 1
    while name in names:
        k += 1
        name = f"{base}{k}"
    return name


def _computes(node):
    """True if the node chooses its own output format (and so may have its own width)."""
    return not OPS[node.op].keeps_format and node.op != "requantize"


def check_layer_bits(graph, layer_bits, who="layer_bits"):
    """A validated {name: 8 | 16}: names of computing layers (or of the graph input tensor).
    Unknown names are listed with the known ones; format-keeping layers are refused by name."""
    if layer_bits is None:
        return {}
    if not isinstance(layer_bits, dict):
        raise QuantizationError(f"{who} must be a dict {{layer name: 8 or 16}}, got "
                                f"{type(layer_bits).__name__}")
    names = {n.name: n for n in graph.nodes}
    known = [n.name for n in graph.nodes if _computes(n)] + list(graph.inputs)
    unknown = [k for k in layer_bits if k not in names and k not in graph.inputs]
    if unknown:
        raise QuantizationError(f"{who}: no layer {', '.join(repr(str(k)[:60]) for k in unknown)} in "
                                f"graph '{graph.name}'. help: name one of {known}")
    out = {}
    for k, v in layer_bits.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v not in (8, 16):
            raise QuantizationError(f"{who}: width of {k!r} must be 8 or 16, got {v!r}")
        if k in names and not _computes(names[k]):
            raise QuantizationError(
                f"{who}: layer {k!r} ({names[k].op}) keeps its input's format, so it runs at the "
                f"width of the layer before it. help: set that layer's width instead (one of "
                f"{known})")
        out[str(k)] = int(v)
    return out


def _input_bits(graph, t, layer_bits, default):
    """Width of graph input `t`: its own entry, else the first layer reading it (through
    format-keeping nodes), else the scheme's."""
    if t in layer_bits:
        return layer_bits[t]
    todo = [t]
    while todo:
        cur = todo.pop(0)
        for n in graph.consumers(cur):
            if n.op == "requantize":
                return 24 - n.attrs["bits"]
            if _computes(n):
                return layer_bits.get(n.name, default)
            todo.extend(n.outputs)
    return default


def widths(graph, layer_bits, default):
    """{tensor: storage bits} of `graph` (with or without its requantize nodes)."""
    bits = {t: _input_bits(graph, t, layer_bits, default) for t in graph.inputs}
    for node in graph.nodes:
        if node.op == "requantize":
            b = node.attrs["bits"]
        elif OPS[node.op].keeps_format:
            b = bits[node.input]
        else:
            b = layer_bits.get(node.name, default)
        for t in node.outputs:
            bits[t] = b
    return bits


def insert_requantize(graph, layer_bits, default):
    """Insert the requantize nodes `layer_bits` needs (in place); returns {new tensor: the tensor
    it converts} (their calibration statistics are the source's)."""
    bits = widths(graph, layer_bits, default)
    made = {}          # (tensor, width) -> converted tensor
    sources = {}
    new_nodes = []
    node_names = {n.name for n in graph.nodes}
    for node in graph.nodes:
        if _computes(node):
            w = bits[node.outputs[0]]
            for i, t in enumerate(node.inputs):
                if bits[t] == w:
                    continue
                if (t, w) not in made:
                    tq = f"_to_q{w - 1}"
                    out = _fresh(graph.tensors, t + tq)
                    name = _fresh(node_names, t + tq)
                    node_names.add(name)
                    conv = Node(name, "requantize", [t], [out], {"bits": w})
                    graph.tensors[out] = TensorInfo(out, graph.tensors[t].shape)
                    new_nodes.append(conv)
                    made[(t, w)] = out
                    sources[out] = t
                node.inputs[i] = made[(t, w)]
        new_nodes.append(node)
    graph.nodes[:] = new_nodes
    return sources


def pinned_bits(graph, layer_bits, default):
    """`layer_bits` with every graph input's width made explicit (what quantize inserts with)."""
    return {**{t: b for t, b in widths(graph, layer_bits, default).items() if t in graph.inputs},
            **layer_bits}


def with_requantize(float_graph, qgraph):
    """`float_graph` with the requantize nodes the quantizer inserted into `qgraph` (same names:
    the same insertion on the same graph), so float and quantized traces pair up by tensor name.
    Unchanged when qgraph has none or float_graph has them already."""
    from ..schemes import act_bits
    lb = qgraph.meta.get("quantize", {}).get("layer_bits")
    if not lb or any(n.op == "requantize" for n in float_graph.nodes) or \
            not any(n.op == "requantize" for n in qgraph.nodes):
        return float_graph
    g = float_graph.copy()
    default = act_bits(qgraph.quant.scheme)
    insert_requantize(g, pinned_bits(g, check_layer_bits(g, lb), default), default)
    return g


def is_mixed(graph) -> bool:
    """True for a quantized graph whose tensors are stored in more than one width."""
    return len({t.qformat.bits for t in graph.tensors.values() if t.qformat is not None}) > 1
