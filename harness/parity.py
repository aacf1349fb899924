"""Whole-network parity: the generated C (built with a CMSIS-NN library) against simulate(trace=True).

Every layer's output is tapped in C (`-DQSIM_TAPS`) and compared exactly with the simulator's
tensor of the same name; zero channels added for a kernel (lower.channel_pad) are stripped on
both sides first. The report has one row per layer (name, kernel, values compared, mismatches,
first mismatch as (input, index...): expected (simulator), got (C)) and ends with the line
`LAYERS layers, INPUTS inputs, MISMATCHES mismatches`. Targets: "host" (harness/host.py, cffi),
"cortex-m4" / "cortex-m3" (harness/cortex_m.py, QEMU), which add an instructions-per-input
column and footprint lines before the summary.

The simulator runs with the settings the C library implements: version = the library's release,
path = the build's path, truncate = the graph's. When the graph was quantized for another release
or path the report says so (kernel choice can depend on them; arithmetic then follows the
library, which is what the generated C will run against).
"""
import copy
import warnings
from dataclasses import dataclass, field

import numpy as np

from codegen.generate import render
from qsim.lower import stored_shape
from qsim.simulate import simulate

TARGETS = {}   # name -> runner(gen, graph, x_ints, options)
#                 -> (outputs, taps, statuses, label, sim_graph, notes, extra)
# extra: {"insns": mean instructions per layer or None, "footer": report lines, ...}


def target(name):
    """Register a parity target (host here; cortex-m4 / cortex-m3 in harness/cortex_m.py)."""
    def deco(fn):
        TARGETS[name] = fn
        return fn
    return deco


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
    extra: dict = field(default_factory=dict)      # what the target returned besides the taps

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
    from qsim.simulate import _input_ints
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _input_ints(graph, data)


def sim_graph_for(graph, version, path):
    g = copy.copy(graph)
    g.quant = copy.copy(graph.quant)
    g.quant.version, g.quant.path = version, path
    return g


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
        from qsim.errors import QsimError
        raise QsimError(f"unknown parity target {target!r}; one of {', '.join(sorted(TARGETS))}")
    x_ints = input_ints(graph, x)
    gen = render(graph, name=name)
    outputs, taps, statuses, label, sim_graph, notes, extra = TARGETS[target](gen, graph, x_ints, options)
    report = NetworkParity(label, target, len(x_ints), notes=notes, footer=extra.get("footer", []),
                           extra=extra)
    report.layers = compare(graph, gen, x_ints, outputs, taps, statuses, sim_graph)
    insns = extra.get("insns")
    if insns is not None:
        for r, count in zip(report.layers, insns):
            r.insns = float(count)
    return report


@target("host")
def _host(gen, graph, x_ints, options):
    from .host import HostNetwork, cmsis_library, standin_library
    q = graph.quant
    checkout, sanitize = options.get("cmsis"), bool(options.get("sanitize"))
    notes = []
    if checkout is not None:
        lib = cmsis_library(checkout, q.path, q.truncate, sanitize)
        label = f"CMSIS_5 {checkout.version} ({q.path} path{', sanitize' if sanitize else ''})"
    else:
        if q.path != "ref":
            from qsim.errors import QsimError
            raise QsimError("the stand-in implements only the REF path; this graph was quantized "
                            "for path 'dsp'. help: pass --cmsis PATH (the host DSP emulation build)")
        version = options.get("standin_version") or q.version
        lib = standin_library(version, q.truncate, sanitize)
        label = (f"stand-in ({version} REF semantics; NOT CMSIS: checks the generated code and "
                 "harness, not parity with Arm's library)")
    if lib.version != q.version:
        notes.append(f"note: graph quantized for CMSIS {q.version}; simulated as {lib.version} to "
                     "match the library")
    net = HostNetwork(gen, lib)
    outputs, taps, statuses = net.run(x_ints)
    return outputs, taps, statuses, label, sim_graph_for(graph, lib.version, lib.path), notes, {}


@target("cortex-m4")
def _cortex_m4(gen, graph, x_ints, options):
    from .cortex_m import run_target
    return run_target("cortex-m4", gen, graph, x_ints, options)


@target("cortex-m3")
def _cortex_m3(gen, graph, x_ints, options):
    from .cortex_m import run_target
    return run_target("cortex-m3", gen, graph, x_ints, options)
