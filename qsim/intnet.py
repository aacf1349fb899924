"""Build a quantized Graph from the arguments of a hand-written CMSIS-NN `run_nn()`: integer networks.

Legacy deployments (Arm's ML-KWS-for-MCU and many others) exist only as C: q7/q15 weight arrays,
`#define`d bias left-shifts and output right-shifts, and the kernel calls in order. `build(...)`
turns that into the one IR (qsim.graph) with every quantization field filled, as `qsim.quantize`
would: simulate, evaluate, report, codegen, parity and kws take it like any quantized model.

    g = build("ds_cnn", {"shape": [49, 10, 1], "bits": 8, "frac_bits": 1}, [
        {"name": "conv1", "kernel": "arm_convolve_HWC_q7_basic_nonsquare", "weight": w1,
         "bias": b1, "bias_shift": 2, "out_shift": 6, "kernel_shape": [10, 4], "strides": [2, 2],
         "pads": [4, 1], "weight_frac": 7},
        {"name": "relu1", "op": "relu"}, ...], path="dsp", release="5.9.0")

Layer fields (one dict per C call, graph order):
    name          the layer's name (any text; C names are made from it at code generation)
    kernel | op   the CMSIS-NN function (its op follows) or an op of qsim.ops (a default kernel
                  is taken: the first legal candidate of qsim.passes.choose_kernels)
    weight, bias  integers exactly as the C reads them: conv OHWI (ch_out, ky, kx, ch_in),
                  depthwise (ky, kx, ch), fc row-major (rows, dim_vec), or interleaved when the
                  kernel is an `_opt` one (qsim.kernels.INTERLEAVE). Flat or shaped.
    bias_shift, out_shift   the C call's shifts (0..31)
    kernel_shape, strides, pads ((y, x) pairs or ints; pads are the top/left padding the C takes)
    out           explicit output size (y, x) as the C call's dim_im_out; one the symmetric
                  rule does not give sets the node's pads_end (the bottom/right padding it
                  implies: TF "SAME" padding, e.g. ML-KWS's conv1 49x10 -> 25x5)
    ch_out        conv output channels (default: the bias length)
    weight_layout "c" (default: as the C reads it), "tf" or "torch" (see LAYOUTS)
    weight_frac   frac_bits of the weights when known (then every format follows, see below)
    int_width     sigmoid/tanh: the C call's int_width (checked against the input's format)
    out_lshift    an average pool on a companion kernel (qsim_avepool_{q7,q15}_HWC_nonsquare,
                  qsim_global_avepool_{q7,q15}_HWC, ML-KWS's arm_avepool_q7_HWC_nonsquare):
                  the sum's left shift, 0..31 (the output's frac_bits = the input's + out_lshift)
    count_include_pad, rounding   qsim_avepool_*_HWC_nonsquare's 0/1 arguments (default 0:
                  valid taps only, round half up; ML-KWS's pool is count_include_pad 0,
                  rounding 1 = C division toward zero)
    min_val, max_val   qsim_clip_q7/q15: the integer bounds (within the input's format)
    shape         reshape: the new shape

Formats. The input format is {"bits": 8|16, "frac_bits": f}. With f and every weighted layer's
weight_frac given, each tensor's format follows from the shifts exactly as the quantizer relates
them (fb = fi + fw - bias_shift, fo = fi + fw - out_shift): float mode, every report works.
Otherwise the network runs in integer-only mode: only the integers are known; nominal formats are
recorded so the integer pipeline (simulate, parity, codegen) runs unchanged, and
graph.meta["intnet"]["float_scale"] == "unknown" makes float-side reports say so
(`float_scale_known`). Every geometry is checked by qsim.constraints for the chosen path and
release, with the layer's name.
"""
import warnings

import numpy as np

from .cmsis_signatures import SIGNATURES
from .companion_signatures import COMPANION_SIGNATURES, ROUND_TOWARD_ZERO, signature
from .constraints import constraints
from .errors import KernelArgumentError, QuantizationError, ShapeError, UnsupportedOpError
from .fixedpoint import QFormat
from .graph import Graph, Node, QuantSettings
from .releases import DEFAULT_PATH, DEFAULT_RELEASE, check_path, release as release_of
from .kernels import DEINTERLEAVE
from .ops import OPS, ConvGeometry, out_dim

FLOAT_SCALE_UNKNOWN = "unknown"


def _op_of_kernel(kernel):
    """The IR op a CMSIS-NN function computes (None when it is not a layer function)."""
    if kernel.startswith("arm_convolve"):
        return "conv"
    if kernel.startswith("arm_depthwise"):
        return "depthwise_conv"
    if kernel.startswith("arm_fully_connected"):
        return "fc"
    if kernel.startswith("arm_relu"):
        return "relu"
    if kernel == "arm_maxpool_q7_HWC":
        return "maxpool"
    if kernel == "arm_avepool_q7_HWC":
        return "avgpool"
    if kernel.startswith("arm_softmax"):
        return "softmax"
    if kernel.startswith("arm_nn_activations_direct"):
        return "activation"
    for prefix, op in (("qsim_avepool", "avgpool"), ("qsim_global_avepool", "avgpool"),
                       ("qsim_maxpool", "maxpool"), ("qsim_depthwise", "depthwise_conv"),
                       ("qsim_clip", "clip"), ("qsim_add", "add"), ("qsim_concat", "concat")):
        if kernel.startswith(prefix):
            return op
    return None


def data_bits(kernel) -> int:
    """Bits of the activation a CMSIS-NN function reads (8 for q7_t, 16 for q15_t)."""
    a = next(a for a in signature(kernel).args if a.role in ("batched", "inout"))
    return 8 if a.ctype == "q7_t" else 16


def weight_bits_of(kernel) -> int:
    a = next((a for a in signature(kernel).args if a.role == "const"), None)
    return 8 if a is None or a.ctype == "q7_t" else 16


def float_scale_known(graph) -> bool:
    """False for an integer-only network (build without input frac_bits / weight_frac): its
    formats are nominal, so float values (dequantized outputs, SQNR) would be invented."""
    return graph.meta.get("intnet", {}).get("float_scale") != FLOAT_SCALE_UNKNOWN


def require_float_scale(graph, who):
    if not float_scale_known(graph):
        raise QuantizationError(
            f"{who}: model '{graph.name}' was imported from integers only (no input frac_bits or "
            "weight formats), so its float scale is unknown and float values would be invented. "
            "help: give the input's frac_bits and each layer's weight_frac in the import spec, or "
            "compare integers (simulate, parity, diverge)")


def _where(layer):
    return f"layer '{layer.get('name', '?')}'"


def _pair(layer, key, value, minimum):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ShapeError(f"{_where(layer)}: {key}={value!r} is not an int or a (y, x) pair") from None
    if len(value) != 2 or min(value) < minimum:
        raise ShapeError(f"{_where(layer)}: {key}={value!r} must be (y, x) with both >= {minimum}")
    return value


def _int(layer, key, lo, hi):
    v = layer.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise KernelArgumentError(f"{_where(layer)}: {key}={v!r} must be an integer in {lo}..{hi}"
                                  + (" (C leaves larger shifts undefined)" if "shift" in key else ""))
    return int(v)


def _ints(layer, key, bits, size, what):
    if key not in layer:
        raise ShapeError(f"{_where(layer)}: missing '{key}' ({what}, {size} values)")
    try:
        arr = np.asarray(layer[key])
    except (ValueError, TypeError):
        arr = np.asarray([], dtype=object)
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(np.isfinite(arr))
                                           and np.all(arr == np.round(arr))):
        raise KernelArgumentError(f"{_where(layer)}: '{key}' must hold integers, got dtype "
                                  f"{arr.dtype}" + (" with NaN or infinite values"
                                                    if arr.dtype.kind == "f" else ""))
    if arr.dtype.kind == "f" and arr.size and np.abs(arr).max() >= 2.0 ** 62:
        raise KernelArgumentError(f"{_where(layer)}: '{key}' has values up to "
                                  f"{np.abs(arr).max():.3g}, outside q{bits - 1}_t")
    arr = arr.astype(np.int64).reshape(-1)
    if arr.size != size:
        raise ShapeError(f"{_where(layer)}: '{key}' has {arr.size} values, expected {size} ({what})")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise KernelArgumentError(f"{_where(layer)}: '{key}' has values in [{arr.min()}, "
                                  f"{arr.max()}], outside q{bits - 1}_t [{lo}, {hi}]")
    return arr


def _default_kernel(layer, op, bits, geom, quant, fc_bits):
    from .passes.choose_kernels import DEPTHWISE, Q7_CONV, Q15_CONV
    tq = "q7" if bits == 8 else "q15"
    if op == "depthwise_conv" and bits == 16:
        return "qsim_depthwise_conv_HWC_q15_nonsquare"
    if op in ("conv", "depthwise_conv"):
        cands = DEPTHWISE if op == "depthwise_conv" else (Q7_CONV if bits == 8 else Q15_CONV)
        for fn in cands:
            if not constraints(fn, geom, quant.path, quant.version):
                return fn
        raise UnsupportedOpError(f"{_where(layer)}: no legal CMSIS-NN function for this {op} "
                                 f"({geom.describe()}); help: name the kernel in the spec")
    if op == "fc":
        if bits == 16 and fc_bits == 8:
            return "arm_fully_connected_mat_q7_vec_q15"
        return f"arm_fully_connected_{tq}"
    return {"relu": f"arm_relu_{tq}", "sigmoid": f"arm_nn_activations_direct_{tq}",
            "tanh": f"arm_nn_activations_direct_{tq}", "maxpool": "arm_maxpool_q7_HWC",
            "avgpool": "arm_avepool_q7_HWC", "clip": f"qsim_clip_{tq}",
            "softmax": "arm_softmax_q7" if bits == 8 else "arm_softmax_q15"}.get(op)


def _softmax_kernel(kernel, in_shape, bits):
    if kernel is None and bits == 8 and len(in_shape) > 1:
        return "arm_softmax_with_batch_q7"
    return kernel


# Functions of ML-KWS-for-MCU's own NN code (not CMSIS-NN): C name -> (IR op, the companion
# kernel computing the same bytes, its fixed arguments). arm_avepool_q7_HWC_nonsquare averages the
# valid taps only, divides toward zero (C's `/`) and shifts the sum left by its last argument,
# out_lshift (the output's frac_bits = the input's + out_lshift).
MLKWS_KERNELS = {"arm_avepool_q7_HWC_nonsquare":
                 ("avgpool", "qsim_avepool_q7_HWC_nonsquare", {"count_include_pad": 0, "rounding": 1})}


def _mlkws_kernel(layer, kernel, op):
    kop, companion, fixed = MLKWS_KERNELS[kernel]
    if op is not None and op != kop:
        raise ShapeError(f"{_where(layer)}: op '{op}' does not match kernel {kernel} ({kop})")
    for key, v in fixed.items():
        if key in layer and layer[key] != v:
            raise KernelArgumentError(
                f"{_where(layer)}: {kernel} always has {key}={v} (it is qsim's {companion} with "
                f"{', '.join(f'{k}={x}' for k, x in fixed.items())}), got {key}={layer[key]!r}. "
                f"help: drop '{key}', or name the kernel {companion} to choose it")
    return kop, companion


# Companion kernels a chain of single-input layers cannot hold.
_MULTI_INPUT = ("add", "concat")


def _resolve(layer, bits):
    """(op, kernel or None) of a layer dict; kernel None means 'choose a default'."""
    kernel, op = layer.get("kernel"), layer.get("op")
    if isinstance(kernel, str) and kernel in MLKWS_KERNELS:
        return _mlkws_kernel(layer, kernel, op)
    if kernel is not None:
        if not isinstance(kernel, str) or (kernel not in SIGNATURES
                                           and kernel not in COMPANION_SIGNATURES):
            raise UnsupportedOpError(
                f"{_where(layer)}: kernel {kernel!r} is not a legacy CMSIS-NN layer function or "
                "a qsim companion kernel. help: one of " + ", ".join(
                    sorted(k for k in list(SIGNATURES) + list(COMPANION_SIGNATURES)
                           if _op_of_kernel(k)) + list(MLKWS_KERNELS)))
        kop = _op_of_kernel(kernel)
        if kop is None:
            raise UnsupportedOpError(f"{_where(layer)}: {kernel} is a support function, not a layer")
        if kop in _MULTI_INPUT:
            raise UnsupportedOpError(
                f"{_where(layer)}: {kernel} ({kop}) takes several inputs; the integer-network "
                "builder makes a chain of single-input layers. help: build the graph with "
                "qsim.graph and qsim.quantize instead")
        if kop == "activation":
            kop = op if op in ("sigmoid", "tanh") else {0: "sigmoid", 1: "tanh"}.get(layer.get("type"))
            if kop is None:
                raise ShapeError(f"{_where(layer)}: {kernel} needs op 'sigmoid' or 'tanh' (or type "
                                 "0 / 1, the C's arm_nn_activation_type)")
        if op is not None and op != kop:
            raise ShapeError(f"{_where(layer)}: op '{op}' does not match kernel {kernel} ({kop})")
        if data_bits(kernel) != bits:
            raise KernelArgumentError(f"{_where(layer)}: {kernel} reads q{data_bits(kernel) - 1}_t, "
                                      f"but the network's activations are q{bits - 1}_t")
        return kop, kernel
    if op not in OPS or OPS[op].transient:
        raise UnsupportedOpError(f"{_where(layer)}: give 'kernel' (a CMSIS-NN function) or 'op' "
                                 f"(one of {sorted(k for k in OPS if not OPS[k].transient)}), "
                                 f"got op={op!r}")
    return op, None


def _window(layer, op, in_shape, kernel):
    """(kernel_shape, strides, pads, pads_end) of a window layer. An explicit output size `out`
    that the symmetric rule does not give is the C's asymmetric (TF "SAME") padding: the bottom /
    right padding is what that output size implies (taps past the edge read zeros or are
    skipped), so pads_end = (out - 1) * stride + k - in - pad per axis."""
    if len(in_shape) != 3:
        raise ShapeError(f"{_where(layer)}: {op} needs an HWC image input, got shape {in_shape}")
    k = _pair(layer, "kernel_shape", layer.get("kernel_shape"), 1)
    s = _pair(layer, "strides", layer.get("strides", k if op.endswith("pool") else 1), 1)
    p = _pair(layer, "pads", layer.get("pads", 0), 0)
    if p[0] >= k[0] or p[1] >= k[1]:
        raise ShapeError(f"{_where(layer)}: pads {p} must be smaller than kernel_shape {k}")
    natural = tuple(out_dim(n, kk, ss, pp) for n, kk, ss, pp in zip(in_shape[:2], k, s, p))
    if min(natural) < 1:
        raise ShapeError(f"{_where(layer)}: kernel {k} with pads {p} does not fit the input {in_shape}")
    if "out" not in layer:
        return k, s, p, p
    out = _pair(layer, "out", layer["out"], 1)
    end = tuple(max((o - 1) * ss + kk - n - pp, 0)
                for o, n, kk, ss, pp in zip(out, in_shape[:2], k, s, p))
    got = tuple(out_dim(n, kk, ss, pp, p_end=e)
                for n, kk, ss, pp, e in zip(in_shape[:2], k, s, p, end))
    if got != out or end[0] >= k[0] or end[1] >= k[1]:
        raise ShapeError(
            f"{_where(layer)}: output {out} does not follow from input {tuple(in_shape[:2])}, "
            f"kernel {k}, stride {s} and top/left padding {p} with any bottom/right padding "
            f"0..kernel-1 (no padding gives {natural}). help: check dim_im_out against the other "
            "geometry arguments")
    return k, s, p, end


def build(name, input_spec, layers, path=DEFAULT_PATH, release=DEFAULT_RELEASE, truncate=False):
    """A quantized Graph from C-call arguments (see the module doc); raises a QsimError naming the
    layer for any argument the C would refuse or qsim cannot represent."""
    from .validate import check_name            # validate reads the IR: no cycle at import
    check_path(path)
    release = release_of(release).name          # UnknownRelease names the modelled tags
    check_name(name, "network")
    if not isinstance(input_spec, dict) or "shape" not in input_spec:
        raise ShapeError("the input needs {'shape': [H, W, C] or [n], 'bits': 8|16, "
                         "'frac_bits': f (optional)}")
    shape = input_spec["shape"]
    if (not isinstance(shape, (list, tuple)) or len(shape) not in (1, 3)
            or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                       for d in shape)):
        raise ShapeError(f"input shape {shape!r} must be [H, W, C] (HWC) or [n], positive ints")
    bits = input_spec.get("bits", 8)
    if bits not in (8, 16):
        raise ShapeError(f"input bits must be 8 (q7_t) or 16 (q15_t), got {bits!r}")
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ShapeError("the network needs at least one layer")
    names = [l.get("name") if isinstance(l, dict) else None for l in layers]
    for i, n in enumerate(names):
        if not isinstance(n, str) or not n:
            raise ShapeError(f"layer {i}: every layer needs a non-empty 'name'")
        check_name(n, f"layer {i}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ShapeError(f"layer names used twice: {dup}")
    fi_given = input_spec.get("frac_bits")
    if fi_given is not None and (isinstance(fi_given, bool) or not isinstance(fi_given, (int, np.integer))):
        raise ShapeError(f"input frac_bits must be an int, got {fi_given!r}")
    for layer in layers:
        for key in ("weight_frac", "ch_out", "int_width", "type"):
            if key in layer:
                _int(layer, key, -64 if key == "weight_frac" else 0, 64 if key == "weight_frac"
                     else 1 << 16)
        if "shape" in layer and (not isinstance(layer["shape"], (list, tuple)) or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                for d in layer["shape"])):
            raise ShapeError(f"{_where(layer)}: shape {layer['shape']!r} must be a list of "
                             "positive ints")
    resolved = [_resolve(l, bits) for l in layers]
    known = fi_given is not None and all(
        "weight_frac" in l for l, (op, _) in zip(layers, resolved) if OPS[op].weighted)
    quant = QuantSettings(None, path, release, bool(truncate))
    fc_bits = {weight_bits_of(k) for (op, k) in resolved if op == "fc" and k}
    scheme = "q7" if bits == 8 else ("q7q15" if 8 in fc_bits else "q15")
    quant.scheme = scheme

    g = Graph(name)
    g.quant = quant
    in_name = str(input_spec.get("name", "input"))
    check_name(in_name, "input")
    g.add_input(in_name, tuple(input_spec["shape"]))
    fi = int(fi_given) if fi_given is not None else _nominal_input(layers, resolved, bits)
    g.tensors[in_name].qformat = QFormat(bits, fi)
    cur = in_name
    for i, (layer, (op, kernel)) in enumerate(zip(layers, resolved)):
        in_shape = g.tensors[cur].shape
        fi = g.tensors[cur].qformat.frac_bits
        node = Node(layer["name"], op, [cur], [f"{layer['name']}:out"])
        geom = None
        if OPS[op].window:
            k, s, p, end = _window(layer, op, in_shape, kernel)
            node.attrs.update(kernel_shape=k, strides=s, pads=p)
            if end != p:
                node.attrs["pads_end"] = end
        if OPS[op].weighted:
            if op == "fc" and kernel is None:
                kernel = _default_kernel(layer, op, bits, None, quant,
                                         8 if scheme == "q7q15" else bits)
            _weighted(layer, node, op, kernel, in_shape, bits, known, fi, layers[i + 1:],
                      resolved[i + 1:])
        elif op == "reshape":
            node.attrs["shape"] = tuple(layer.get("shape", ()))
        elif op == "clip":
            _clip_attrs(layer, node, bits, fi)
        lshift = _avgpool_attrs(layer, node, kernel) if op == "avgpool" else 0
        g.add_node(node)
        if OPS[op].window:
            geom = ConvGeometry.of(g, node)
            kernel = kernel or _default_kernel(layer, op, bits, geom, quant, bits)
            _check_geometry(layer, kernel, geom, quant, node)
        elif not OPS[op].weighted and not OPS[op].data_move:
            if op == "softmax":
                kernel = _softmax_kernel(kernel, in_shape, bits)
            kernel = kernel or _default_kernel(layer, op, bits, None, quant, bits)
        if kernel and data_bits(kernel) != bits:
            raise UnsupportedOpError(f"{_where(layer)}: {kernel} reads q{data_bits(kernel) - 1}_t, "
                                     f"the network's activations are q{bits - 1}_t (legacy CMSIS-NN "
                                     "has no q15 pooling or depthwise convolution)")
        node.kernel = kernel
        out = node.output
        if OPS[op].keeps_format:
            fo = fi + lshift
        elif OPS[op].fixed_output:
            fo = bits - 1
            if op in ("sigmoid", "tanh"):
                _check_int_width(layer, bits, fi, known)
        else:
            fo = fi + node.weight_q.frac_bits - node.out_shift
        g.tensors[out].qformat = QFormat(bits, fo)
        cur = out
    g.outputs = [cur]
    g.meta["intnet"] = {"float_scale": "known" if known else FLOAT_SCALE_UNKNOWN,
                        "source": "C call arguments"}
    g.meta["quantize"] = {"fc_opt": any(str(n.kernel).endswith("_opt") for n in g.nodes)}
    g.validate()
    from .lower import kernel_call
    for node in g.nodes:            # the C types of every scalar argument (uint16_t sizes, ...)
        kernel_call(g, node)
    return g


def _nominal_input(layers, resolved, bits):
    """Integer-only mode: the input's nominal frac_bits (what a following sigmoid/tanh's int_width
    demands, else bits-1)."""
    for layer, (op, _) in zip(layers, resolved):
        if op in ("sigmoid", "tanh") and "int_width" in layer:
            return bits - 1 - int(layer["int_width"])
        if not OPS[op].keeps_format:
            break
    return bits - 1


def _target_out(rest, resolved_rest, bits):
    """Integer-only mode: the output frac_bits a weighted layer should get so that a following
    sigmoid/tanh (through format-keeping ops) sees its int_width; None = free."""
    for layer, (op, _) in zip(rest, resolved_rest):
        if op in ("sigmoid", "tanh") and "int_width" in layer:
            return bits - 1 - int(layer["int_width"])
        if not OPS[op].keeps_format:
            return None
    return None


def _check_int_width(layer, bits, fi, known):
    want = bits - 1 - fi
    if "int_width" in layer and int(layer["int_width"]) != want:
        raise QuantizationError(
            f"{_where(layer)}: int_width {layer['int_width']} does not match its input format "
            f"Q.{fi} (int_width {want}, from the shifts" + (" and weight formats)" if known else ")")
            + ". help: check the previous layer's out_shift and weight_frac")
    if not 0 <= want <= 3:
        raise QuantizationError(f"{_where(layer)}: int_width {want} is outside 0..3, which "
                                "arm_nn_activations_direct takes")


def _weighted(layer, node, op, kernel, in_shape, bits, known, fi, rest, resolved_rest):
    """Weights / bias as IR float params on their exact grid, formats and shifts of a conv / fc."""
    wb = weight_bits_of(kernel) if kernel else bits     # conv: a default kernel comes later
    bias_shift = _int(layer, "bias_shift", 0, 31)
    out_shift = _int(layer, "out_shift", 0, 31)
    if op == "fc":
        dim = int(np.prod(in_shape))
        b = _ints(layer, "bias", wb, _len(layer, "bias"), "one per output row")
        rows = b.size
        w = _ints(layer, "weight", wb, rows * dim, f"num_of_rows {rows} x dim_vec {dim}")
        layout = _layout(layer, "fc", kernel)
        if layout == "c" and kernel in DEINTERLEAVE:
            w = np.asarray(DEINTERLEAVE[kernel](w.astype(np.int8 if wb == 8 else np.int16), rows, dim))
        w = w.reshape(dim, rows).T if layout == "tf" else w.reshape(rows, dim)
    else:
        (ky, kx), ci = node.attrs["kernel_shape"], in_shape[-1]
        if op == "depthwise_conv":
            co = ci
            b = _ints(layer, "bias", wb, co, "one per channel")
            w = _ints(layer, "weight", wb, ky * kx * ci,
                      f"kernel {ky}x{kx} x {ci} channels")
            w = (w.reshape(ci, ky, kx).transpose(1, 2, 0) if _layout(layer, op, kernel) == "torch"
                 else w.reshape(ky, kx, ci))
        else:
            co = int(layer.get("ch_out", _len(layer, "bias")))
            b = _ints(layer, "bias", wb, co, "one per output channel")
            w = _ints(layer, "weight", wb, co * ky * kx * ci,
                      f"ch_out {co} x kernel {ky}x{kx} x ch_in {ci}")
            layout = _layout(layer, op, kernel)
            w = (w.reshape(ky, kx, ci, co).transpose(3, 0, 1, 2) if layout == "tf" else
                 w.reshape(co, ci, ky, kx).transpose(0, 2, 3, 1) if layout == "torch" else
                 w.reshape(co, ky, kx, ci))
    if known:
        fw = int(layer["weight_frac"])
    else:
        target = _target_out(rest, resolved_rest, bits)
        fo = fi if target is None else target
        fw = fo - fi + out_shift
    fb = fi + fw - bias_shift
    node.weight_q, node.bias_q = QFormat(wb, fw), QFormat(wb, fb)
    node.bias_shift, node.out_shift = bias_shift, out_shift
    node.params["weight"] = w.astype(np.float64) * 2.0 ** -fw
    node.params["bias"] = b.astype(np.float64) * 2.0 ** -fb


# weight_layout of a layer: "c" = as the C function reads it (default), "tf" = TensorFlow
# ([KH, KW, Cin, Cout] conv, [KH, KW, C, 1] depthwise, [in, out] dense), "torch" = PyTorch
# ([Cout, Cin, KH, KW] conv, [C, 1, KH, KW] depthwise, [out, in] linear, never interleaved).
LAYOUTS = ("c", "tf", "torch")


def _layout(layer, op, kernel):
    layout = layer.get("weight_layout", "c")
    if layout not in LAYOUTS:
        raise ShapeError(f"{_where(layer)}: weight_layout {layout!r} is not one of {LAYOUTS}")
    if op == "depthwise_conv" and layout == "tf":
        return "c"
    if op == "fc" and layout == "torch":
        return "rows"
    return layout


def _len(layer, key):
    try:
        return int(np.asarray(layer[key]).size)
    except KeyError:
        raise ShapeError(f"{_where(layer)}: missing '{key}'") from None
    except (ValueError, TypeError):         # ragged nested lists: numpy refuses them
        raise ShapeError(f"{_where(layer)}: '{key}' is a ragged list; give one flat list of "
                         "integers") from None


def _avgpool_attrs(layer, node, kernel):
    """count_include_pad / rounding attributes and out_lshift (returned) of an average pool: the
    arguments of a companion kernel call, which qsim.lower derives back from the node (out_lshift
    = output frac_bits - input frac_bits)."""
    companion = isinstance(kernel, str) and kernel in COMPANION_SIGNATURES
    names = {a.name for a in COMPANION_SIGNATURES[kernel].args} if companion else set()
    for key in ("out_lshift", "count_include_pad", "rounding"):
        if key in layer and key not in names:
            raise KernelArgumentError(
                f"{_where(layer)}: {kernel or 'the default kernel'} takes no {key} (" + (
                    "qsim_global_avepool_* averages the whole image, half up" if companion else
                    "CMSIS-NN's average keeps the input format, valid taps, half up") +
                "). help: name qsim_avepool_q7_HWC_nonsquare (or _q15_) as the kernel")
    fixed = MLKWS_KERNELS.get(layer.get("kernel"), (None, None, {}))[2]
    for key in ("count_include_pad", "rounding"):
        if key in names:
            v = _int(dict(layer, **{key: layer.get(key, fixed.get(key, 0))}), key, 0, 1)
            if v:
                node.attrs[key] = 1
    if "out_lshift" in names:
        return _int(dict(layer, out_lshift=layer.get("out_lshift", 0)), "out_lshift", 0, 31)
    return 0


def _clip_attrs(layer, node, bits, fi):
    """qsim_clip's integer bounds as the float min/max the quantizer rounds back to them
    (choose_kernels.clip_bounds: exact, they are on the input's grid)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    for key in ("min_val", "max_val"):
        if key not in layer:
            raise ShapeError(f"{_where(layer)}: a clip needs 'min_val' and 'max_val' (the C call's "
                             f"integer bounds in q{bits - 1}_t)")
    a, b = _int(layer, "min_val", lo, hi), _int(layer, "max_val", lo, hi)
    if not a < b:
        raise KernelArgumentError(f"{_where(layer)}: min_val {a} must be below max_val {b}")
    node.attrs.update(min=a * 2.0 ** -fi, max=b * 2.0 ** -fi)


def _check_geometry(layer, kernel, geom, quant, node=None):
    if kernel in COMPANION_SIGNATURES:      # same bytes on every path and release
        from .passes.choose_kernels import is_global
        if kernel.startswith("qsim_global") and not is_global(node, geom):
            raise KernelArgumentError(
                f"{_where(layer)}: {kernel} averages the whole image once, but the layer's window "
                f"is {geom.describe()}. help: use qsim_avepool_q7_HWC_nonsquare (or _q15_)")
        return
    for r in constraints(kernel, geom, quant.path, quant.version):
        if r.kind == "wrong":
            warnings.warn(f"{_where(layer)}: {kernel} {r} (qsim simulates it exactly). help: {r.fix}",
                          UserWarning, stacklevel=4)
        else:
            raise KernelArgumentError(f"{_where(layer)}: {kernel} {r}; for {geom.describe()} on path "
                                      f"'{quant.path}' of CMSIS {quant.version}. help: {r.fix}")
