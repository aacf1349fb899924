"""Fold a batchnorm that follows a conv, depthwise_conv or fc into that layer's weight and bias.

    s = scale / sqrt(var + epsilon)          (per output channel, float64)
    weight' = weight * s   (along the output-channel axis of the layer's layout)
    bias'   = (bias - mean) * s + beta
Exact in real arithmetic. A batchnorm with no such producer (or whose producer's output is also
read elsewhere) cannot be folded: legacy CMSIS-NN has no batch-norm kernel, so this is an
UnsupportedOpError naming the node.
"""
import numpy as np

from ..errors import UnsupportedOpError
from ..ops import OPS



def fold_batchnorm(graph) -> bool:
    """Fold every batchnorm into its producer; True if any was folded."""
    graph.require_hwc("fold_batchnorm")
    changed = False
    for bn in [n for n in graph.nodes if n.op == "batchnorm"]:
        src = bn.inputs[0]
        prod = graph.producer(src)
        if (prod is None or OPS[prod.op].channel_axis is None or graph.consumers(src) != [bn]
                or src in graph.outputs):
            raise UnsupportedOpError(
                f"node '{bn.name}' (batchnorm) follows "
                f"{'the graph input' if prod is None else repr(prod.name) + ' (' + prod.op + ')'}"
                " and cannot be folded; legacy CMSIS-NN has no batch-norm kernel. help: put "
                "BatchNormalization right after a Conv or Gemm, or fold it before export")
        p = {k: np.asarray(v, np.float64) for k, v in bn.params.items()}
        s = p["scale"] / np.sqrt(p["var"] + bn.attrs["epsilon"])
        w = prod.params["weight"]
        shape = [1] * w.ndim
        shape[OPS[prod.op].channel_axis] = -1
        prod.params["weight"] = (w.astype(np.float64) * s.reshape(shape)).astype(w.dtype)
        b = prod.params["bias"]
        prod.params["bias"] = ((b.astype(np.float64) - p["mean"]) * s + p["bias"]).astype(b.dtype)
        graph.bypass(bn)
        changed = True
    return changed
