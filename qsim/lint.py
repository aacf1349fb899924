"""Lint a quantized network for the CMSIS-NN release and path it will run on, on given data.

`lint(qgraph, x)` simulates the network once (trace), then, for every release/path behaviour of
the semantics doc that applies to the graph's build (FACTS), re-runs each affected layer on the
very inputs it saw with a build that lacks the behaviour, and reports the layers where the
behaviour is reached: the fraction of the given items whose output changes, what the doc says and
the fix. A behaviour that the data never reaches is not reported (the network is fine there).

Each Finding is a str (one line, for `qsim import-c` / `qsim quantize` warnings) with fields.
Whether a behaviour applies is asked of the release's named facts (qsim.releases); the other
build a finding compares with is the newest release on which the fact does not hold.
"""
from dataclasses import dataclass

import numpy as np

from .constraints import SIGNED_CHAR_INDEX
from .kernels import KERNELS
from .lower import channel_pad, kernel_call
from .releases import VERSIONS, release

SOFTMAX_Q7_DSP_SPREAD = release("5.7.0").softmax_q7_dsp_spread     # semantics doc §4.2: 5.7.0's DSP lanes survive this far below the max


@dataclass(frozen=True)
class Fact:
    """A result-changing behaviour: which functions, on which builds, compared with which build."""

    key: str
    functions: frozenset
    applies: object             # (path, release) -> bool
    other: object               # (path, release) -> (path, release) without the behaviour
    what: str
    fix: str


def _without(fact, path):
    """The newest release on which `fact` (a Release attribute or path method) does not hold."""
    def holds(r):
        v = getattr(r, fact)
        return v(path) if callable(v) else v
    return next(name for name in reversed(VERSIONS) if not holds(release(name)))


FACTS = (
    Fact("softmax_q7_dsp_lane_wrap", frozenset({"arm_softmax_q7", "arm_softmax_with_batch_q7"}),
         lambda p, r: release(r).softmax_q7_wraps(p), lambda p, r: ("dsp", _without("softmax_q7_wraps", p)),
         "arm_softmax_q7's DSP body in CMSIS 5.7.0 wraps byte lanes once an input is more than "
         f"{SOFTMAX_Q7_DSP_SPREAD} steps below the vector's maximum: those outputs become up to 127 "
         "and the first tied class wins (semantics doc §4.2)",
         "use CMSIS 5.9.0 (or 5.8.0) on the device, or path ref, or read the argmax from the "
         "logits (the softmax input), or raise the producing layer's out_shift by {shift} so the "
         "logits span at most 122 steps"),
    Fact("activations_q15_clamped", frozenset({"arm_nn_activations_direct_q15"}),
         lambda p, r: release(r).activations_q15_clamped, lambda p, r: (p, _without("activations_q15_clamped", p)),
         "arm_nn_activations_direct_q15 in CMSIS 5.7.0 clamps the table index: every negative "
         "input gives f(0) (semantics doc §5.4)", "use CMSIS 5.9.0 or q7 activations"),
    Fact("ref_signed_char_index", frozenset(SIGNED_CHAR_INDEX),
         lambda p, r: release(r).signed_char_index(p), lambda p, r: ("ref", _without("signed_char_index", p)),
         "the REF build of CMSIS 5.7.0 keeps input row/column indices in a signed char, wrong "
         "once an index passes 127 (semantics doc §1.1)",
         "use CMSIS 5.9.0, path dsp, or a kernel without the quirk"),
    Fact("avepool_dsp_nested_average", frozenset({"arm_avepool_q7_HWC"}),
         lambda p, r: p == "dsp", lambda p, r: ("ref", r),
         "arm_avepool_q7_HWC's DSP body averages rows then columns, truncating twice, so it "
         "differs from the REF build (and from a float average) (semantics doc §3.2)",
         "simulate and test on the device's path (qsim does); expect host (REF) and Cortex-M4 "
         "(DSP) outputs to differ here"),
    Fact("maxpool_dsp_in_place", frozenset({"arm_maxpool_q7_HWC"}),
         lambda p, r: p == "dsp", lambda p, r: ("ref", r),
         "arm_maxpool_q7_HWC's DSP body pools in place and differs from REF when padding >= "
         "stride (semantics doc §3.1)", "use padding < stride, or path ref"),
)


class Finding(str):
    """One lint finding: the message, and layer, fact key, affected items / total."""

    def __new__(cls, text, layer, fact, affected, total):
        f = super().__new__(cls, text)
        f.layer, f.fact, f.affected, f.total = layer, fact, affected, total
        return f


def run_call(call, x_in, path, release, truncate):
    """One KernelCall on a batch of stored inputs for the given build (a copy of x_in: in-place
    kernels must not touch the trace)."""
    return KERNELS[call.c_name](**{call.in_arg: np.array(call.kernel_input(x_in), copy=True)}, **call.args,
                                path=path, release=release, truncate=truncate)


def _differs(a, b):
    n = len(a)
    return np.any(a.reshape(n, -1) != b.reshape(n, -1), axis=1)


def _softmax_detail(x_in, mine, other, fact_fix, qgraph, node):
    n = len(x_in)
    flat = x_in.reshape(n, -1).astype(np.int32)
    span = flat.max(axis=1) - flat.min(axis=1)
    wide = int(np.count_nonzero(span > SOFTMAX_Q7_DSP_SPREAD))
    changed = int(np.count_nonzero(np.argmax(mine.reshape(n, -1), axis=1)
                                   != np.argmax(other.reshape(n, -1), axis=1)))
    shift = max(int(np.ceil(np.log2(max(int(span.max()), 1) / SOFTMAX_Q7_DSP_SPREAD))), 0)
    text = (f"logits span up to {int(span.max())} steps (more than {SOFTMAX_Q7_DSP_SPREAD} on "
            f"{100 * wide / n:.1f}% of items); the argmax read from the softmax changes on "
            f"{100 * changed / n:.1f}% ({changed} of {n})")
    return text, fact_fix.format(shift=shift)


def lint(qgraph, x, batch_size=1024):
    """[Finding] for the graph's build (qgraph.quant) on inputs x (floats or integers)."""
    from .simulate import simulate

    q = qgraph.quant
    facts = [f for f in FACTS if f.applies(q.path, q.version)]
    if not facts:
        return []
    trace = simulate(qgraph, x, trace=True, batch_size=batch_size)
    n = len(next(iter(trace.values())))
    out = []
    for node in qgraph.nodes:
        if node.kernel is None or channel_pad(qgraph, node.input) or channel_pad(qgraph, node.output):
            continue
        call = kernel_call(qgraph, node)
        for fact in facts:
            if node.kernel not in fact.functions:
                continue
            path, release = fact.other(q.path, q.version)
            x_in = trace[node.input]
            mine = trace[node.output]
            other = run_call(call, x_in, path, release, q.truncate).reshape(mine.shape)
            hit = _differs(mine, other)
            k = int(np.count_nonzero(hit))
            if not k:
                continue
            fix = fact.fix
            detail = ""
            if fact.key == "softmax_q7_dsp_lane_wrap":
                detail, fix = _softmax_detail(x_in, mine, other, fact.fix, qgraph, node)
                detail = "; " + detail
            out.append(Finding(
                f"layer '{node.name}' ({node.kernel}) on path {q.path} of CMSIS {q.version}: "
                f"{100 * k / n:.1f}% of the given items ({k} of {n}) get other outputs than on "
                f"path {path} of {release}: {fact.what}{detail}. help: {fix}",
                node.name, fact.key, k, n))
    return out


def load_lint_data(path, graph):
    """Inputs for lint from an .npy file: floats (quantized) or integers of the input format."""
    from .commands._common import _read_npy, load_data

    arr = _read_npy(path, "--data")
    if arr.dtype.kind in "iu":
        shape = graph.tensors[graph.inputs[0]].shape
        if arr.shape[1:] != shape:
            from .errors import ShapeError
            raise ShapeError(f"--data {path} has shape {arr.shape}; the model input needs (N,) + "
                             f"{shape} (HWC, batch first)")
        return arr
    return load_data(path, graph)
