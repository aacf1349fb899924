"""STAND-IN cost model (replaced at merge by the fitted one of issue 17): predicted executed
instructions per inference of a quantized graph on a Cortex-M target.

    est = estimate(qgraph, target="cortex-m4")   # CostEstimate(total, per_layer, target, release)

Here each layer costs a per-kernel constant times its multiply-accumulates plus a constant per
output element and a fixed call overhead; the constants are rough guesses, not fits. Only the
API is meant to survive: the search (qsim.search) reads nothing else.
"""
from dataclasses import dataclass, field

TARGETS = ("cortex-m4", "cortex-m3")
CALL = 60          # argument set-up and call overhead per kernel call
PER_ELEMENT = 4    # per output element (requantization, store)


@dataclass
class CostEstimate:
    total: int
    per_layer: dict = field(default_factory=dict)    # node name -> instructions
    target: str = "cortex-m4"
    release: str = "5.9.0"


def _per_mac(kernel, target):
    k = kernel or ""
    dsp = target == "cortex-m4"
    if "q15" in k:
        return 1.6 if dsp else 3.0
    if "fast" in k or "RGB" in k or "_opt" in k:
        return 1.0 if dsp else 2.5
    return 1.8 if dsp else 3.0


def _macs(graph, node):
    from .ops import ConvGeometry
    out = graph.tensors[node.output]
    if node.op == "conv":
        g = ConvGeometry.of(graph, node)
        return g.out_y * g.out_x * g.ch_out * g.k_y * g.k_x * g.ch_in
    if node.op == "depthwise_conv" or node.op in ("maxpool", "avgpool"):
        g = ConvGeometry.of(graph, node)
        return g.out_y * g.out_x * g.ch_out * g.k_y * g.k_x
    if node.op == "fc":
        return int(node.params["weight"].size)
    return out.size


def estimate(qgraph, target="cortex-m4"):
    """CostEstimate of one inference of `qgraph` (quantized) on `target`."""
    from .errors import ArgumentError
    if target not in TARGETS:
        raise ArgumentError(f"cost model: unknown target {target!r}; one of {', '.join(TARGETS)}")
    per = {}
    for node in qgraph.nodes:
        if node.kernel is None:
            per[node.name] = 0
            continue
        out = qgraph.tensors[node.output].size
        per[node.name] = int(round(_per_mac(node.kernel, target) * _macs(qgraph, node)
                                   + PER_ELEMENT * out + CALL))
    return CostEstimate(sum(per.values()), per, target, qgraph.quant.version)
