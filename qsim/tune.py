"""Formats chosen for fidelity to the float network, from data (no labels).

`quantize` picks each format from one tensor's statistics (minmax, percentile, mse); whether one
more fraction bit here, with its clipping, costs or saves more at the network's output is a
question only a run of the whole network answers. `tune_formats` asks it:

    qgraph, report = tune_formats(graph, cal, x_cal, scheme="q7")
    print(report)                      # error before / after and every accepted move

Error: the squared difference between the bit-exact simulation (qsim.simulate) and the float
network (qsim.float_exec) on `x`, at every graph output, divided by the output's mean square
(so several outputs weigh alike). An output written by softmax / sigmoid / tanh (fixed Q0.7 /
Q0.15, and CMSIS softmax is base 2) is compared at its input, the logits.

Moves, by coordinate descent from `quantize(graph, cal, **kwargs)`: each activation format group
(tensors sharing a format, named by their first tensor; fixed outputs excluded) one fraction bit
finer or coarser (frac_bits_override), each weighted layer's weights one bit finer or coarser
(weight_frac_override; finer saturates the largest weights). A move is kept when it lowers the
error by more than `min_gain` (relative); rounds repeat until none is kept or `rounds` is
reached. A move the quantizer refuses (a shift out of range, a concat it cannot write) is
skipped. Deterministic: the same graph, statistics and data give the same formats.

Tune on calibration-like data (the training split), never on the data you report accuracy on.
"""
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import float_exec
from .errors import (ModelFormatError, QuantizationError, QuantizationWarning,
                     SaturationWarning, ShapeError)
from .ops import OPS
from .quantize import _format_groups, quantize
from .simulate import simulate

CHUNK = 256          # items simulated / run in float at once (a trace keeps every tensor)


@dataclass
class TuneReport:
    """What tune_formats did: relative errors, the moves it kept, the final overrides."""
    error_before: float
    error_after: float
    moves: list = field(default_factory=list)      # (kind, name, frac_bits before, after, error)
    frac_bits_override: dict = field(default_factory=dict)
    weight_frac_override: dict = field(default_factory=dict)
    evaluated: int = 0
    samples: int = 0

    def __str__(self):
        lines = [f"tune_formats: output error {self.error_before:.4g} -> {self.error_after:.4g} "
                 f"(relative mean square, {self.samples} samples, {self.evaluated} candidates)"]
        for kind, name, a, b, err in self.moves:
            lines.append(f"  {kind:10s} {name}: frac_bits {a} -> {b}  (error {err:.4g})")
        if not self.moves:
            lines.append("  no move lowered the error: the quantizer's formats are kept")
        return "\n".join(lines)


def _targets(graph):
    """The tensors compared: each output, or its producer's input where that is a fixed format."""
    out = []
    for t in graph.outputs:
        node = graph.producer(t)
        out.append(node.input if node is not None and OPS[node.op].fixed_output else t)
    return out


def _reference(graph, x, targets):
    """{target: float64 array} of the float net on x, run CHUNK items at a time."""
    parts = {t: [] for t in targets}
    for s in range(0, len(x), CHUNK):
        env = float_exec.run(graph, x[s:s + CHUNK], dtype=np.float64, trace=True)
        for t in targets:
            parts[t].append(env[t])
    return {t: np.concatenate(p) for t, p in parts.items()}


def _error(qgraph, x, targets, ref):
    """Mean over targets of sum (simulated - float)**2 / sum float**2."""
    num = dict.fromkeys(targets, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SaturationWarning)
        for s in range(0, len(x), CHUNK):
            trace = simulate(qgraph, x[s:s + CHUNK], trace=True)
            for t in targets:
                z = qgraph.tensors[t].qformat.dequantize(trace[t])
                num[t] += float(np.sum((z - ref[t][s:s + CHUNK]) ** 2))
    return sum(num[t] / max(float(np.sum(ref[t] ** 2)), 1e-300) for t in targets) / len(targets)


def tune_formats(graph, calibration, x, *, rounds=3, min_gain=1e-3, max_samples=2000, **kwargs):
    """(qgraph, TuneReport): `quantize(graph, calibration, **kwargs)` with the activation and
    weight formats moved where that brings the simulated outputs closer to the float ones on x.

    x : (N,) + input shape, float inputs like the calibration data (the first `max_samples`
        are used); kwargs : quantize's (scheme, strategy, path, version, layer_bits, ...; a
        frac_bits_override / weight_frac_override given is the starting point)."""
    x = np.asarray(x)
    shape = graph.tensors[graph.inputs[0]].shape
    if x.ndim != len(shape) + 1 or x.shape[1:] != tuple(shape) or not len(x):
        raise ShapeError(f"tune_formats: x must have shape (N,) + {tuple(shape)} with N >= 1, "
                         f"got {x.shape}")
    if x.dtype.kind != "f":
        raise ShapeError(f"tune_formats: x must hold float inputs like the calibration data, got "
                         f"dtype {x.dtype}. help: pass the float data (x.astype(np.float32) if "
                         "these are real values, not integers of the input format)")
    if not np.all(np.isfinite(x)):
        raise ShapeError("tune_formats: x has NaN or Inf values. help: clean the data")
    if len(graph.inputs) != 1:
        raise ShapeError(f"tune_formats: graph '{graph.name}' has {len(graph.inputs)} inputs; "
                         "one is supported")
    x = x[:max_samples]
    acts = dict(kwargs.pop("frac_bits_override", None) or {})
    wts = dict(kwargs.pop("weight_frac_override", None) or {})

    def quantized(a, w):
        return quantize(graph, calibration, frac_bits_override=a or None,
                        weight_frac_override=w or None, **kwargs)

    with warnings.catch_warnings():         # candidates: only the result's warnings are shown
        warnings.simplefilter("ignore", QuantizationWarning)
        q, best, report = _search(graph, x, acts, wts, rounds, min_gain, quantized)
    q = quantized(report.frac_bits_override, report.weight_frac_override)
    q.meta = dict(q.meta, tune_formats={"error_before": report.error_before,
                                        "error_after": best, "samples": len(x)})
    return q, report


def _search(graph, x, acts, wts, rounds, min_gain, quantized):
    """Coordinate descent (module docstring): (best qgraph, its error, TuneReport)."""
    q = quantized(acts, wts)
    targets = _targets(graph)
    ref = _reference(graph, x, targets)
    best = _error(q, x, targets, ref)
    report = TuneReport(best, best, samples=len(x), evaluated=1)

    heads = _format_groups(q)
    groups, seen = [], set()          # one tensor of the float graph per free format group
    for t in graph.tensors:
        node = graph.producer(t)
        if t in heads and heads[t] not in seen and \
                not (node is not None and OPS[node.op].fixed_output):
            groups.append(t)
            seen.add(heads[t])
    layers = [n.name for n in graph.nodes if OPS[n.op].weighted]

    def current(kind, name, qg):
        return (qg.tensors[name].qformat.frac_bits if kind == "activation"
                else qg.node(name).weight_q.frac_bits)

    for _ in range(rounds):
        kept = False
        for kind, names in (("activation", groups), ("weights", layers)):
            for name in names:
                f0 = current(kind, name, q)
                for step in (1, -1):
                    a, w = dict(acts), dict(wts)
                    (a if kind == "activation" else w)[name] = f0 + step
                    try:
                        cand = quantized(a, w)
                    except (QuantizationError, ModelFormatError):   # refused: not a candidate
                        continue
                    if current(kind, name, cand) == f0:    # clamped back: nothing to try
                        continue
                    report.evaluated += 1
                    err = _error(cand, x, targets, ref)
                    if err < best * (1 - min_gain):
                        report.moves.append((kind, name, f0, f0 + step, err))
                        q, best, acts, wts, kept = cand, err, a, w, True
                        break
        if not kept:
            break
    report.error_after = best
    report.frac_bits_override, report.weight_frac_override = acts, wts
    return q, best, report
