"""Swap the H and W axes of every image in a graph, computing the same function on the same input.

    swap_hw(graph)      input -> transpose_hw -> every spatial layer with (y, x) exchanged

Why: CMSIS-NN's q15 non-square conv is wrong on the DSP path for an odd output width (semantics
doc §1.9), and q15 has no basic non-square conv. The KWS net (input 49x10, conv 10x4 -> 40x7)
hits this; swapped (input 10x49, conv 4x10 -> 7x40) it is legal. Integer sums do not depend on
the order of their terms, so the quantized results are the same numbers in another memory order.

Rewrites, walking the nodes in order from the new transposed input (tensor names are kept, only
shapes change, so a calibration of the original graph still applies):
    conv            kernel_shape, strides, pads reversed; weight (Co,KY,KX,Ci) -> (Co,KX,KY,Ci)
    depthwise_conv  the same; weight (KY,KX,C) -> (KX,KY,C)
    maxpool/avgpool kernel_shape, strides, pads (and pads_end) reversed
    add             inputs all swapped (or all the same permuted vector): unchanged
    concat          over channels unchanged; over H or W the axis is the other one; vectors:
                    the inputs' perms one after the other
    relu, sigmoid, tanh, batchnorm, softmax over channels   unchanged (per pixel or elementwise)
    flatten / 1-D reshape   the vector is in swapped order: the next fc absorbs it
    fc              weight columns permuted, W'[:, j] = W[:, perm[j]] (perm: swapped -> original)
A swapped image or permuted vector reaching a graph output, or any other reader, is an
UnsupportedOpError (the pass changes nothing then).
"""
import copy
import logging

import numpy as np

from ..errors import UnsupportedOpError
from ..graph import Node, TensorInfo
from ..ops import OPS, ConvGeometry

log = logging.getLogger(__name__)

_GEOM = ("kernel_shape", "strides", "pads", "pads_end")


def _fail(node, what):
    raise UnsupportedOpError(f"swap_hw: node '{node.name}' ({node.op}) {what}; help: end the "
                             "spatial part of the model with flatten + fc")


def _fresh(names, base):
    name, k = base, 1
    while name in names:
        k += 1
        name = f"{base}{k}"
    return name


def _flat_perm(shape):
    """perm[j] = index, in the flattening of an (H, W, C) image, of element j of the flattening
    of its swapped (W, H, C) copy."""
    h, w, c = shape
    return np.arange(h * w * c).reshape(h, w, c).transpose(1, 0, 2).ravel()


def _multi(g, n, kind, perm):
    """Kind (and perm) of an add / concat output; True if the node changed meaning (read a
    swapped or permuted input)."""
    kinds = [kind[t] for t in n.inputs]
    out = n.outputs[0]
    shapes = [g.tensors[t].shape for t in n.inputs]
    if set(kinds) == {"plain"}:
        kind[out] = "plain"
        return False
    if n.op == "concat" and len(shapes[0]) == 1 and "swapped" not in kinds:
        offsets = np.cumsum([0] + [s[0] for s in shapes[:-1]])
        kind[out] = "perm"
        perm[out] = np.concatenate([(perm[t] if kind[t] == "perm" else np.arange(s[0])) + o
                                    for t, s, o in zip(n.inputs, shapes, offsets)])
        return True
    if len(set(kinds)) != 1 or (kinds[0] == "perm" and any(
            not np.array_equal(perm[t], perm[n.inputs[0]]) for t in n.inputs)):
        _fail(n, "reads inputs of which only some would have H and W swapped")
    kind[out] = kinds[0]
    if kinds[0] == "perm":
        perm[out] = perm[n.inputs[0]]
    if n.op == "concat" and kinds[0] == "swapped":
        ax = n.attrs["axis"] % 3
        n.attrs["axis"] = {0: 1, 1: 0, 2: n.attrs["axis"]}[ax]
    return True


def _rewrite(g):
    """swap_hw on `g` (a copy); raises UnsupportedOpError before the caller's graph is touched."""
    inp = g.inputs[0]
    h, w, c = g.tensors[inp].shape
    new = _fresh(g.tensors, f"{inp}_hw")
    move = Node(_fresh({n.name for n in g.nodes}, "transpose_hw"), "transpose_hw", [inp], [new])
    for n in g.nodes:
        n.inputs = [new if t == inp else t for t in n.inputs]
    g.nodes.insert(0, move)
    g.tensors[new] = TensorInfo(new, (h, w, c))    # original shapes until infer_shapes below
    kind, perm, changed = {inp: "plain", new: "swapped"}, {}, []
    for n in g.nodes[1:]:
        src, out, op = n.inputs[0], n.outputs[0], n.op
        if len(n.inputs) > 1:
            if _multi(g, n, kind, perm):
                changed.append(n.name)
            continue
        k = kind[src]
        kind[out] = k
        if k == "plain":
            continue
        changed.append(n.name)
        if k == "swapped" and OPS[op].window:
            for key in _GEOM:
                if key in n.attrs:
                    n.attrs[key] = tuple(reversed(n.attrs[key]))
            if op == "conv":
                n.params["weight"] = np.ascontiguousarray(n.params["weight"].transpose(0, 2, 1, 3))
            elif op == "depthwise_conv":
                n.params["weight"] = np.ascontiguousarray(n.params["weight"].transpose(1, 0, 2))
        elif k == "swapped" and op == "softmax":
            if n.attrs.get("axis", -1) not in (-1, 2):
                _fail(n, "is a softmax over a spatial axis")
        elif k == "swapped" and (op in ("flatten", "fc") or op == "reshape"
                                 and len(n.attrs["shape"]) == 1):
            kind[out], perm[out] = "perm", _flat_perm(g.tensors[src].shape)
        elif k == "perm" and (op in ("flatten", "fc", "softmax") or op == "reshape"
                              and len(n.attrs["shape"]) == 1):
            perm[out] = perm[src]
        elif k == "perm" and op == "batchnorm":
            perm[out] = perm[src]
            n.params = {key: v[perm[src]] for key, v in n.params.items()}
        elif not OPS[op].elementwise and op != "batchnorm":
            _fail(n, f"reads {'an image' if k == 'swapped' else 'a vector flattened from an image'}"
                  " whose H and W would be swapped")
        elif k == "perm":
            perm[out] = perm[src]
        if op == "fc":
            n.params["weight"] = np.ascontiguousarray(n.params["weight"][:, perm[out]])
            kind[out] = "plain"
    for t in g.outputs:
        if kind.get(t, "plain") != "plain":
            raise UnsupportedOpError(f"swap_hw: graph output '{t}' would come out with H and W "
                                     "swapped; help: end the model with a fully connected layer")
    g.infer_shapes()
    g.meta = dict(g.meta, swap_hw={"input": inp, "transposed": new, "node": move.name,
                                   "layers": changed})
    return g


def swap_hw(graph) -> bool:
    """Insert transpose_hw after the (3-D) graph input and rewrite the layers after it (see the
    module docstring), in place. Returns False, changing nothing, if the input is not an image
    or the graph already has a transpose_hw; raises UnsupportedOpError if some reader of a
    swapped tensor cannot be rewritten (the graph is then left as it was)."""
    graph.require_hwc("swap_hw")
    if (len(graph.inputs) != 1 or len(graph.tensors[graph.inputs[0]].shape) != 3
            or any(n.op == "transpose_hw" for n in graph.nodes)):
        return False
    g = _rewrite(graph.copy())
    graph.nodes, graph.tensors, graph.meta = g.nodes, g.tensors, g.meta
    return True


def odd_q15_widths(graph, wide=None) -> list:
    """Names of the non-square convs with an odd output width: on the DSP path their only q15
    function, arm_convolve_HWC_q15_fast_nonsquare, is wrong (semantics doc §1.9). `wide`: only
    these convs run at 16 bits (mixed precision); default all."""
    geos = {n.name: ConvGeometry.of(graph, n) for n in graph.nodes if n.op == "conv"
            and (wide is None or n.name in wide)}
    return [name for name, g in geos.items() if not g.square and g.out_x % 2]


def swapped_for_q15_dsp(graph, wide=None):
    """A swapped copy of `graph` if some non-square (16-bit: `wide`, default all) conv has an odd
    output width and none has after swap_hw; else None. (Used by qsim.quantize for q15 convs on
    path "dsp".)"""
    bad = odd_q15_widths(graph, wide)
    if not bad:
        return None
    g = graph.copy()
    try:
        if not swap_hw(g):
            return None
    except UnsupportedOpError as e:
        log.debug("swap_hw does not apply: %s", e)
        return None
    if odd_q15_widths(g, wide):
        return None
    g.meta["swap_hw"]["reason"] = (f"q15 non-square conv(s) {', '.join(bad)} have an odd output "
                                   "width, which arm_convolve_HWC_q15_fast_nonsquare gets wrong "
                                   "on the DSP path (semantics doc 1.9); swapped H and W")
    return g


def with_transposed_stats(graph, calibration):
    """`calibration` with the statistics of each transpose_hw input also filed under its output
    (same values in another order), so a calibration of the unswapped graph applies."""
    extra = {n.output: calibration[n.input] for n in graph.nodes if n.op == "transpose_hw"
             and n.output not in calibration and n.input in calibration}
    if not extra:
        return calibration
    cal = copy.copy(calibration)
    cal.stats = {**calibration.stats, **extra}
    return cal


def match_float_graph(float_graph, qgraph):
    """The float graph laid out like `qgraph`: with its requantize nodes (mixed precision,
    passes.precision), and swapped if the quantizer swapped it (meta)."""
    from .precision import with_requantize
    float_graph = with_requantize(float_graph, qgraph)
    if "swap_hw" in qgraph.meta and not any(n.op == "transpose_hw" for n in float_graph.nodes):
        g = float_graph.copy()
        if swap_hw(g):
            return g
    return float_graph
