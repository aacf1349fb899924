"""The one check of a model before any stage uses it, plus the size and argument checks of entries.

`validate_graph(graph)` checks what every graph must satisfy (names, shapes, parameter arrays);
`validate_quantized(graph)` adds everything simulate, codegen, parity, qat and kws read from a
quantized one, so that an edited or hostile model.json is refused here, by name, instead of
reaching a kernel or the C:
    scheme / path / version / truncate    known values (qsim.schemes, qsim.releases)
    tensor formats                        8- or 16-bit QFormats, frac_bits in FRAC_BITS_RANGE;
                                          a layer's inputs and output share one width (mixed
                                          precision changes it only through a requantize node,
                                          8 <-> 16, with shifts in qsim_requantize's range)
    weight_q / bias_q                     the layer's weight width (schemes.weight_bits), frac_bits in range; weights of
                                          a float dtype, finite, inside twice the format's range
    bias_shift / out_shift                Python ints 0..31 equal to fi + fw - fb / fi + fw - fo
    kernel                                a CMSIS-NN function for this op and width whose
                                          constraints the geometry meets on this path and release,
                                          or a qsim companion kernel for it, whose shifts
                                          (avgpool out_lshift, add lshifts / out_shift) derived
                                          from the formats are in range; concat inputs and
                                          output share one format
    pad_ch_in / pad_ch_out                None or 1..3
Graph.load, the CLI's load_quantized and simulate/finetune call it. Errors are ModelFormatError
(or QuantizationError for a float graph where a quantized one is needed), naming the layer.

`check_memory(nbytes, what)` refuses (ResourceLimitError, with the figure) an allocation larger
than the memory budget: $QSIM_MAX_MEMORY (bytes, or with a K/M/G suffix), else 80% of the
MemAvailable of /proc/meminfo, else 8 GiB. `check_count`, `check_positive`, `check_seed` refuse
absurd arguments (ArgumentError).
"""
import math
import os
import warnings

import numpy as np

from .errors import (ArgumentError, ModelFormatError, QuantizationError, ResourceLimitError,
                     UnsupportedOpError)

MAX_NAME = 256                   # characters in a graph, node or tensor name
FRAC_BITS_RANGE = (-32, 127)     # q7 at -32 holds +-5e11; anything coarser is a broken calibration
WEIGHT_SLACK = 2.0               # weights may exceed their format's range by this factor (QAT drift)


def _fail(where, what, fix):
    raise ModelFormatError(f"{where}: {what}. help: {fix}")


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_name(name, what):
    if not isinstance(name, str) or not name:
        _fail(what, f"name {name!r} is not a non-empty string", "give every graph, layer and "
              "tensor a name")
    if len(name) > MAX_NAME:
        _fail(what, f"name '{name[:40]}...' has {len(name)} characters, more than {MAX_NAME}",
              "rename it (Graph.save keeps names as they are)")
    if not name.isprintable():
        bad = next(c for c in name if not c.isprintable())
        _fail(what, f"name {name[:40]!r} holds the unprintable character U+{ord(bad):04X} "
              "(names are shown in terminals, logs and C comments; a NUL or an unpaired "
              "surrogate cannot even be stored)", "rename it")


def check_names(graph, who="model"):
    """The graph's, every tensor's and every layer's name (check_name), and no layer name twice
    (a model file keys each layer's arrays by its name)."""
    check_name(graph.name, f"{who}: graph")
    for t in graph.tensors:
        check_name(t, f"{who}: tensor")
    seen = set()
    for n in graph.nodes:
        check_name(n.name, f"{who}: layer")
        if n.name in seen:
            _fail(f"{who}: layer {n.name[:60]!r}", "two layers have this name (each layer's "
                  "weights are stored under its name)", "rename one of them")
        seen.add(n.name)




def validate_graph(graph, who="model"):
    """Names, shapes and parameter arrays of any graph (float or quantized); returns graph."""
    from .graph import Graph
    if not isinstance(graph, Graph):
        raise ModelFormatError(f"{who}: expected a qsim Graph, got {type(graph).__name__}")
    check_names(graph, who)
    if not graph.inputs or not graph.outputs:
        _fail(who, f"inputs {graph.inputs} and outputs {graph.outputs}: a graph needs at least "
              "one of each", "re-save the graph")
    if graph.layout not in ("HWC", "CHW"):
        _fail(who, f"layout {graph.layout!r} is not 'HWC' or 'CHW'", "re-save the graph")
    for t, info in graph.tensors.items():
        if any(d < 1 for d in info.shape):
            _fail(f"{who}: tensor '{t}'", f"shape {info.shape} has an empty or negative axis",
                  "every axis needs at least one element")
    for n in graph.nodes:
        for k, v in n.params.items():
            a = np.asarray(v)
            if a.dtype.kind not in "fiu":
                _fail(f"{who}: layer '{n.name}'", f"{k} has dtype {a.dtype}, not numeric",
                      "save float weights")
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise ModelFormatError(f"{who}: layer '{n.name}' {k} holds "
                                       f"{int(np.sum(~np.isfinite(a)))} NaN/Inf values. help: "
                                       "check the training run or the export")
    return graph


def check_frac_bits(qf, where, what):
    from .fixedpoint import QFormat
    if not isinstance(qf, QFormat) or not _is_int(qf.bits) or not _is_int(qf.frac_bits):
        _fail(where, f"{what} {qf!r} is not a format of integer bits and frac_bits",
              "re-quantize the model with `qsim quantize`")
    lo, hi = FRAC_BITS_RANGE
    if not lo <= qf.frac_bits <= hi:
        span = qf.bits - 1 - qf.frac_bits
        rng = f" (a range of +-{2.0 ** span:.3g})" if abs(span) < 1000 else ""
        _fail(where, f"{what} has frac_bits {str(qf.frac_bits)[:24]}, outside {lo}..{hi}{rng}",
              "re-calibrate: the value range is absurd, or the file was edited")


def _allowed_kernels(node, scheme, bits, bits_in=None):
    from .schemes import fc_kernel, weight_bits
    q = "q7" if bits == 8 else "q15"
    op = node.op
    if op == "requantize":
        widen = ("arm_q7_to_q15_no_shift",) if (bits_in, bits) == (8, 16) else ()
        return widen + ((f"qsim_requantize_q{bits_in - 1}_q{bits - 1}",) if bits_in != bits else ())
    if op == "conv":
        if bits == 8:
            return ("arm_convolve_HWC_q7_RGB", "arm_convolve_1x1_HWC_q7_fast_nonsquare",
                    "arm_convolve_HWC_q7_fast", "arm_convolve_HWC_q7_fast_nonsquare",
                    "arm_convolve_HWC_q7_basic", "arm_convolve_HWC_q7_basic_nonsquare")
        return ("arm_convolve_HWC_q15_fast", "arm_convolve_HWC_q15_basic",
                "arm_convolve_HWC_q15_fast_nonsquare")
    if op == "depthwise_conv" and weight_bits(scheme, op, bits) == 8:
        return ("arm_depthwise_separable_conv_HWC_q7", "arm_depthwise_separable_conv_HWC_q7_"
                "nonsquare")
    if op == "fc":
        base = fc_kernel(scheme, bits)
        return base, base + "_opt"
    if op in ("maxpool", "avgpool"):
        cmsis = ("arm_maxpool_q7_HWC" if op == "maxpool" else "arm_avepool_q7_HWC",) if bits == 8 \
            else ()
        if op == "maxpool":
            return cmsis + (f"qsim_maxpool_{q}_HWC_nonsquare",)
        return cmsis + (f"qsim_avepool_{q}_HWC_nonsquare", f"qsim_global_avepool_{q}_HWC")
    if op == "depthwise_conv" and weight_bits(scheme, op, bits) == 16:
        return ("qsim_depthwise_conv_HWC_q15_nonsquare",)
    if op == "relu":
        return (f"arm_relu_{q}",)
    if op == "clip":
        return (f"arm_relu_{q}", f"qsim_clip_{q}")
    if op == "add":
        return (f"qsim_add_{q}",)
    if op == "concat":
        return (f"qsim_concat_channels_{q}",)
    if op in ("sigmoid", "tanh"):
        return (f"arm_nn_activations_direct_{q}",)
    if op == "softmax":
        return (f"arm_softmax_{q}", "arm_softmax_with_batch_q7") if bits == 8 else \
            ("arm_softmax_q15",)
    return ()


def _check_window_kernel(graph, node, where):
    """The chosen conv / depthwise / pool function against qsim.constraints (the same reasons
    kernel choice reads), on the stored geometry (channel padding included)."""
    from .constraints import constraints
    from .ops import ConvGeometry
    g = ConvGeometry.of(graph, node)
    g = g._replace(ch_in=g.ch_in + (node.pad_ch_in or 0), ch_out=g.ch_out + (node.pad_ch_out or 0))
    quant = graph.quant
    reasons = constraints(node.kernel, g, quant.path, quant.release)
    if reasons:
        _fail(where, f"kernel {node.kernel} cannot run this layer on path '{quant.path}' of CMSIS "
              f"{quant.version}: {'; '.join(reasons)}", "re-quantize the model (qsim quantize "
              "picks a legal function) instead of editing the kernel")


def _check_companion(graph, node, where):
    """The formats and shifts a companion kernel call derives from them (qsim_companion.h)."""
    from .ops import ConvGeometry
    from .passes.choose_kernels import clip_bounds, is_global
    from .quantize import add_shifts, avgpool_lshift_limit
    bits = graph.output_q(node).bits
    fo = graph.output_q(node).frac_bits
    if node.op == "avgpool":
        g = ConvGeometry.of(graph, node)
        lshift = fo - graph.input_q(node).frac_bits
        limit = avgpool_lshift_limit(g.k_y * g.k_x, bits)
        if not 0 <= lshift <= limit:
            _fail(where, f"out_lshift {lshift} (output {graph.output_q(node)} - input "
                  f"{graph.input_q(node)}) is outside 0..{limit} for {node.kernel}",
                  "re-quantize the model")
        if node.kernel.startswith("qsim_global") and not is_global(node, g):
            _fail(where, f"{node.kernel} needs a window covering the whole image", "re-quantize the model")
        if node.attrs.get("rounding") and not node.kernel.startswith("qsim_avepool"):
            _fail(where, f"rounding=1 (division toward zero) but {node.kernel} rounds half up; only "
                  "qsim_avepool_q7/q15_HWC_nonsquare takes a rounding argument", "re-quantize the model")
    elif node.op == "add":
        la, lb, s = add_shifts(*(graph.tensors[t].qformat.frac_bits for t in node.inputs), fo, bits)
        if max(la, lb) > 30 - bits or s > 31:
            _fail(where, f"input/output formats need lshift_a {la}, lshift_b {lb}, out_shift {s}; "
                  f"{node.kernel} takes lshifts up to {30 - bits} and out_shift up to 31",
                  "re-quantize the model")
    elif node.op == "concat":
        fs = {graph.tensors[t].qformat.frac_bits for t in node.inputs + node.outputs}
        if len(fs) != 1:
            _fail(where, f"inputs and output have different formats (frac_bits {sorted(fs)}); a "
                  "concat copies values unchanged", "re-quantize the model")
    elif node.op == "requantize":
        qi, qo = graph.input_q(node), graph.output_q(node)
        ls, rs = max(qo.frac_bits - qi.frac_bits, 0), max(qi.frac_bits - qo.frac_bits, 0)
        if ls > 30 - qi.bits or rs > 31:
            _fail(where, f"{qi} -> {qo} needs lshift {ls} / rshift {rs}; {node.kernel} takes "
                  f"lshift up to {30 - qi.bits} and rshift up to 31", "re-quantize the model")
        if node.kernel == "arm_q7_to_q15_no_shift" and ls + rs:
            _fail(where, f"{node.kernel} only sign-extends, but {qi} -> {qo} shifts by "
                  f"{qo.frac_bits - qi.frac_bits}", "re-quantize the model (qsim_requantize_q7_q15 "
                  "runs a conversion that shifts)")
    elif node.op == "clip" and node.kernel.startswith("arm_relu"):
        q = graph.input_q(node)
        if clip_bounds(node, q) != (0, q.qmax):
            _fail(where, f"{node.kernel} runs a clip whose bounds in {q} are {clip_bounds(node, q)}, "
                  f"not (0, {q.qmax})", "re-quantize the model")


def _check_cmsis_pool(graph, node, where):
    from .ops import OPS
    """A CMSIS-NN pool (like every op that keeps its format but the companion average) keeps its
    input's format, and knows only symmetric padding with an average over the valid taps: what
    choose_kernels.refine_kernels / _pool leave to companion kernels."""
    if graph.input_q(node) != graph.output_q(node):
        _fail(where, f"input {graph.input_q(node)} and output {graph.output_q(node)} differ; "
              f"{node.kernel} keeps its input's format", "re-quantize the model")
    if node.kernel.startswith("arm_") and OPS[node.op].window and (
            "pads_end" in node.attrs or node.attrs.get("count_include_pad") and max(node.attrs["pads"]) > 0):
        _fail(where, f"{node.kernel} has no asymmetric padding and no count_include_pad",
              "re-quantize the model (a qsim companion kernel runs this layer)")
    if node.kernel.startswith("arm_") and node.attrs.get("rounding"):
        _fail(where, f"{node.kernel} rounds half up, the layer asks for rounding=1 (toward zero)",
              "re-quantize the model (qsim_avepool_q7_HWC_nonsquare runs this layer)")


def _check_padding(graph, node, where):
    """Zero padding channels as choose_kernels records them: a node reads exactly the padding its
    input carries, pass-through ops keep it, only convs add it, only convs and fc read it."""
    from .lower import channel_pad
    from .ops import OPS
    p_in, p_out = node.pad_ch_in or 0, node.pad_ch_out or 0
    carried = channel_pad(graph, node.input)
    if p_in != carried:
        _fail(where, f"pad_ch_in={node.pad_ch_in} but its input '{node.input}' carries {carried} "
              "padding channel(s)", "re-quantize the model")
    if OPS[node.op].pass_through:
        ok = p_out == p_in
    else:
        ok = node.op == "conv" or p_out == 0
        ok = ok and (p_in == 0 or node.op in ("conv", "fc"))
    if not ok:
        _fail(where, f"pad_ch_in={node.pad_ch_in} / pad_ch_out={node.pad_ch_out} do not fit a "
              f"{node.op} (only convs add zero channels, pass-through ops keep them, convs and "
              "fc read them)", "re-quantize the model")


def _check_node(graph, node, who):
    from .cmsis_signatures import SIGNATURES
    from .companion_signatures import COMPANION_SIGNATURES
    from .ops import OPS
    from .schemes import weight_bits
    scheme, bits = graph.quant.scheme, graph.output_q(node).bits
    where = f"{who}: layer '{node.name}' ({node.op})"
    widths = sorted({graph.tensors[t].qformat.bits for t in node.inputs})
    if node.op == "requantize":
        if node.attrs.get("bits") != bits or widths == [bits]:
            _fail(where, f"converts {widths[0]}-bit values to its {bits}-bit output with attribute "
                  f"bits={node.attrs.get('bits')!r}; a requantize changes the width to `bits`",
                  "re-quantize the model")
    elif widths != [bits]:
        _fail(where, f"reads {'/'.join(map(str, widths))}-bit input(s) but writes {bits} bits; a "
              "layer runs at one width (a requantize node converts between layers)",
              "re-quantize the model (qsim.quantize inserts the conversions)")
    for f in ("pad_ch_in", "pad_ch_out"):
        v = getattr(node, f)
        if v is not None and not (_is_int(v) and 1 <= v <= 3):
            _fail(where, f"{f}={v!r} is not None or an integer 1..3", "re-quantize the model")
    _check_padding(graph, node, where)
    if OPS[node.op].data_move:
        if node.kernel is not None:
            _fail(where, f"kernel {node.kernel!r} on a {node.op} (no CMSIS call)",
                  "set kernel to null")
        return
    if node.kernel is None:
        raise UnsupportedOpError(f"layer '{node.name}' has no kernel; help: quantize the graph "
                                 "(qsim.quantize) before simulating or generating code")
    allowed = _allowed_kernels(node, scheme, bits, widths[0])
    if not isinstance(node.kernel, str) or node.kernel not in SIGNATURES and \
            node.kernel not in COMPANION_SIGNATURES or node.kernel not in allowed:
        _fail(where, f"kernel {str(node.kernel)[:60]!r} is not a CMSIS-NN function for a "
              f"{node.op} in scheme {scheme}", f"use one of {list(allowed)} (re-quantize the "
              "model rather than editing it)" if allowed else f"{node.op} has no CMSIS-NN "
              f"function in scheme {scheme}")
    if node.kernel in COMPANION_SIGNATURES or node.op in ("clip", "requantize"):
        _check_companion(graph, node, where)
    elif OPS[node.op].window:
        _check_window_kernel(graph, node, where)
    if node.kernel in ("arm_maxpool_q7_HWC", "arm_avepool_q7_HWC") or \
            OPS[node.op].keeps_format and node.op != "avgpool" and \
            graph.input_q(node) != graph.output_q(node):
        _check_cmsis_pool(graph, node, where)
    if node.op == "softmax" and (node.kernel == "arm_softmax_with_batch_q7") != \
            (len(graph.tensors[node.input].shape) > 1):
        _fail(where, f"kernel {node.kernel} does not fit input shape "
              f"{graph.tensors[node.input].shape}", "re-quantize the model")
    if node.op in ("sigmoid", "tanh"):
        iw = bits - 1 - graph.input_q(node).frac_bits
        if not 0 <= iw <= 3:
            _fail(where, f"input format {graph.input_q(node)} has int_width {iw}, outside the "
                  "0..3 the kernel takes", "re-quantize the model")
    if not OPS[node.op].weighted:
        return
    wb = weight_bits(scheme, node.op, bits)
    for f in ("weight_q", "bias_q"):
        check_frac_bits(getattr(node, f), where, f)
        if getattr(node, f).bits != wb:
            _fail(where, f"{f} {getattr(node, f)} is not {wb}-bit as scheme {scheme} needs",
                  "re-quantize the model")
    fi, fo = graph.input_q(node).frac_bits, graph.output_q(node).frac_bits
    fw, fb = node.weight_q.frac_bits, node.bias_q.frac_bits
    for f, want in (("bias_shift", fi + fw - fb), ("out_shift", fi + fw - fo)):
        v = getattr(node, f)
        if not _is_int(v) or not 0 <= v <= 31:
            _fail(where, f"{f}={v!r} is not an integer 0..31 (C shifts outside that are "
                  "undefined)", "re-quantize the model")
        if v != want:
            _fail(where, f"{f}={v} does not match its formats (fi + fw - {f[0]}f = {fi} + {fw} - "
                  f"{fi + fw - want} = {want})", "re-quantize the model instead of editing shifts")
    for k, qf in (("weight", node.weight_q), ("bias", node.bias_q)):
        a = np.asarray(node.params[k])
        if a.dtype.kind != "f":
            _fail(where, f"{k} has dtype {a.dtype}; qsim stores float weights and quantizes them "
                  f"with {k}_q", "save float weights")
        m = float(np.max(np.abs(a))) if a.size else 0.0
        if m > WEIGHT_SLACK * qf.max + qf.step:
            _fail(where, f"max |{k}| = {m:.4g} is far outside {qf} (up to {qf.max:.4g})",
                  "re-quantize the model so the format holds the weights")


def _check_layer_bits_meta(graph, who):
    """meta["quantize"]["layer_bits"] (a record of qsim.quantize's argument): {name: 8 | 16}."""
    lb = graph.meta.get("quantize", {}).get("layer_bits") if isinstance(
        graph.meta.get("quantize"), dict) else None
    if lb is None:
        return
    if not isinstance(lb, dict) or not all(isinstance(k, str) and _is_int(v) and v in (8, 16)
                                           for k, v in lb.items()):
        _fail(who, f"meta quantize.layer_bits {str(lb)[:80]} is not {{layer name: 8 or 16}}",
              "re-quantize the model")


def _models(tag) -> bool:
    """True if qsim models CMSIS_5 release `tag` (qsim.releases)."""
    from .releases import UnknownRelease, release
    try:
        release(tag)
    except UnknownRelease:
        return False
    return True


def validate_quantized(graph, who="model"):
    """Everything above for a quantized graph; raises a named error, returns graph."""
    from .fixedpoint import QFormat
    from .releases import PATHS, VERSIONS
    from .schemes import SCHEMES
    q = graph.quant
    if q.scheme is None or any(t.qformat is None for t in graph.tensors.values()):
        raise QuantizationError(f"{who} is a float graph, not a quantized one; help: call "
                                "qsim.quantize (or `qsim quantize`) first")
    validate_graph(graph, who)
    if graph.layout != "HWC":
        _fail(who, f"a quantized graph must be HWC, this one is {graph.layout}",
              "re-quantize the model")
    if q.scheme not in SCHEMES or q.path not in PATHS or not _models(q.version) or \
            not isinstance(q.truncate, (bool, np.bool_)):
        _fail(who, f"quant settings scheme={str(q.scheme)[:20]!r} path={str(q.path)[:20]!r} "
              f"version={str(q.version)[:20]!r} truncate={str(q.truncate)[:20]!r} are not "
              f"{SCHEMES} / {PATHS} / {VERSIONS} / a boolean", "re-quantize the model")
    for t, info in graph.tensors.items():
        check_frac_bits(info.qformat, f"{who}: tensor '{t}'", "format")
        if not isinstance(info.qformat, QFormat) or info.qformat.bits not in (8, 16):
            _fail(f"{who}: tensor '{t}'", f"format {info.qformat} is not 8- or 16-bit (q7 / q15)",
                  "re-quantize the model")
    _check_layer_bits_meta(graph, who)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for node in graph.nodes:
            _check_node(graph, node, who)
    return graph


# -- sizes and arguments --------------------------------------------------------------------------

def _parse_bytes(text):
    text = text.strip().upper().rstrip("B")
    mult = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def memory_budget() -> int:
    env = os.environ.get("QSIM_MAX_MEMORY")
    if env:
        try:
            return _parse_bytes(env)
        except ValueError:
            raise ArgumentError(f"QSIM_MAX_MEMORY={env!r} is not a byte count like 4G") from None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(int(line.split()[1]) * 1024 * 0.8)
    except (OSError, ValueError, IndexError):
        pass
    return 8 * 2**30


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.3g}"  # pragma: no cover


def check_memory(nbytes, what, fix="use fewer or smaller items"):
    """Raise ResourceLimitError before allocating `nbytes` beyond the budget (see module doc)."""
    budget = memory_budget()
    if not math.isfinite(nbytes) or nbytes > budget:
        raise ResourceLimitError(f"{what} would need {_human(nbytes)}, more than the "
                                 f"{_human(budget)} available (QSIM_MAX_MEMORY or 80% of free "
                                 f"memory). help: {fix}")
    return nbytes


def tensors_bytes(graph, n, trace=True):
    """Bytes of n items of every tensor (trace) or of the input and outputs, stored width."""
    names = list(graph.tensors) if trace else list(dict.fromkeys(graph.inputs + graph.outputs))
    per = sum(graph.tensors[t].size * (graph.tensors[t].qformat.bits // 8
                                       if graph.tensors[t].qformat else 4) for t in names)
    return int(n) * per


def check_count(name, value, minimum=1):
    if not _is_int(value) or value < minimum:
        raise ArgumentError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive(name, value, maximum=None):
    """A finite number > 0 (and <= maximum)."""
    try:
        ok = not isinstance(value, bool) and math.isfinite(value) and value > 0
    except TypeError:
        ok = False
    if not ok or maximum is not None and value > maximum:
        raise ArgumentError(f"{name} must be a finite number > 0"
                            + (f" and <= {maximum}" if maximum is not None else "")
                            + f", got {value!r}")
    return value


def check_seed(name, value):
    if not _is_int(value) or not 0 <= value < 2**63:
        raise ArgumentError(f"{name} must be an integer 0 .. 2**63-1, got {value!r}")
    return int(value)
