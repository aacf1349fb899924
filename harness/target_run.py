"""What a parity target's runner returns (`TargetRun`), and the simulator settings it implies.

A runner (harness/host.py `run_host`, harness/cortex_m.py `run_target`) builds the generated C
against a library, runs it on the inputs and returns a TargetRun; harness/parity.py compares it
with simulate(trace=True) of `sim_graph`, layer by layer.
"""
import copy
from dataclasses import dataclass, field

import numpy as np


@dataclass
class TargetRun:
    outputs: np.ndarray            # (N, output values) as the C wrote them
    taps: list                     # per layer (N, values), in plan order
    statuses: np.ndarray           # (N,) int32: 0, or 1 + the index of the step that failed
    library: str                   # which library was built, for the report's first line
    sim_graph: object              # the graph with the version / path the library implements
    notes: list = field(default_factory=list)      # report lines before the table
    insns: np.ndarray | None = None                # mean instructions per layer (Cortex-M)
    footer: list = field(default_factory=list)     # report lines before the summary
    footprint: object = None                       # cortex_m.Footprint on Cortex-M targets


def sim_graph_for(graph, version, path):
    """A shallow copy of `graph` simulated as CMSIS `version` on `path` (the library's settings)."""
    g = copy.copy(graph)
    g.quant = copy.copy(graph.quant)
    g.quant.version, g.quant.path = version, path
    return g
