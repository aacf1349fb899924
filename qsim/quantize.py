"""Calibration statistics -> a QFormat per tensor -> bias_shift / out_shift per layer, kernels chosen.

`quantize(graph, calibration, scheme=...)` returns a quantized copy of an HWC float graph with
every quantization field of the IR filled (see qsim.graph): tensor qformats, weight_q, bias_q,
bias_shift, out_shift, kernel, pad_ch_in/out and graph.quant. `simulate`, `qat` and `codegen`
only read them.

Activation formats. Tensors linked by ops that keep their input format (relu, maxpool, avgpool,
flatten, reshape, transpose_hw: in place in C or a plain copy) share one format, chosen for the
group from the calibration statistics of its tensors by `strategy`:
    minmax      the seed's rule (as in Arm's ML-KWS-for-MCU): int_bits = ceil(log2(max|x|)), frac_bits = bits-1 - int_bits
                (a value within one step of 2**int_bits saturates by at most one step)
    percentile  the same rule on the p-th / (100-p)-th percentiles (Percentile(p) statistic)
    mse         the frac_bits in [minmax's, minmax's + 8] minimising the expected squared error
                (rounding step**2/12, or v**2 below half a step, plus clipping (v - max)**2) over
                the Log2Histogram of the tensors the next layers read
A tensor read only by relu contributes only its positive side (negative values become 0 anyway,
and relu(sat(x)) == sat(relu(x))); one read only by clips (ReLU6 = clip(0, 6)) contributes only
its range inside the clips' bounds (values beyond saturate there anyway). frac_bits may be
negative or exceed bits-1.

The new ops (issue 13), all run by CMSIS-NN where it has a function and by qsim's companion
kernels (qsim.companion_signatures) where it has none, see passes.choose_kernels:
    clip        keeps its input's format; its integer bounds are the float bounds rounded half up
                in that format, clamped to it (choose_kernels.clip_bounds; rounding is monotonic,
                so round(clip(x)) == clip(round(x))). Bounds (0, qmax) make it exactly arm_relu.
                It stays a call of its own: folding it into the producer's saturation would be
                bit-exact only for bounds (qmin, qmax), where it changes nothing anyway.
    add         output format from its own statistics; the inputs are shifted left to the
                common format max(fa, fb, fo) and the sum shifted right by out_shift
                (add_shifts; qsim_add's lshifts <= 30 - bits, out_shift <= 31).
    concat      one format for its inputs and output (a union of their groups): convs and fc
                producing an input write in it directly (their out_shift); a producer that
                cannot (a fixed-format sigmoid/tanh/softmax output, an accumulator too coarse)
                is a QuantizationError naming it (no requantizing copy is inserted).
    avgpool     output format from its own statistics, at least the input's (the average of a
                window is no larger than its peaks) and within the int32 sum of the companion
                kernel (out_lshift = fo - fi, taps * 2**(bits-1) * 2**out_lshift <= 2**30).
                The CMSIS-NN average keeps the input format, so it runs only where fo == fi;
                elsewhere qsim_avepool / qsim_global_avepool compute the finer output.
Fixed formats: softmax outputs Q0.7 / Q0.15; CMSIS softmax is base 2 (an input step of one LSB
is a factor 2), so its output is a sharpened softmax, kept for argmax. sigmoid/tanh outputs are
Q0.7 / Q0.15, and their input format must have int_width = (bits-1) - frac_bits in 0..3 for
arm_nn_activations_direct_q7/q15: the input group's frac_bits is clamped into [bits-4, bits-1]
(saturating at +-8, where both functions are flat).

Mixed precision (`layer_bits`, qsim.passes.precision). Each tensor gets its width first (the
named layers', the scheme's elsewhere; format-keeping layers follow their producer) and a
`requantize` node is inserted wherever a layer reads a tensor of the other width; formats are then
chosen per group at its own width, weights follow their layer's width (schemes.weight_bits). A
requantize output joins no group of its input: a widening q7 -> q15 keeps the input's format (an
exact sign extension, CMSIS-NN's arm_q7_to_q15_no_shift) unless a sigmoid/tanh reader clamps it or
a concat fixes it; a narrowing q15 -> q7 takes the calibrated 8-bit format of the (same) values
and rounds half up with saturation (qsim_requantize_q15_q7). With every layer at one width the
result is exactly that of the plain scheme (tests/mixed).

H/W swap. With 16-bit convs on path "dsp", a graph where some non-square conv has an odd output
width (which arm_convolve_HWC_q15_fast_nonsquare gets wrong there) is quantized with H and W
swapped (passes.transpose_hw.swap_hw) when that makes every 16-bit conv legal; this is logged at info
level and recorded in graph.meta["swap_hw"]. The swapped graph keeps the tensor names, and the
transposed input shares the input's statistics, so the calibration of the original graph applies.

Layer shifts (fi, fw, fb, fo = frac_bits of input, weight, bias, output; weight and bias formats
from max|w|, max|b| with the ceil rule, bits from the scheme, qsim.schemes):
    bias_shift = fi + fw - fb, out_shift = fi + fw - fo
Before that, the weights are coarsened if needed so that fi + fw + ceil(log2(max|pre-activation|))
<= 30: the C sums in int32 and wraps (doc §0.4), which q15 layers with many taps otherwise hit
(both signs count: a huge negative sum that wraps becomes a positive output, even after a relu).
A negative bias_shift lowers the bias precision to fb = fi + fw; a negative out_shift clamps the
output to fo = fi + fw (the output cannot be finer than the accumulator); both warn
(QuantizationWarning) naming the layer. Shifts above 31 are a QuantizationError.
"""
import logging
import math
import warnings

import numpy as np

from .errors import QuantizationError, QuantizationWarning, UnsupportedOpError
from .fixedpoint import QFormat
from .graph import QuantSettings
from .releases import DEFAULT_PATH, DEFAULT_RELEASE, UnknownRelease, check_path, release
from .passes.choose_kernels import choose_kernels, refine_kernels
from .passes.precision import check_layer_bits, insert_requantize, pinned_bits, widths
from .passes.transpose_hw import swapped_for_q15_dsp, with_transposed_stats
from .ops import OPS
from .schemes import act_bits, check_scheme, weight_bits
from .validate import FRAC_BITS_RANGE, validate_quantized

log = logging.getLogger(__name__)

STRATEGIES = ("minmax", "percentile", "mse")
_MSE_SPAN = 8
ACC_BITS = 30      # calibrated |accumulator| < 2**30: one bit of headroom below int32's 2**31


def frac_for(m, bits, what=None) -> int:
    """frac_bits holding magnitude m in `bits` bits by the ceil rule; bits-1 for m == 0.

    With `what` (a description for the message), a magnitude whose format would leave
    qsim.validate.FRAC_BITS_RANGE (e.g. a calibrated range of 1e300) is a QuantizationError."""
    if not m > 0:
        return bits - 1
    f = bits - 1 - math.ceil(math.log2(m))
    lo, hi = FRAC_BITS_RANGE
    if what is not None and not lo <= f <= hi:
        raise QuantizationError(f"{what}: magnitude {m:.4g} needs frac_bits {f}, outside "
                                f"{lo}..{hi} ({bits}-bit formats from +-{2.0 ** (bits - 1 - hi):.3g}"
                                f" to +-{2.0 ** (bits - 1 - lo):.3g}). help: check the calibration "
                                "data and the model's weights; such a range is absurd")
    return f


def weight_int(node):
    """The node's weights as integers of weight_q, logical layout (OHWI / (KY,KX,C) / (rows, dim))."""
    return node.weight_q.quantize(node.params["weight"])


def bias_int(node):
    return node.bias_q.quantize(node.params["bias"])


def _format_groups(graph):
    """{tensor: head tensor}: tensors joined by ops that keep their format share the head's; the
    inputs and output of a concat share one format (a union: its producers write in it). An
    avgpool starts a group of its own (its output format comes from its statistics, out_lshift)."""
    parent = {t: t for t in graph.inputs}

    def find(t):
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for node in graph.nodes:
        for t in node.outputs:
            parent[t] = t
            if OPS[node.op].keeps_format and node.op != "avgpool":
                parent[t] = find(node.input)
            elif node.op == "concat":
                for i in node.inputs:
                    a, b = find(i), find(t)
                    if a != b:
                        first, second = sorted((a, b), key=_order(graph).__getitem__)
                        parent[second] = first
    return {t: find(t) for t in parent}


def _order(graph):
    pos = {t: i for i, t in enumerate(graph.inputs)}
    for node in graph.nodes:
        for t in node.outputs:
            pos.setdefault(t, len(pos))
    return pos


def _stat(cal, tensor, key, strategy, graph):
    if tensor not in cal:
        prod = graph.producer(tensor)
        where = f"layer '{prod.name}'" if prod else "the graph input"
        raise QuantizationError(f"tensor '{tensor}' ({where}) has no calibration statistics. help: "
                                "calibrate this graph (qsim.calibrate) after the passes, not another one")
    for k in key:
        if k in cal[tensor]:
            return cal[tensor][k]
    raise QuantizationError(f"strategy '{strategy}' needs statistic {key[0]!r} for tensor "
                            f"'{tensor}', calibration has {sorted(cal[tensor])}. help: "
                            f"calibrate(graph, data, stats=('minmax', '{key[-1].split('(')[0]}'))")


def _magnitude(graph, cal, t, key, strategy):
    lo, hi = _stat(cal, t, key, strategy, graph).range()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        prod = graph.producer(t)
        raise QuantizationError(f"tensor '{t}' ({'layer ' + repr(prod.name) if prod else 'input'}) "
                                f"has calibration range ({lo}, {hi}): NaN or Inf in the float run. "
                                "help: check the weights and the calibration data")
    users = graph.consumers(t)
    if users and all(n.op in ("relu", "clip") for n in users):
        # values beyond every reader's bound saturate there anyway (relu / clip = ReLU6 ...)
        lo = max(lo, min(0.0 if n.op == "relu" else n.attrs["min"] for n in users))
        hi = min(hi, max(np.inf if n.op == "relu" else n.attrs["max"] for n in users))
    return max(abs(lo), abs(hi), 0.0) if lo <= hi else 0.0


def mse_frac(hists, bits, f0):
    """The frac_bits in [f0, f0 + _MSE_SPAN] minimising the histogram's expected squared error."""
    pts = (np.arange(4) + 0.5) / 4
    v = 2.0 ** (hists[0].edges[:-1, None] + pts[None, :])          # 4 points per log2 bin
    w = sum(h.counts for h in hists)[:, None] / 4.0
    best, best_err = f0, np.inf
    for f in range(f0, f0 + _MSE_SPAN + 1):
        step, top = 2.0 ** -f, ((1 << (bits - 1)) - 1) * 2.0 ** -f
        err = np.where(v > top, (v - top) ** 2, np.where(v < step / 2, v * v, step * step / 12))
        total = float((w * err).sum())
        if total < best_err:
            best, best_err = f, total
    return best


def _activation_frac(graph, cal, members, strategy, percentile, bits):
    keys = {"minmax": ("minmax", "log2hist"), "percentile": (f"percentile({percentile:g})",),
            "mse": ("minmax", "log2hist")}[strategy]
    m = max(_magnitude(graph, cal, t, keys, strategy) for t in members)
    f = frac_for(m, bits, f"tensor '{members[0]}' (calibrated range)")
    if strategy == "mse":
        inside = set(members)
        tails = [t for t in members if t in graph.outputs or not graph.consumers(t)
                 or any(t2 not in inside for n in graph.consumers(t) for t2 in n.outputs)]
        hists = [_stat(cal, t, ("log2hist",), strategy, graph) for t in tails]
        f = mse_frac(hists, bits, f)
    return f


def _check_finite(node):
    for k, arr in node.params.items():
        a = np.asarray(arr, np.float64)
        if not np.all(np.isfinite(a)):
            raise QuantizationError(f"layer '{node.name}': {k} has {int(np.sum(~np.isfinite(a)))} "
                                    "NaN/Inf values. help: fix the model (retrain or re-export)")


def _calibrated_range(cal, tensor):
    """(lo, hi) of a tensor over the calibration data (min/max, else the first statistic), or None
    when there is none or it is not finite."""
    per = cal[tensor] if tensor in cal else {}
    key = next((k for k in ("minmax", "log2hist") if k in per), next(iter(per), None))
    if key is None:
        return None
    lo, hi = per[key].range()
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else None


def _acc_magnitude(graph, cal, node):
    """max |pre-activation| of the node's output over the calibration data (both signs)."""
    r = _calibrated_range(cal, node.output)
    return 0.0 if r is None else max(abs(r[0]), abs(r[1]))


def _weighted(node, scheme, fi, fo, acc_max, bits, fw=None):
    """Fill weight_q, bias_q, bias_shift, out_shift of a conv/depthwise/fc running at `bits`;
    returns the final fo. `fw` forces the weights' frac_bits (weight_frac_override; weights
    beyond its range saturate), else the ceil rule on max|w|."""
    wb = weight_bits(scheme, node.op, bits)
    w, b = (np.abs(np.asarray(node.params[k], np.float64)) for k in ("weight", "bias"))
    if fw is None:
        fw = frac_for(float(w.max()) if w.size else 0.0, wb, f"layer '{node.name}' weights")
    if acc_max > 0 and fi + fw + math.ceil(math.log2(acc_max)) > ACC_BITS:
        # The C sums in int32 and wraps (doc §0.4): keep every calibrated accumulator inside
        # 2**ACC_BITS by coarsening the weights (the input format is fixed by the producer).
        low = ACC_BITS - fi - math.ceil(math.log2(acc_max))
        log.info("layer '%s': weights Q.%d -> Q.%d so the int32 accumulator (max |pre-activation| "
                 "%.4g at 2**%d) keeps one bit of headroom", node.name, fw, low, acc_max, fi + low)
        fw = low
    acc = fi + fw
    fb = frac_for(float(b.max()), wb, f"layer '{node.name}' bias") if b.size and b.max() > 0 \
        else acc
    if fb > acc:
        warnings.warn(f"layer '{node.name}': the bias format Q.{fb} is finer than the accumulator "
                      f"(fi + fw = {fi} + {fw} = {acc}); bias_shift would be {acc - fb}, so the bias "
                      f"precision is lowered to frac_bits {acc} (bias_shift 0)",
                      QuantizationWarning, stacklevel=3)
        fb = acc
    if fo > acc:
        warnings.warn(f"layer '{node.name}': the output format wants frac_bits {fo} but the "
                      f"accumulator has only fi + fw = {acc} (out_shift would be {acc - fo}); the "
                      f"output is clamped to frac_bits {acc} (out_shift 0)", QuantizationWarning,
                      stacklevel=3)
        fo = acc
    node.weight_q, node.bias_q = QFormat(wb, fw), QFormat(wb, fb)
    node.bias_shift, node.out_shift = acc - fb, acc - fo
    for name, s, fix in (("bias_shift", node.bias_shift, "the bias is far larger than input x "
                          "weight steps: retrain with a bias penalty, or lower the input/weight "
                          "precision"), ("out_shift", node.out_shift, "the output range is far "
                                         "larger than input x weight steps: check the calibration "
                                         "or lower the input/weight precision")):
        if s > 31:
            raise QuantizationError(f"layer '{node.name}': {name} = {s} > 31 (fi={fi}, fw={fw}, "
                                    f"fb={fb}, fo={fo}); C shifts above 31 are undefined. help: {fix}")
    return fo


def _softmax_dsp_cap(cal, user, f, rel):
    """frac_bits of the input of a softmax_q7 whose DSP byte lanes wrap (Release.softmax_q7_wraps,
    5.7.0): at most what keeps the calibrated input range (max - min) within the
    Release.softmax_q7_dsp_spread steps the lanes survive (semantics doc §4.2), so they never wrap
    on calibration-like data; the argmax needs no more precision than that."""
    r = _calibrated_range(cal, user.input)
    if r is None or r[1] - r[0] <= 0:
        return f
    lo, hi = r
    spread = rel.softmax_q7_dsp_spread
    cap = int(np.floor(np.log2(spread / (hi - lo))))
    if cap < f:
        log.info("layer '%s': softmax input at frac_bits %d instead of %d: %s's DSP "
                 "arm_softmax_q7 wraps when an input is more than %d steps below the maximum "
                 "(calibrated range %.3g)", user.name, cap, f, rel, spread, hi - lo)
        return cap
    return f


def _clamp_int_width(user, f, bits):
    """frac_bits of a sigmoid/tanh input: int_width = bits-1 - frac_bits must be in 0..3."""
    g_f = min(max(f, bits - 4), bits - 1)
    if g_f != f:
        msg = (f"layer '{user.name}' ({user.op}): input format frac_bits {g_f} chosen (int_width "
               f"{bits - 1 - g_f}) for arm_nn_activations_direct_q{bits - 1}, which takes int_width "
               f"0..3; calibration wanted frac_bits {f}")
        if g_f > f:
            warnings.warn(msg + f": inputs beyond +-{2.0 ** (bits - 1 - g_f):g} saturate (the "
                          "function is flat there)", QuantizationWarning, stacklevel=4)
        else:
            log.info(msg)
    return g_f


# companion add: lshift_a, lshift_b <= 30 - bits (qsim_companion.h); out_shift <= 31
def add_shifts(fa, fb, fo, bits):
    """(lshift_a, lshift_b, out_shift) of qsim_add for input formats fa, fb and output fo: the
    common format is max(fa, fb, fo) (no precision lost before the sum)."""
    f = max(fa, fb, fo)
    return f - fa, f - fb, f - fo


def _add_frac(node, fin, fo, bits):
    """Output frac_bits of an add: its statistics' format, within what qsim_add can shift."""
    limit = 30 - bits
    lo, hi = min(fin), max(fin)
    if hi - lo > limit:
        raise QuantizationError(f"layer '{node.name}': the add's inputs have frac_bits {fin}, "
                                f"{hi - lo} apart; qsim_add_q{bits - 1} shifts an input left by at "
                                f"most {limit}. help: calibrate again, or rescale one branch")
    fo = max(min(fo, lo + limit), hi - 31)
    return fo


def avgpool_lshift_limit(taps, bits):
    """The largest out_lshift with taps * 2**(bits-1) * 2**out_lshift <= 2**30 (-1: none)."""
    limit = 30 - (bits - 1)
    while limit >= 0 and taps << limit > 1 << (30 - (bits - 1)):
        limit -= 1
    return limit


def _avgpool_frac(g, node, fi, fo, bits):
    """Output frac_bits of an avgpool: from its statistics (finer than the input: the average of
    a window is smaller than its peaks), at least the input's, within the companion's int32 sum."""
    from .ops import ConvGeometry
    geo = ConvGeometry.of(g, node)
    taps = geo.k_y * geo.k_x
    limit = avgpool_lshift_limit(taps, bits)
    if limit < 0:
        raise UnsupportedOpError(f"layer '{node.name}': average of {taps} taps of q{bits - 1} "
                                 "values overflows the companion's int32 sum. help: pool in two "
                                 "steps (smaller windows)")
    if node.kernel == "arm_avepool_q7_HWC":
        limit = min(limit, 30)
    return min(max(fo, fi), fi + limit)


def _swap_if_it_helps(g, fc_opt, layer_bits, default, pad_channels=True):
    """q15 convs on path "dsp": swap H and W (passes.transpose_hw) when a non-square conv has an
    odd output width and the swapped graph gets legal kernels; else `g` (whose error stands)."""
    bits = widths(g, layer_bits, default)
    swapped = swapped_for_q15_dsp(g, {n.name for n in g.nodes if n.op == "conv"
                                      and bits[n.output] == 16})
    if swapped is None:
        return g
    try:
        choose_kernels(swapped, fc_opt=fc_opt, bits=widths(swapped, layer_bits, default),
                       pad_channels=pad_channels)
    except UnsupportedOpError:
        return g
    log.info("graph '%s': %s", g.name, swapped.meta["swap_hw"]["reason"])
    return swapped


def _requantize_frac(node, b_in, fi, h, frac, forced, bounds, wanted):
    """Output frac_bits of a requantize node (fi: its input's): the group's format where it is
    already set (a concat) or forced; a widening keeps the input's format (exact: CMSIS-NN's
    arm_q7_to_q15_no_shift) unless a sigmoid/tanh reader needs another; a narrowing takes the
    calibrated format at 8 bits. The shifts must fit qsim_requantize (lshift <= 30 - b_in)."""
    b_out = node.attrs["bits"]
    if h in frac:
        f = frac[h]
    elif h in forced or b_out < b_in:
        f = wanted(h)
    else:
        f = _clamp_int_width(bounds[h], fi, b_out) if h in bounds else fi
    if f - fi > 30 - b_in or fi - f > 31:
        raise QuantizationError(f"layer '{node.name}': converting Q.{fi} (q{b_in - 1}) to Q.{f} "
                                f"(q{b_out - 1}) needs a shift beyond qsim_requantize's range "
                                f"(left <= {30 - b_in}, right <= 31). help: give the two layers "
                                "closer formats (frac_bits_override) or the same width")
    return f


def _forced_heads(g, head, override):
    """{group head: frac_bits} from frac_bits_override; rejects unknown or fixed-format tensors."""
    forced = {}
    for t, f in override.items():
        if t not in head:
            raise QuantizationError(f"frac_bits_override: no tensor {t!r} in graph '{g.name}'. "
                                    f"help: one of {sorted(head)}")
        prod = g.producer(head[t])
        if prod is not None and OPS[prod.op].fixed_output:
            raise QuantizationError(f"frac_bits_override: tensor {t!r} is the output of {prod.op} "
                                    f"'{prod.name}', whose format is fixed")
        if not isinstance(f, (int, np.integer)) or isinstance(f, bool):
            raise QuantizationError(f"frac_bits_override: frac_bits for {t!r} must be an int, "
                                    f"got {f!r}")
        if forced.get(head[t], f) != f:
            raise QuantizationError(f"frac_bits_override: {t!r} shares its format with "
                                    f"{head[t]!r}; give the group one value")
        forced[head[t]] = int(f)
    return forced


def _weight_fracs(g, override):
    """{layer name: weight frac_bits} from weight_frac_override; rejects unknown layers, layers
    without weights and values that are not ints in qsim.validate.FRAC_BITS_RANGE."""
    if override is None:
        return {}
    if not isinstance(override, dict):
        raise QuantizationError(f"weight_frac_override must be a dict {{layer name: frac_bits}}, "
                                f"got {type(override).__name__}")
    lo, hi = FRAC_BITS_RANGE
    weighted = {n.name for n in g.nodes if OPS[n.op].weighted}
    for name, f in override.items():
        if name not in weighted:
            raise QuantizationError(f"weight_frac_override: no layer with weights named "
                                    f"{str(name)[:80]!r} in graph '{g.name}'. help: one of "
                                    f"{sorted(weighted)}")
        if not isinstance(f, (int, np.integer)) or isinstance(f, bool) or not lo <= f <= hi:
            raise QuantizationError(f"weight_frac_override: frac_bits for layer {name!r} must be "
                                    f"an int in {lo}..{hi}, got {str(f)[:40]!r}")
    return {k: int(v) for k, v in override.items()}


def quantize(graph, calibration, scheme="q7", strategy="minmax", path=DEFAULT_PATH,
             version=DEFAULT_RELEASE, truncate=False, percentile=99.99, fc_opt=True,
             frac_bits_override=None, layer_bits=None, pad_channels=True,
             weight_frac_override=None):
    """Quantize an HWC float graph for the legacy CMSIS-NN kernels.

    Parameters
    ----------
    graph : Graph (HWC, after qsim.passes.run_pipeline); not modified
    calibration : qsim.calibrate.Calibration of this graph
    scheme : "q7", "q15" or "q7q15" (qsim.schemes)
    strategy : "minmax", "percentile" (needs a Percentile(percentile) statistic) or "mse" (needs
        a Log2Histogram); see the module docstring
    path, version, truncate : the CMSIS-NN build simulated and generated (graph.quant): code path
        "ref" or "dsp", CMSIS_5 release "5.9.0" or "5.7.0" (or a qsim.releases.Release). The
        defaults are those of `qsim quantize`, qsim.releases.DEFAULT_PATH / DEFAULT_RELEASE:
        path="ref" (plain C), version="5.9.0"; a Cortex-M4/M7/M33 build with ARM_MATH_DSP
        needs path="dsp", firmware on CMSIS_5 5.7.0 needs version="5.7.0".
    percentile : p of the percentile strategy
    fc_opt : use the `_opt` fully connected kernels (interleaved weights)
    pad_channels : zero-pad q7 conv channels where that makes a `_fast` kernel legal (default);
        False keeps `_basic` there (fewer bytes of activations and weights, more instructions).
        The q15 non-square padding to even channels is not optional (no other kernel exists).
    frac_bits_override : optional {tensor name: frac_bits} forcing activation formats instead of
        the strategy's choice (e.g. a coarser input to study precision loss). A forced tensor sets
        the format of its whole group (tensors joined by relu, pooling, reshape...); softmax /
        sigmoid / tanh outputs cannot be forced, sigmoid/tanh inputs are still clamped, and a
        layer output finer than its accumulator is still clamped (with the usual warning).
        Recorded in graph.meta["quantize"]["frac_bits_override"].
    layer_bits : optional {layer name: 8 or 16} mixed precision: the storage width of those
        layers' outputs (and the q7 or q15 kernels and weights they run with) instead of the
        scheme's; layers that keep their input's format follow their producer, and a `requantize`
        node converts a tensor wherever a layer reads it at another width (qsim.passes.precision;
        the graph input tensor may be named too). Legal-kernel rules apply per layer (q15 pooling
        and depthwise run qsim companion kernels, ...). Recorded in
        graph.meta["quantize"]["layer_bits"].

    Returns
    -------
    Graph, a quantized copy. Raises QuantizationError (no legal format or shift, NaN/Inf weights
    or statistics) or UnsupportedOpError (no legal kernel), naming the layer.
    """
    from .calibrate import Calibration
    from .graph import Graph
    if not isinstance(graph, Graph):
        raise QuantizationError(f"quantize needs a float Graph, got {type(graph).__name__}")
    if not isinstance(calibration, Calibration):
        raise QuantizationError(f"quantize needs the Calibration of this graph (qsim.calibrate), "
                                f"got {type(calibration).__name__}. help: cal = calibrate(graph, "
                                "x); quantize(graph, cal)")
    check_scheme(scheme)
    if strategy not in STRATEGIES:
        raise QuantizationError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    try:
        check_path(path)
        release(version)
    except UnknownRelease as e:
        raise QuantizationError(str(e)) from None
    g = graph.copy()
    g.require_hwc("quantize")
    user_bits = check_layer_bits(g, layer_bits)
    default = act_bits(scheme)
    eff_bits = pinned_bits(g, user_bits, default)   # inputs pinned: converts keep their width
    g.quant = QuantSettings(scheme, path, version, bool(truncate))
    for node in g.nodes:
        _check_finite(node)
    sources = insert_requantize(g, eff_bits, default) if user_bits else {}
    if path == "dsp" and 16 in widths(g, eff_bits, default).values():
        g = _swap_if_it_helps(g, fc_opt, eff_bits, default, pad_channels)
    calibration = with_transposed_stats(g, _with_source_stats(calibration, sources))
    tbits = widths(g, eff_bits, default)
    choose_kernels(g, fc_opt=fc_opt, bits=tbits, pad_channels=pad_channels)
    head = _format_groups(g)
    members = {}
    for t, h in head.items():
        members.setdefault(h, []).append(t)
    bounds = {head[n.input]: n for n in g.nodes if n.op in ("sigmoid", "tanh")}
    wrapping = {head[n.input]: n for n in g.nodes if n.op == "softmax" and tbits[n.input] == 8
                and g.quant.release.softmax_q7_wraps(path)}
    forced = _forced_heads(g, head, frac_bits_override or {})
    wforced = _weight_fracs(g, weight_frac_override)

    def wanted(h):
        bits = tbits[h]
        if h in forced:
            f = forced[h]
        else:
            f = _activation_frac(g, calibration, members[h], strategy, percentile, bits)
            if h in wrapping:
                f = _softmax_dsp_cap(calibration, wrapping[h], f, g.quant.release)
        return _clamp_int_width(bounds[h], f, bits) if h in bounds else f

    frac = {}
    for t in g.inputs:
        frac.setdefault(head[t], wanted(head[t]))
    for node in g.nodes:
        out = node.output
        h = head[out]
        bits = tbits[out]
        if OPS[node.op].keeps_format and node.op != "avgpool" or node.op == "concat":
            frac.setdefault(h, wanted(h))     # concat: its inputs' group, already set
            continue
        if OPS[node.op].fixed_output:
            f = bits - 1
        elif OPS[node.op].weighted:
            f = _weighted(node, scheme, frac[head[node.input]], frac.get(h, wanted(h)),
                          _acc_magnitude(g, calibration, node), bits, wforced.get(node.name))
            if out in bounds and f < bits - 4:
                raise QuantizationError(
                    f"layer '{node.name}': its output feeds {bounds[out].op} '{bounds[out].name}', "
                    f"which needs frac_bits >= {bits - 4} (int_width <= 3), but the accumulator "
                    f"has only {f} fraction bits. help: use more fraction bits in the input or "
                    "weights (scheme='q15')")
        elif node.op == "avgpool":
            f = _avgpool_frac(g, node, frac[head[node.input]], frac.get(h, wanted(h)), bits)
        elif node.op == "add":
            f = _add_frac(node, [frac[head[t]] for t in node.inputs], frac.get(h, wanted(h)), bits)
        elif node.op == "requantize":
            f = _requantize_frac(node, tbits[node.input], frac[head[node.input]], h, frac, forced,
                                 bounds, wanted)
        else:   # pragma: no cover - every other op keeps its format or is rejected by choose_kernels
            raise QuantizationError(f"layer '{node.name}': no format rule for op '{node.op}'")
        if frac.setdefault(h, f) != f:
            raise QuantizationError(
                f"layer '{node.name}': its output '{out}' joins a concat whose common format has "
                f"frac_bits {frac[h]}, but {node.op} can only write frac_bits {f}. help: put a "
                "conv or fc before the concat, or concatenate tensors of similar ranges")
    for t, info in g.tensors.items():
        info.qformat = QFormat(tbits[t], frac[head[t]])
    refine_kernels(g)
    g.meta = dict(g.meta, quantize={"strategy": strategy, "percentile": percentile,
                                    "fc_opt": bool(fc_opt),
                                    **({} if pad_channels else {"pad_channels": False}),
                                    **({"frac_bits_override": dict(frac_bits_override)}
                                       if frac_bits_override else {}),
                                    **({"layer_bits": dict(user_bits)} if user_bits else {}),
                                    **({"weight_frac_override": wforced} if wforced else {}),
                                    "calibration_samples": calibration.num_samples})
    return validate_quantized(g, f"quantize: graph '{g.name}'")  # never what simulate refuses


def _with_source_stats(calibration, sources):
    """`calibration` with each requantize output filed under its source's statistics."""
    extra = {t: calibration[src] for t, src in sources.items() if src in calibration}
    if not extra:
        return calibration
    import copy
    cal = copy.copy(calibration)
    cal.stats = {**calibration.stats, **extra}
    return cal


def describe(qgraph) -> str:
    """One line per layer: kernel, input/output formats, weight/bias formats and shifts; then
    which calls are qsim companion kernels (not CMSIS-NN) and why."""
    lines = [f"{qgraph.name}: scheme {qgraph.quant.scheme}, path {qgraph.quant.path}, CMSIS "
             f"{qgraph.quant.version}{', truncate' if qgraph.quant.truncate else ''}"]
    lb = qgraph.meta.get("quantize", {}).get("layer_bits")
    if lb:
        lines[0] += "; layer_bits " + ", ".join(f"{k}={v}" for k, v in lb.items()) + \
            " (requantize layers convert between widths)"
    for n in qgraph.nodes:
        q = f"{qgraph.input_q(n)} -> {qgraph.output_q(n)}"
        if OPS[n.op].weighted:
            q += f"  w {n.weight_q} b {n.bias_q} bias_shift {n.bias_shift} out_shift {n.out_shift}"
        lines.append(f"  {n.name:<10} {str(n.kernel):<40} {q}")
    why = qgraph.meta.get("kernels", {})
    companion = [n for n in qgraph.nodes if n.kernel and not n.kernel.startswith("arm_")]
    if companion:
        lines.append("  qsim companion kernels (qsim's own C, emitted beside the network; no "
                     "CMSIS-NN function fits):")
        lines += [f"    {n.name}: {n.kernel}: {why.get(n.name, 'companion')}" for n in companion]
    else:
        lines.append("  every call is a CMSIS-NN function")
    return "\n".join(lines)
