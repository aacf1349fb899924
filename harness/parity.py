"""Whole-network parity: the generated C (built with a CMSIS-NN library) against simulate(trace=True).

Every layer's output is tapped in C (`-DQSIM_TAPS`) and compared exactly with the simulator's
tensor of the same name; zero channels added for a kernel (lower.channel_pad) are stripped on
both sides first. The report has one row per layer (name, kernel, values compared, mismatches,
first mismatch as (input, index...): expected (simulator), got (C)) and ends with the line
`LAYERS layers, INPUTS inputs, MISMATCHES mismatches`. Targets: "host" (harness/host.py, cffi),
"cortex-m4" / "cortex-m3" (harness/cortex_m.py, QEMU), which add an instructions-per-input
column and footprint lines before the summary. Each target's runner returns a
harness.target_run.TargetRun.

The simulator runs with the settings the C library implements: version = the library's release,
path = the build's path, truncate = the graph's. When the graph was quantized for another release
or path the report says so (kernel choice can depend on them; arithmetic then follows the
library, which is what the generated C will run against).
"""
import warnings
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from codegen.generate import render
from qsim.errors import QsimError
from qsim.lower import stored_shape
from qsim.simulate import input_ints as _sim_input_ints
from qsim.simulate import simulate

from . import cortex_m, host

# name -> runner(gen, graph, x_ints, options) -> TargetRun
TARGETS = {"host": host.run_host,
           "cortex-m4": partial(cortex_m.run_target, "cortex-m4"),
           "cortex-m3": partial(cortex_m.run_target, "cortex-m3")}


@dataclass
class LayerResult:
    name: str
    kernel: str
    values: int
    mismatches: int
    first: str = ""
    insns: float | None = None      # mean executed instructions per input (Cortex-M targets)

    def row(self, show_insns=False):
        status = "ok" if not self.mismatches else "FAIL"
        cost = "" if not show_insns else (f" {'':>12}" if self.insns is None else f" {self.insns:>12.0f}")
        return (f"{self.name:<16} {self.kernel:<40} {status:<5} {self.values:>9} "
                f"{self.mismatches:>7}{cost}  {self.first}")


@dataclass
class NetworkParity:
    library: str
    target: str
    inputs: int
    layers: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    footer: list = field(default_factory=list)     # e.g. footprint lines, before the summary
    footprint: object = None                       # cortex_m.Footprint on Cortex-M targets

    @property
    def mismatches(self):
        return sum(r.mismatches for r in self.layers)

    def summary(self):
        return f"{len(self.layers)} layers, {self.inputs} inputs, {self.mismatches} mismatches"

    def lines(self):
        show = any(r.insns is not None for r in self.layers)
        cost = f" {'insns/input':>12}" if show else ""
        head = f"{'layer':<16} {'kernel':<40} {'':<5} {'values':>9} {'bad':>7}{cost}  first mismatch"
        return ([f"library: {self.library}; target: {self.target}"] + self.notes + [head]
                + [r.row(show) for r in self.layers] + self.footer + [self.summary()])


def random_inputs(graph, n, seed=0):
    """n integer inputs in the input format: half Gaussian (std = a quarter of the range), half
    uniform over the whole range (saturation and extreme values)."""
    info = graph.tensors[graph.inputs[0]]
    q = info.qformat
    rng = np.random.default_rng(seed)
    half = n // 2
    gauss = q.quantize(rng.normal(0.0, q.max / 4, (n - half,) + info.shape))
    uniform = rng.integers(q.qmin, q.qmax + 1, (half,) + info.shape).astype(q.dtype)
    return np.concatenate([gauss, uniform])


def input_ints(graph, data):
    """Integers for the graph input from a float or integer array (floats are quantized)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _sim_input_ints(graph, data)


def _first(expected, got):
    bad = np.argwhere(expected != got)
    idx = tuple(int(i) for i in bad[0])
    return len(bad), f"at {idx}: expected {expected[idx]}, got {got[idx]}"


def compare(graph, gen, x_ints, outputs, taps, statuses, sim_graph=None):
    """Per-layer LayerResults of the C run against simulate(trace=True) of `sim_graph`."""
    sim_graph = sim_graph or graph
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trace = simulate(sim_graph, x_ints, trace=True)
    n = len(x_ints)
    results = []
    for step, tap in zip(gen.plan.steps, taps):
        node = step.node
        t = node.outputs[0]
        shape = stored_shape(graph, t)
        got = tap.reshape((n,) + shape)[..., :graph.tensors[t].shape[-1]] if shape else tap
        want = trace[t].reshape(got.shape)
        bad, first = (0, "") if np.array_equal(want, got) else _first(want, got)
        failed = np.flatnonzero(statuses == step.index + 1)
        if len(failed):
            bad += len(failed) * want[0].size
            first = f"{node.kernel} returned ARM_MATH_SIZE_MISMATCH for input {failed[0]}; " + first
        results.append(LayerResult(node.name, node.kernel or "(no call)", int(want.size), int(bad), first))
    want_out = trace[graph.outputs[0]].reshape(n, -1)
    got_out = outputs[:, :want_out.shape[1]]
    if not np.array_equal(want_out, got_out):
        bad, first = _first(want_out, got_out)
        results.append(LayerResult("(output)", "output buffer", int(want_out.size), bad, first))
    return results


def run_network_parity(graph, x, target="host", name=None, **options) -> NetworkParity:
    """Generate C for `graph`, run it on `target` for the inputs `x`, compare every layer.

    x : (N,) + input shape, floats (quantized with the input format) or integers.
    options : cmsis (a CmsisCheckout or None = stand-in), standin_version; for "host" also
        sanitize; for "cortex-m4" / "cortex-m3" also timeout (seconds of QEMU wall time).
    """
    if target not in TARGETS:
        raise QsimError(f"unknown parity target {target!r}; one of {', '.join(sorted(TARGETS))}")
    x_ints = input_ints(graph, x)
    gen = render(graph, name=name)
    run = TARGETS[target](gen, graph, x_ints, options)
    report = NetworkParity(run.library, target, len(x_ints), notes=run.notes, footer=run.footer,
                           footprint=run.footprint)
    report.layers = compare(graph, gen, x_ints, run.outputs, run.taps, run.statuses, run.sim_graph)
    if run.insns is not None:
        for r, count in zip(report.layers, run.insns):
            r.insns = float(count)
    return report

