"""Pick the legal CMSIS-NN function for every node (`node.kernel`) and record channel padding.

Rules (semantics doc §1.13, §2, §3, §4, §5), for the graph's scheme, path and version. Window
ops try their candidate C functions in order and take the first for which
`qsim.constraints.constraints` gives no reason (the same rules the kernels refuse by; a reason
of kind "wrong", the signed-char index quirk of 5.7.0's REF path, is never picked either):
    conv q7     Q7_CONV: arm_convolve_HWC_q7_RGB (ch_in == 3, square),
                arm_convolve_1x1_HWC_q7_fast_nonsquare (1x1, stride 1, pad 0), then
                arm_convolve_HWC_q7_fast(_nonsquare) (ch_in % 4 == 0, ch_out % 2 == 0, on path
                "dsp" the geometry conditions of §1.3), then arm_convolve_HWC_q7_basic(_nonsquare).
                Channels are zero-padded to reach _fast when ch_in >= 8 and the producing conv can
                carry the extra zero channels (see _q7_fast_padding).
    conv q15    Q15_CONV: arm_convolve_HWC_q15_fast (square, even channels, on path "dsp" an even
                output width), arm_convolve_HWC_q15_basic (square), then
                arm_convolve_HWC_q15_fast_nonsquare: the only non-square one, so an odd ch_in or
                ch_out is padded to even (`pad_ch_in` / `pad_ch_out` = 1: zero weights, and the
                producing conv or the graph input carries one zero channel more); an odd output
                width on path "dsp" is an error (the C misplaces outputs and overruns bufferA).
    depthwise   arm_depthwise_separable_conv_HWC_q7(_nonsquare); q7 only
    fc          arm_fully_connected_{q7,q15,mat_q7_vec_q15}_opt (interleaved weights), or the plain
                row-major functions with fc_opt=False
    maxpool / avgpool   arm_maxpool_q7_HWC / arm_avepool_q7_HWC where legal: q7, square, symmetric
                padding, (avgpool) no count_include_pad with padding and an output format equal
                to the input's; otherwise qsim's companion kernels (qsim.companion_signatures):
                qsim_{max,ave}pool_{q7,q15}_HWC_nonsquare (top/left padding + explicit output
                size = any asymmetric padding), qsim_global_avepool_{q7,q15}_HWC for a window
                covering the whole image (with requantization: out_lshift)
    depthwise q15 / q7q15   qsim_depthwise_conv_HWC_q15_nonsquare (companion)
    clip        arm_relu_q7/q15 when the bounds are (0, >= the format's maximum) (decided after
                the formats, `refine_kernels`), else qsim_clip_q7/q15
    add         qsim_add_q7/q15 (requantizing add, companion); concat qsim_concat_channels_q7/q15
                (companion, one call per input)
    relu -> arm_relu_q7/q15; sigmoid, tanh -> arm_nn_activations_direct_q7/q15;
    softmax -> arm_softmax_q7 (arm_softmax_with_batch_q7 over the channels of an image) / _q15;
    data moves (OpSpec.data_move: flatten, reshape, transpose_hw) -> no call (kernel None).
    requantize  (mixed precision, passes.precision) qsim_requantize_q7_q15 / _q15_q7, and
                arm_q7_to_q15_no_shift for a widening that keeps the format (refine_kernels)
Each node's width is that of its output tensor (`bits`: {tensor: 8 or 16}, passes.precision;
default the scheme's everywhere): the rules above apply per layer.
When no candidate fits, the UnsupportedOpError names the layer, every candidate's reasons, the
geometry and the fixes; when a later candidate is taken, the earlier ones' reasons are logged at
debug level. Why each node got its kernel (CMSIS-NN, or a companion kernel and why no CMSIS function
fits) is kept in graph.meta["kernels"] {node name: reason} and printed by quantize.describe.
Deterministic library bugs that qsim simulates exactly only warn (q15 sigmoid/tanh
of 5.7.0, §5.4; softmax_q7 on the DSP path of 5.7.0, §4.2).
"""
import logging
import warnings

from ..constraints import constraints
from ..errors import QuantizationError, UnsupportedOpError
from ..ops import OPS, ConvGeometry, pads_end
from ..schemes import act_bits, check_scheme, fc_kernel, weight_bits

log = logging.getLogger(__name__)

Q7_CONV = ("arm_convolve_HWC_q7_RGB", "arm_convolve_1x1_HWC_q7_fast_nonsquare",
           "arm_convolve_HWC_q7_fast", "arm_convolve_HWC_q7_fast_nonsquare",
           "arm_convolve_HWC_q7_basic", "arm_convolve_HWC_q7_basic_nonsquare")
Q15_CONV = ("arm_convolve_HWC_q15_fast", "arm_convolve_HWC_q15_basic",
            "arm_convolve_HWC_q15_fast_nonsquare")
DEPTHWISE = ("arm_depthwise_separable_conv_HWC_q7", "arm_depthwise_separable_conv_HWC_q7_nonsquare")


def _pass_through(node):
    return OPS[node.op].pass_through


def _first_legal(node, g, candidates, quant):
    """The first candidate C function with no reasons (qsim.constraints); logs why the earlier
    ones were passed over, and raises UnsupportedOpError with every candidate's reasons if none fits."""
    rejected = []
    for fn in candidates:
        reasons = constraints(fn, g, quant.path, quant.release)
        if not reasons:
            if rejected:
                log.debug("layer '%s': %s (not %s)", node.name, fn,
                          "; ".join(f"{f}: {', '.join(r.brief for r in rs)}" for f, rs in rejected))
            return fn
        rejected.append((fn, reasons))
    square_only = [f for f, rs in rejected if any(r.kind == "form" for r in rs)]
    parts = [f"{f}: {', '.join(r.brief for r in rs)}" for f, rs in rejected if f not in square_only]
    if square_only:
        parts.append(f"{', '.join(square_only)} {'is' if len(square_only) == 1 else 'are'} square only")
    reasons = [r for f, rs in rejected for r in rs if f not in square_only or r.kind == "form"]
    fixes = dict.fromkeys(r.fix for r in reasons if r.kind != "mismatch") or \
        dict.fromkeys(r.fix for r in reasons)
    raise UnsupportedOpError(
        f"layer '{node.name}': no CMSIS-NN function computes this {node.op} correctly: "
        f"{'; '.join(parts)}; for {g.describe()} on path '{quant.path}' of CMSIS {quant.version}. "
        f"help: {'; or '.join(fixes)}")


def _origin(graph, tensor, node):
    """Walk back through pass-through ops to the conv or graph input that must add a zero channel."""
    t = tensor
    while True:
        prod = graph.producer(t)
        if prod is None or prod.op == "conv":
            return t
        if not _pass_through(prod):
            raise UnsupportedOpError(
                f"layer '{node.name}': arm_convolve_HWC_q15_fast_nonsquare needs an even number of "
                f"input channels, got {graph.tensors[tensor].shape[-1]}, and its input comes from "
                f"'{prod.name}' ({prod.op}), which cannot add a zero channel. help: give the layer an "
                "even number of input channels, or make it square (arm_convolve_HWC_q15_basic)")
        t = prod.input


def _readers_take_padding(graph, tensor):
    """True if every reader of `tensor` (through pass-through ops) is a conv or fc."""
    for n in graph.consumers(tensor):
        if _pass_through(n):
            if not _readers_take_padding(graph, n.output):
                return False
        elif not OPS[n.op].absorbs_pad:
            return False
    return tensor not in graph.outputs


def _q7_fast_padding(graph, node, want):
    """q7: pad a conv's channels up to ch_in % 4 == 0 / even ch_out so a _fast kernel applies.

    Only when it is cheap (ch_in >= 8, so at most 3/11 extra MACs) and the zero channels can be
    produced by a conv and ignored by every reader (conv or fc); otherwise _basic is used.
    """
    g = ConvGeometry.of(graph, node)
    ci, co = g.ch_in, g.ch_out
    if ci % 4 == 0 and co % 2 == 0 or ci == 3 and g.square:
        return
    pin, pout = (-ci) % 4, co % 2
    origin, prod = node.input, graph.producer(node.input)
    while prod is not None and _pass_through(prod):
        origin, prod = prod.input, graph.producer(prod.input)
    if pin and (ci < 8 or prod is None or prod.op != "conv"
                or not _readers_take_padding(graph, origin)):
        return      # the input cannot carry zero channels: keep _basic
    if pout and not _readers_take_padding(graph, node.output):
        return
    if pin:
        want[origin] = max(want.get(origin, 0), pin)
    if pout:
        want[node.output] = max(want.get(node.output, 0), pout)


def _channel_padding(graph, quant, tbits, pad_channels=True):
    """Decide zero-channel padding; returns {tensor: channels appended}.

    q15 non-square convs must have even channel counts (only _fast_nonsquare exists); q7 convs
    are padded where that makes a _fast kernel legal at little cost (see _q7_fast_padding),
    unless pad_channels is False (then they keep _basic: less RAM and flash, more cycles).
    """
    want = {}
    for node in graph.nodes:
        if node.op != "conv":
            continue
        if tbits[node.output] == 8:
            if pad_channels:
                _q7_fast_padding(graph, node, want)
            continue
        g = ConvGeometry.of(graph, node)
        if g.square:
            continue
        ci, co = g.ch_in, g.ch_out
        if ci % 2:
            want[_origin(graph, node.input, node)] = 1
        if co % 2:
            want[node.output] = 1
    pad = {t: want.get(t, 0) for t in graph.inputs}
    for node in graph.nodes:
        p = pad.get(node.input, 0)
        if p and not OPS[node.op].absorbs_pad and not _pass_through(node):
            raise UnsupportedOpError(
                f"layer '{node.name}' ({node.op}) reads '{node.input}', which carries a zero "
                f"padding channel so that a q15 non-square conv can run; {node.op} cannot ignore it. "
                "help: give the producing conv an even number of output channels")
        pad[node.output] = p if _pass_through(node) else want.get(node.output, 0)
        node.pad_ch_in = p or None
        node.pad_ch_out = pad[node.output] or None
    return pad


def _cmsis_pool_reasons(graph, node, g, bits, quant):
    """Why the CMSIS q7 pool cannot run this layer (empty: legal)."""
    fn = "arm_maxpool_q7_HWC" if node.op == "maxpool" else "arm_avepool_q7_HWC"
    if bits != 8:
        return fn, ["legacy CMSIS-NN has only q7 pooling"]
    why = [r.brief if r.kind != "form" else "is square only" for r in
           constraints(fn, g, quant.path, quant.version)]
    if "pads_end" in node.attrs:
        why.append(f"asymmetric padding (pads {node.attrs['pads']}, pads_end "
                   f"{node.attrs['pads_end']})")
    if node.op == "avgpool" and node.attrs.get("count_include_pad") and max(g.pad_y, g.pad_x):
        why.append("count_include_pad with padding (CMSIS divides by the valid taps)")
    if node.op == "avgpool" and node.attrs.get("rounding"):
        why.append("rounding=1: division toward zero (CMSIS rounds half up)")
    return fn, why


def _window_fits_padded(node, g):
    """count_include_pad: every window must lie in the padded image (the companion divides by
    dim_kernel_x*dim_kernel_y; ONNX by the window clipped to the padded image)."""
    ey, ex = pads_end(node)
    return ((g.out_y - 1) * g.stride_y + g.k_y <= g.in_y + g.pad_y + ey
            and (g.out_x - 1) * g.stride_x + g.k_x <= g.in_x + g.pad_x + ex)


def is_global(node, g):
    """A pooling window covering the whole image once: no padding, one output pixel."""
    return (g.k_y, g.k_x) == (g.in_y, g.in_x) and (g.out_y, g.out_x) == (1, 1) and \
        (g.pad_y, g.pad_x) == (0, 0) and "pads_end" not in node.attrs


def companion_pool(node, g, bits):
    tq = "q7" if bits == 8 else "q15"
    if node.op == "maxpool":
        return f"qsim_maxpool_{tq}_HWC_nonsquare"
    if is_global(node, g) and not node.attrs.get("rounding"):   # global: half up only
        return f"qsim_global_avepool_{tq}_HWC"
    return f"qsim_avepool_{tq}_HWC_nonsquare"


def _pool(graph, node, g, bits, quant, why):
    fn, reasons = _cmsis_pool_reasons(graph, node, g, bits, quant)
    if not reasons:
        if quant.path == "dsp" and (node.op == "avgpool" or g.pad_y >= g.stride_y):
            log.info("layer '%s': %s on the DSP path differs from the REF path here (semantics "
                     "doc §3); qsim simulates the DSP algorithm", node.name, fn)
        why[node.name] = "CMSIS-NN"
        return fn
    if node.op == "avgpool" and node.attrs.get("count_include_pad") and \
            not _window_fits_padded(node, g):
        raise UnsupportedOpError(
            f"layer '{node.name}': avgpool with count_include_pad=1 and a window past the padded "
            f"image (ceil_mode) has no kernel: {fn} {', '.join(reasons)}, and qsim's companion "
            "divides by the whole window. help: use count_include_pad=0, or ceil_mode=0")
    kernel = companion_pool(node, g, bits)
    why[node.name] = f"qsim companion: {fn}: {'; '.join(reasons)}"
    return kernel


def refine_kernels(graph):
    """Kernel choices that depend on the formats (called by quantize once they are set):
    an avgpool whose output format is finer than its input's needs the companion's out_lshift
    (CMSIS's average keeps the input format); a clip whose integer bounds are (0, >= the format's
    maximum) is exactly arm_relu_q7/q15; a requantize widening q7 to q15 in the same format is
    arm_q7_to_q15_no_shift (a sign extension)."""
    why = graph.meta.setdefault("kernels", {})
    for node in graph.nodes:
        if node.kernel == "arm_avepool_q7_HWC" and \
                graph.output_q(node).frac_bits != graph.input_q(node).frac_bits:
            g = ConvGeometry.of(graph, node)
            node.kernel = companion_pool(node, g, 8)
            qi, qo = graph.input_q(node), graph.output_q(node)
            why[node.name] = (f"qsim companion: arm_avepool_q7_HWC keeps the input format {qi}, "
                              f"the output is {qo} (out_lshift {qo.frac_bits - qi.frac_bits})")
        elif node.op == "requantize":
            qi, qo = graph.input_q(node), graph.output_q(node)
            if (qi.bits, qo.bits) == (8, 16) and qi.frac_bits == qo.frac_bits:
                node.kernel = "arm_q7_to_q15_no_shift"
                why[node.name] = f"CMSIS-NN: {qi} -> {qo} is a sign extension"
            else:
                node.kernel = f"qsim_requantize_q{qi.bits - 1}_q{qo.bits - 1}"
                why[node.name] = (f"qsim companion: {qi} -> {qo} shifts by "
                                  f"{qo.frac_bits - qi.frac_bits}; CMSIS-NN only sign-extends q7")
        elif node.op == "clip":
            q = graph.input_q(node)
            lo, hi = clip_bounds(node, q)
            tq = "q7" if q.bits == 8 else "q15"
            if lo == 0 and hi == q.qmax:
                node.kernel = f"arm_relu_{tq}"
                why[node.name] = f"CMSIS-NN: clip bounds (0, {hi}) in {q} are a relu"
            else:
                node.kernel = f"qsim_clip_{tq}"
                why[node.name] = (f"qsim companion: clip bounds ({lo}, {hi}) in {q}; CMSIS-NN has "
                                  "no clip (only relu = (0, max))")


def clip_bounds(node, q):
    """Integer bounds of a clip in format q: the float bounds rounded half up (rounding is
    monotonic, so round(clip(x)) == clip(round(x))), then clamped to the format."""
    import math
    lo = math.floor(node.attrs["min"] * 2.0 ** q.frac_bits + 0.5)
    hi = math.floor(node.attrs["max"] * 2.0 ** q.frac_bits + 0.5)
    return min(max(lo, q.qmin), q.qmax), min(max(hi, q.qmin), q.qmax)


def _concat(graph, node, bits, why):
    shape = graph.tensors[node.output].shape
    ax = node.attrs["axis"] % len(shape)
    for t in node.inputs:
        ch = 1
        for d in graph.tensors[t].shape[ax:]:
            ch *= d
        if ch > 65535:
            raise UnsupportedOpError(
                f"layer '{node.name}': concat input '{t}' has {ch} values per slice along axis "
                f"{ax}, more than qsim_concat_channels' uint16_t ch_im_in holds. help: concatenate "
                "along the channel axis, or smaller tensors")
    why[node.name] = "qsim companion: CMSIS-NN has no concat (one copy per input)"
    return f"qsim_concat_channels_{'q7' if bits == 8 else 'q15'}"


def _softmax(graph, node, bits, quant):
    shape = graph.tensors[node.input].shape
    if shape[-1] > 32767:
        raise UnsupportedOpError(f"layer '{node.name}': softmax over {shape[-1]} values; the C "
                                 "keeps dim_vec in an int16_t loop counter (at most 32767)")
    if node.attrs.get("axis", -1) not in (-1, len(shape) - 1):
        raise UnsupportedOpError(f"layer '{node.name}': CMSIS softmax runs over the last (channel) "
                                 f"axis; got axis={node.attrs['axis']} for shape {shape}")
    if bits == 8 and quant.release.softmax_q7_wraps(quant.path):
        warnings.warn(f"layer '{node.name}': arm_softmax_q7 on the DSP path of 5.7.0 wraps byte "
                      "lanes: inputs 123 or more below the maximum can get outputs up to 127 "
                      "(semantics doc §4.2); qsim simulates this exactly, and quantize keeps the "
                      "calibrated input range within 122 steps", UserWarning, stacklevel=3)
    if len(shape) == 1:
        return "arm_softmax_q7" if bits == 8 else "arm_softmax_q15"
    if bits == 8:
        return "arm_softmax_with_batch_q7"
    raise UnsupportedOpError(f"layer '{node.name}': q15 softmax takes one vector; got shape {shape}. "
                             "help: flatten first, or use scheme='q7'")


def choose_kernels(graph, fc_opt=True, bits=None, pad_channels=True) -> bool:
    """Set node.kernel (and q15 channel padding) for every node; returns True.

    Needs graph.quant.scheme ("q7", "q15", "q7q15"); path and version come from graph.quant.
    fc_opt=True picks the `_opt` fully connected functions (interleaved weights, faster on target).
    bits: {tensor: 8 or 16} for mixed precision (passes.precision.widths); default the scheme's.
    Raises UnsupportedOpError naming the layer when no legal CMSIS-NN function exists.
    """
    graph.require_hwc("choose_kernels")
    quant = graph.quant
    if quant.scheme is None:
        raise QuantizationError("choose_kernels needs graph.quant.scheme; help: call qsim.quantize")
    check_scheme(quant.scheme)
    if bits is None:
        bits = dict.fromkeys(graph.tensors, act_bits(quant.scheme))
    tbits = bits
    for node in graph.nodes:
        node.pad_ch_in = node.pad_ch_out = None
    pad = _channel_padding(graph, quant, tbits, pad_channels)
    why = graph.meta["kernels"] = {}
    for node in graph.nodes:
        op = node.op
        bits = tbits[node.output]
        tq = "q7" if bits == 8 else "q15"
        if OPS[op].window:
            g = ConvGeometry.of(graph, node)
        if op == "conv":
            g = g._replace(ch_in=g.ch_in + pad.get(node.input, 0),
                           ch_out=g.ch_out + pad.get(node.output, 0))
            node.kernel = _first_legal(node, g, Q7_CONV if bits == 8 else Q15_CONV, quant)
            why[node.name] = "CMSIS-NN"
        elif op == "depthwise_conv":
            if weight_bits(quant.scheme, op, bits) != 8:
                node.kernel = "qsim_depthwise_conv_HWC_q15_nonsquare"
                why[node.name] = "qsim companion: legacy CMSIS-NN has only a q7 depthwise convolution"
                continue
            node.kernel = _first_legal(node, g, DEPTHWISE, quant)
            why[node.name] = "CMSIS-NN"
        elif op == "fc":
            node.kernel = fc_kernel(quant.scheme, bits) + ("_opt" if fc_opt else "")
        elif op in ("maxpool", "avgpool"):
            node.kernel = _pool(graph, node, g, bits, quant, why)
        elif op == "clip":
            node.kernel = f"qsim_clip_{tq}"          # arm_relu where the bounds allow: refine_kernels
        elif op == "add":
            node.kernel = f"qsim_add_{tq}"
            why[node.name] = "qsim companion: CMSIS-NN has no requantizing add"
        elif op == "concat":
            node.kernel = _concat(graph, node, bits, why)
        elif op == "relu":
            node.kernel = f"arm_relu_{tq}"
        elif op in ("sigmoid", "tanh"):
            node.kernel = f"arm_nn_activations_direct_{tq}"
            if bits == 16 and quant.release.activations_q15_clamped:
                warnings.warn(f"layer '{node.name}': arm_nn_activations_direct_q15 in CMSIS 5.7.0 "
                              f"maps every negative input to {node.op}(0) (a known bug, fixed in "
                              "5.8.0; semantics doc §5.4); qsim simulates it. help: use "
                              "version='5.9.0' or scheme='q7'", UserWarning, stacklevel=2)
        elif op == "softmax":
            node.kernel = _softmax(graph, node, bits, quant)
        elif op == "requantize":      # the format decides (refine_kernels)
            node.kernel = f"qsim_requantize_q{tbits[node.input] - 1}_q{bits - 1}"
        elif OPS[op].data_move:
            node.kernel = None
        elif OPS[op].transient:
            raise UnsupportedOpError(f"layer '{node.name}': op '{op}' has no CMSIS-NN kernel. help: "
                                     "run qsim.passes.run_pipeline(graph) (it folds batchnorm and "
                                     "removes layout transposes) before quantizing")
        else:   # pragma: no cover - a catalogue op without a kernel rule here
            raise UnsupportedOpError(f"layer '{node.name}': op '{op}' has no CMSIS-NN kernel rule")
    return True
