"""Pick the legal CMSIS-NN function for every node (`node.kernel`) and record channel padding.

Rules (semantics doc §1.13, §2, §3, §4, §5), for the graph's scheme, path and version:
    conv q7     ch_in == 3, square             -> arm_convolve_HWC_q7_RGB
                1x1, stride 1, pad 0, ch_in % 4 == 0, ch_out % 2 == 0
                                               -> arm_convolve_1x1_HWC_q7_fast_nonsquare
                ch_in % 4 == 0, ch_out % 2 == 0 and the DSP geometry conditions of §1.3
                                               -> arm_convolve_HWC_q7_fast(_nonsquare)
                (channels are zero-padded to reach that when ch_in >= 8 and the producing conv
                can carry the extra zero channels; see _q7_fast_padding)
                otherwise                      -> arm_convolve_HWC_q7_basic(_nonsquare)
    conv q15    square: _fast when ch_in, ch_out (after padding) are even and, on path "dsp",
                the output width is even; else arm_convolve_HWC_q15_basic.
                non-square: only arm_convolve_HWC_q15_fast_nonsquare exists, so an odd ch_in or
                ch_out is padded to even (`pad_ch_in` / `pad_ch_out` = 1: zero weights, and the
                producing conv or the graph input carries one zero channel more); an odd output
                width on path "dsp" is an error (the C misplaces outputs and overruns bufferA).
    depthwise   arm_depthwise_separable_conv_HWC_q7(_nonsquare); q7 only
    fc          arm_fully_connected_{q7,q15,mat_q7_vec_q15}_opt (interleaved weights), or the plain
                row-major functions with fc_opt=False
    maxpool / avgpool   arm_maxpool_q7_HWC / arm_avepool_q7_HWC: q7 and square only
    relu -> arm_relu_q7/q15; sigmoid, tanh -> arm_nn_activations_direct_q7/q15;
    softmax -> arm_softmax_q7 (arm_softmax_with_batch_q7 over the channels of an image) / _q15;
    flatten, reshape -> no call (kernel None: the C keeps the same buffer);
    transpose_hw -> no call (kernel None: codegen emits a copy loop into a new buffer).
A variant whose C is wrong for the geometry is never picked: on path "ref" of 5.7.0 the
signed-char index quirk (§1.1) makes most convs wrong once an input index passes 127, so
arm_convolve_HWC_q7_fast_nonsquare is used when legal and an UnsupportedOpError is raised
otherwise. Deterministic library bugs that qsim simulates exactly only warn (q15 sigmoid/tanh
of 5.7.0, §5.4; softmax_q7 on the DSP path of 5.7.0, §4.2). Every error names the layer, the
geometry and a fix.
"""
import logging
import warnings

from ..errors import QuantizationError, UnsupportedOpError
from ..schemes import act_bits, check_scheme, weight_bits

log = logging.getLogger(__name__)

# channel axis last in and out, so a zero padding channel passes through unchanged
PASS_THROUGH = ("relu", "sigmoid", "tanh", "maxpool", "avgpool", "transpose_hw")
_QUIRK = {"arm_convolve_HWC_q7_basic", "arm_convolve_HWC_q7_basic_nonsquare",
          "arm_convolve_HWC_q7_fast", "arm_convolve_HWC_q7_RGB", "arm_convolve_HWC_q15_basic",
          "arm_convolve_HWC_q15_fast", "arm_convolve_HWC_q15_fast_nonsquare"}


def geometry(graph, node):
    """(H, W, C_in, KY, KX, SY, SX, PY, PX, HO, WO, C_out) of a conv / depthwise / pool node."""
    h, w, ci = graph.tensors[node.input].shape
    ho, wo, co = graph.tensors[node.output].shape
    (ky, kx), (sy, sx), (py, px) = (node.attrs[k] for k in ("kernel_shape", "strides", "pads"))
    return h, w, ci, ky, kx, sy, sx, py, px, ho, wo, co


def is_square(geo):
    h, w, _, ky, kx, sy, sx, py, px, *_ = geo
    return h == w and ky == kx and sy == sx and py == px


def _describe(geo):
    h, w, ci, ky, kx, sy, sx, py, px, ho, wo, co = geo
    return (f"input {h}x{w}x{ci} (HxWxC), kernel {ky}x{kx}, stride {sy}x{sx}, pad {py}x{px}, "
            f"output {ho}x{wo}x{co}")


def _axes(geo):
    h, w, _, ky, kx, sy, sx, py, px, ho, wo, _ = geo
    return ((h, ky, sy, py, ho), (w, kx, sx, px, wo))


def quirk_hit(geo) -> bool:
    """True if some input row/column index leaves [-128, 127] (REF 5.7.0 keeps it in a signed char)."""
    return any((d_out - 1) * s + k - 1 - p > 127 or p > 128 for _, k, s, p, d_out in _axes(geo))


def fast_geometry_ok(geo) -> bool:
    """§1.3: the q7 _fast DSP body skips bounds tests in the middle region; exact iff this holds."""
    (h, ky, sy, py, ho), (w, kx, sx, px, wo) = _axes(geo)
    mid_rows = ho - 2 * py > 0
    ok = py <= ho and px <= wo
    if mid_rows:
        ok &= (ho - py - 1) * sy - py + ky <= h
        if wo - 2 * px > 0:
            ok &= (wo - px - 1) * sx - px + kx <= w
    return ok


def _q7_conv(geo, quant, pad_in=0, pad_out=0):
    h, w, ci, ky, kx, sy, sx, py, px, ho, wo, co = geo
    ci, co = ci + pad_in, co + pad_out
    square = is_square(geo)
    fast_ch = ci % 4 == 0 and co % 2 == 0
    avoid_quirk = quant.release.signed_char_index(quant.path) and quirk_hit(geo)
    if square and ci == 3 and not avoid_quirk:
        return "arm_convolve_HWC_q7_RGB"
    if fast_ch and (ky, kx, sy, sx, py, px) == (1, 1, 1, 1, 0, 0):
        return "arm_convolve_1x1_HWC_q7_fast_nonsquare"
    if fast_ch and (quant.path != "dsp" or fast_geometry_ok(geo)):
        if square and not avoid_quirk:
            return "arm_convolve_HWC_q7_fast"
        return "arm_convolve_HWC_q7_fast_nonsquare"      # int indices: no signed-char quirk
    return "arm_convolve_HWC_q7_basic" if square else "arm_convolve_HWC_q7_basic_nonsquare"


def _q15_conv(node, geo, pad_in, pad_out, path):
    ci, wo, co = geo[2] + pad_in, geo[10], geo[11] + pad_out
    if is_square(geo):
        if ci % 2 == 0 and co % 2 == 0 and (path != "dsp" or wo % 2 == 0):
            return "arm_convolve_HWC_q15_fast"
        return "arm_convolve_HWC_q15_basic"
    if path == "dsp" and wo % 2:
        raise UnsupportedOpError(
            f"layer '{node.name}': a non-square q15 conv ({_describe(geo)}) can only use "
            "arm_convolve_HWC_q15_fast_nonsquare, whose DSP body needs an even output width: with "
            f"dim_im_out_x={wo} it writes outputs to the wrong places and overruns bufferA (semantics "
            "doc §1.9). help: change the padding/stride/kernel so the output width is even, make "
            "the layer square (q15_basic has no such limit), use path='ref', or scheme='q7'")
    return "arm_convolve_HWC_q15_fast_nonsquare"


def _check_quirk(node, geo, kernel, quant):
    if quant.release.signed_char_index(quant.path) and kernel in _QUIRK and quirk_hit(geo):
        raise UnsupportedOpError(
            f"layer '{node.name}': {kernel} on path 'ref' of CMSIS 5.7.0 keeps input indices in a "
            f"signed char and computes a wrong convolution once an index passes 127 ({_describe(geo)}; "
            "semantics doc §1.1). help: use version='5.9.0', path='dsp', or for q7 give the layer "
            "ch_in % 4 == 0 and an even ch_out so arm_convolve_HWC_q7_fast_nonsquare can be used")


def _check_dsp_limits(node, geo, quant):
    h, w, ci, ky, kx, *_ = geo
    if quant.path == "dsp" and ci * ky * kx > 65535:
        raise UnsupportedOpError(f"layer '{node.name}': ch_in*KY*KX = {ci * ky * kx} > 65535, which "
                                 "the DSP conv bodies keep in a uint16_t. help: split the layer")


def _origin(graph, tensor, node):
    """Walk back through PASS_THROUGH ops to the conv or graph input that must add a zero channel."""
    t = tensor
    while True:
        prod = graph.producer(t)
        if prod is None or prod.op == "conv":
            return t
        if prod.op not in PASS_THROUGH:
            raise UnsupportedOpError(
                f"layer '{node.name}': arm_convolve_HWC_q15_fast_nonsquare needs an even number of "
                f"input channels, got {graph.tensors[tensor].shape[-1]}, and its input comes from "
                f"'{prod.name}' ({prod.op}), which cannot add a zero channel. help: give the layer an "
                "even number of input channels, or make it square (arm_convolve_HWC_q15_basic)")
        t = prod.input


def _readers_take_padding(graph, tensor):
    """True if every reader of `tensor` (through PASS_THROUGH ops) is a conv or fc."""
    for n in graph.consumers(tensor):
        if n.op in PASS_THROUGH:
            if not _readers_take_padding(graph, n.output):
                return False
        elif n.op not in ("conv", "fc"):
            return False
    return tensor not in graph.outputs


def _q7_fast_padding(graph, node, want):
    """q7: pad a conv's channels up to ch_in % 4 == 0 / even ch_out so a _fast kernel applies.

    Only when it is cheap (ch_in >= 8, so at most 3/11 extra MACs) and the zero channels can be
    produced by a conv and ignored by every reader (conv or fc); otherwise _basic is used.
    """
    geo = geometry(graph, node)
    ci, co = geo[2], geo[11]
    if ci % 4 == 0 and co % 2 == 0 or ci == 3 and is_square(geo):
        return
    pin, pout = (-ci) % 4, co % 2
    origin, prod = node.input, graph.producer(node.input)
    while prod is not None and prod.op in PASS_THROUGH:
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


def _channel_padding(graph, quant, bits):
    """Decide zero-channel padding; returns {tensor: channels appended}.

    q15 non-square convs must have even channel counts (only _fast_nonsquare exists); q7 convs
    are padded where that makes a _fast kernel legal at little cost (see _q7_fast_padding).
    """
    want = {}
    for node in graph.nodes:
        if node.op != "conv":
            continue
        if bits == 8:
            _q7_fast_padding(graph, node, want)
            continue
        if is_square(geometry(graph, node)):
            continue
        h, w, ci, *_, co = geometry(graph, node)
        if ci % 2:
            want[_origin(graph, node.input, node)] = 1
        if co % 2:
            want[node.output] = 1
    pad = {t: want.get(t, 0) for t in graph.inputs}
    for node in graph.nodes:
        p = pad.get(node.input, 0)
        if p and node.op not in ("conv", "fc") + PASS_THROUGH:
            raise UnsupportedOpError(
                f"layer '{node.name}' ({node.op}) reads '{node.input}', which carries a zero "
                f"padding channel so that a q15 non-square conv can run; {node.op} cannot ignore it. "
                "help: give the producing conv an even number of output channels")
        pad[node.output] = p if node.op in PASS_THROUGH else want.get(node.output, 0)
        node.pad_ch_in = p or None
        node.pad_ch_out = pad[node.output] or None
    return pad


def _pool(node, geo, bits):
    if bits != 8:
        raise UnsupportedOpError(f"layer '{node.name}': legacy CMSIS-NN has only q7 pooling "
                                 "(arm_maxpool_q7_HWC / arm_avepool_q7_HWC). help: use scheme='q7', "
                                 "or replace the pooling by a strided convolution")
    if not is_square(geo):
        raise UnsupportedOpError(f"layer '{node.name}': arm_{'max' if node.op == 'maxpool' else 'ave'}"
                                 f"pool_q7_HWC is square only; got {_describe(geo)}. help: use a "
                                 "square image, kernel, stride and padding, or a strided convolution")
    return "arm_maxpool_q7_HWC" if node.op == "maxpool" else "arm_avepool_q7_HWC"


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


def choose_kernels(graph, fc_opt=True) -> bool:
    """Set node.kernel (and q15 channel padding) for every node; returns True.

    Needs graph.quant.scheme ("q7", "q15", "q7q15"); path and version come from graph.quant.
    fc_opt=True picks the `_opt` fully connected functions (interleaved weights, faster on target).
    Raises UnsupportedOpError naming the layer when no legal CMSIS-NN function exists.
    """
    graph.require_hwc("choose_kernels")
    quant = graph.quant
    if quant.scheme is None:
        raise QuantizationError("choose_kernels needs graph.quant.scheme; help: call qsim.quantize")
    check_scheme(quant.scheme)
    bits = act_bits(quant.scheme)
    for node in graph.nodes:
        node.pad_ch_in = node.pad_ch_out = None
    pad = _channel_padding(graph, quant, bits)
    tq = "q7" if bits == 8 else "q15"
    for node in graph.nodes:
        op = node.op
        if op in ("conv", "depthwise_conv", "maxpool", "avgpool"):
            geo = geometry(graph, node)
        if op == "conv":
            if bits == 8:
                node.kernel = _q7_conv(geo, quant, pad.get(node.input, 0), pad.get(node.output, 0))
            else:
                node.kernel = _q15_conv(node, geo, pad.get(node.input, 0), pad.get(node.output, 0),
                                        quant.path)
            _check_quirk(node, geo, node.kernel, quant)
            _check_dsp_limits(node, geo, quant)
        elif op == "depthwise_conv":
            if weight_bits(quant.scheme, op) != 8:
                raise UnsupportedOpError(f"layer '{node.name}': legacy CMSIS-NN has only a q7 "
                                         "depthwise convolution. help: use scheme='q7'")
            node.kernel = "arm_depthwise_separable_conv_HWC_q7" + ("" if is_square(geo) else "_nonsquare")
        elif op == "fc":
            base = {"q7": "arm_fully_connected_q7", "q15": "arm_fully_connected_q15",
                    "q7q15": "arm_fully_connected_mat_q7_vec_q15"}[quant.scheme]
            node.kernel = base + ("_opt" if fc_opt else "")
        elif op in ("maxpool", "avgpool"):
            node.kernel = _pool(node, geo, bits)
            if quant.path == "dsp" and (op == "avgpool" or geo[7] >= geo[5]):
                log.info("layer '%s': %s on the DSP path differs from the REF path here (semantics "
                         "doc §3); qsim simulates the DSP algorithm", node.name, node.kernel)
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
        elif op in ("flatten", "reshape", "transpose_hw"):
            node.kernel = None
        else:
            raise UnsupportedOpError(f"layer '{node.name}': op '{op}' has no CMSIS-NN kernel. help: "
                                     "run qsim.passes.run_pipeline(graph) (it folds batchnorm and "
                                     "removes layout transposes) before quantizing")
    return True
