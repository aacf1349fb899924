"""Graph passes: small named functions `pass_(graph) -> bool` (True if the graph changed), run in
the explicit order of PIPELINE. No auto-discovery: what runs is what is listed here.

`importers.onnx_import.load_onnx` runs PIPELINE on every imported graph, so it holds only
float-graph passes; passes that need quantization results (choose_kernels) belong in the
quantizer's own list, not here.
"""
from .fold_batchnorm import fold_batchnorm
from .to_hwc import to_hwc

PIPELINE = [to_hwc, fold_batchnorm]


def run_pipeline(graph, passes=None):
    """Run `passes` (default PIPELINE) in order on `graph` (in place); returns the graph."""
    for p in PIPELINE if passes is None else passes:
        p(graph)
    return graph
