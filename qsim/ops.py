"""The op catalog: for every op the IR knows, its attributes (with defaults), its parameters and
its shape inference.

Shapes never include the batch axis. In an HWC graph (the normal case) a 3-D activation is
(H, W, C); in the transient CHW graph the ONNX importer builds before `passes.to_hwc` it is
(C, H, W) and weights keep ONNX's layouts (conv OIHW, depthwise (C, 1, KY, KX)). `infer` handles
both by converting CHW shapes to HWC at its boundary, so each op's geometry is written once.

Geometry (all conv/pool ops, matching CMSIS-NN's legacy kernels, semantics doc §0.5):
    out = floor((in + pad_begin + pad_end - k) / stride) + 1   per axis, pad < k
`pads` is (top, left); `pads_end` (bottom, right) is absent for symmetric padding (pads_end ==
pads). The C kernels take the top/left padding and an explicit output size, which is exactly an
asymmetric (TF "SAME") padding: taps past the bottom/right edge read zeros (conv) or are skipped
(pool). Pooling sees only the valid taps unless avgpool's count_include_pad is 1 (then the divisor
is the whole window clipped to the padded image, ONNX's rule).

Ops and attributes (tuples are (y, x) = (rows, columns)):
    conv            kernel_shape, strides=(1,1), pads=(0,0); weight (Co,KY,KX,Ci), bias (Co,)
    depthwise_conv  kernel_shape, strides, pads; weight (KY,KX,C), bias (C,); multiplier 1
    fc              weight (rows, dim_in), bias (rows,); any input whose size is dim_in (the
                    columns follow the flattened HWC input); output (rows,)
    relu, sigmoid, tanh                elementwise
    maxpool, avgpool kernel_shape, strides=kernel_shape, pads=(0,0), ceil_mode (optional, absent
                    = floor): out = ceil((in + 2*pad - k) / stride) + 1, less one if the last
                    window would start in the bottom/right padding (ONNX / PyTorch / Caffe's rule;
                    CMSIS-NN's CIFAR-10 example pools 32 -> 16 with k 3, stride 2, pad 0). The
                    extra window is clipped to the image like any other: valid taps only.
                    avgpool also: count_include_pad, rounding (optional, absent = 0 = the
                    quantized average rounds half up; 1 = C division toward zero, ML-KWS-for-
                    MCU's arm_avepool_q7_HWC_nonsquare; only qsim_avepool_*_HWC_nonsquare has it)
    softmax         axis=-1 (non-batch axis; HWC graphs use the channel axis)
    clip            min, max (floats, min < max): elementwise bound (ReLU6 = clip(0, 6))
    add             two inputs of the same shape: elementwise sum (residual blocks)
    concat          axis=-1 (non-batch axis in the graph's layout): two or more inputs that
                    agree on every other axis
    flatten         output (size,)
    reshape         shape (non-batch target shape, fully resolved, no -1/0)
    batchnorm       epsilon=1e-5; scale, bias, mean, var (C,) (transient, folded away)
    transpose       perm (non-batch axes) (transient: to_hwc removes the NCHW<->NHWC ones)
    transpose_hw    (H, W, C) -> (W, H, C): swaps the two spatial axes, a real data move that
                    stays in quantized graphs (inserted by passes.transpose_hw.swap_hw)
    requantize      bits (8 or 16: the output's storage width): elementwise change of storage
                    width and format between layers of different precision (q7 <-> q15, saturating,
                    round half up); only in quantized graphs, inserted by qsim.quantize for
                    `layer_bits` (qsim.passes.precision); its float meaning is the identity

Each op's traits (weighted, keeps_format, fixed_output, pass_through, data_move, elementwise,
window, channel_axis, absorbs_pad, transient; see OpSpec) are declared once, on its entry in OPS,
and every stage asks them (`OPS[node.op].weighted`); no stage keeps its own tuple of op names.
Window ops share one geometry record, ConvGeometry, used by kernel choice, lowering, the kernels'
refusals (qsim.constraints) and the readable twins (kernels_ref).

Adding an op. What still names ops one by one is behaviour, one table or branch per stage; a new
op touches (counted 2026-12, qsim only, tests not counted):
  always (8)
    1 qsim/ops.py                     its OpSpec (attributes, params, traits) and shape rule in `infer`
    2 qsim/importers/onnx_handlers.py HANDLERS: ONNX op_type -> IR node
    3 qsim/importers/spec.py          a Sequential method (tests, examples)
    4 qsim/float_exec.py              FORWARD: the float function
    5 qsim/train/layers.py            LAYERS: float forward + gradient for training
    6 qsim/exporters/onnx_export.py   EXPORTERS: IR node -> ONNX
    7 qsim/passes/choose_kernels.py   the CMSIS-NN function(s) it becomes (candidates in order)
    8 qsim/lower.py                   kernel_call: its C arguments (nothing for a data_move)
  only where its traits do not already say it (up to 5)
    9 qsim/passes/to_hwc.py           a CHW -> HWC rule, unless elementwise or window
   10 qsim/passes/transpose_hw.py     an H/W swap rule, unless elementwise or window
   11 qsim/quantize.py                a format rule, unless weighted / keeps_format / fixed_output
   12 qsim/qat/layers.py              a fixed-point layer, unless the float layer is exact on grid values
   13 codegen/emit_network.py         the C loop of a data_move "copy"
  a new CMSIS-NN function besides: qsim/cmsis_signatures.py, qsim/kernels/<file>.py (+ KERNELS),
  kernels_ref/<file>.py, and for a window function its rules in qsim/constraints.py.
requantize (mixed precision, 2026-12) touched: ops.py, float_exec.py (identity), passes/precision.py
(new: widths and insertion), passes/choose_kernels.py, quantize.py (its format rule), lower.py,
validate.py, codegen/call_templates.py (arm_q7_to_q15_no_shift), codegen/emit_network.py (its
include), transpose_hw.match_float_graph (float traces pair up), qat/layers.py (QRequantize); no
importer, spec, training or exporter entry (it exists only in quantized graphs).
(Before the traits moved here: 7 more files kept op lists: quantize KEEP_FORMAT/FIXED_OUTPUT,
schemes WEIGHTED, simulate _REQUANT, choose_kernels PASS_THROUGH, lower DATA_MOVES,
fold_batchnorm _CHANNEL_AXIS, transpose_hw _SPATIAL, plus profile/report/qat/codegen readers.)
"""
from dataclasses import dataclass, field
from math import prod
from typing import NamedTuple, Optional

from .errors import ShapeError, UnsupportedOpError

REQUIRED = object()
OPTIONAL = object()     # attribute default: left absent (keeps existing graphs' digests unchanged)


@dataclass(frozen=True)
class OpSpec:
    """One op of the IR: its attributes and parameter arrays, and the traits every stage reads.

    Traits (declared here once; no stage keeps its own list of ops):
        weighted        has weight and bias arrays, requantized by bias_shift / out_shift
        keeps_format    output shares the input's QFormat (in place in C, or a plain copy)
        fixed_output    output QFormat fixed by the function: Q0.(bits-1)
        pass_through    channel axis last in and out, per channel: a zero padding channel passes
                        through unchanged (and stays zero)
        data_move       no CMSIS call: "view" (same bytes, new shape) or "copy" (a C copy loop)
        elementwise     per value, any shape
        window          conv-style window op: kernel_shape, strides, pads, a ConvGeometry
        channel_axis    axis of the HWC-layout weight that indexes output channels (None: not
                        weighted), where fold_batchnorm scales
        n_inputs        how many inputs a node takes (1; add 2; None = two or more, concat)
        absorbs_pad     reads extra zero input channels through zero weight columns (channel
                        padding for a _fast kernel, see passes.choose_kernels and lower.py)
        transient       removed by the passes before quantization (no kernel)
    """
    name: str
    attrs: dict = field(default_factory=dict)   # attr name -> default (REQUIRED: must be given)
    params: tuple = ()                          # required parameter arrays
    doc: str = ""
    weighted: bool = False
    keeps_format: bool = False
    fixed_output: bool = False
    pass_through: bool = False
    data_move: Optional[str] = None
    elementwise: bool = False
    window: bool = False
    channel_axis: Optional[int] = None
    absorbs_pad: bool = False
    transient: bool = False
    n_inputs: Optional[int] = 1     # inputs a node takes (None: two or more)


_GEOM = {"kernel_shape": REQUIRED, "strides": (1, 1), "pads": (0, 0), "pads_end": OPTIONAL}
_POOL = {"kernel_shape": REQUIRED, "strides": None, "pads": (0, 0), "pads_end": OPTIONAL,
         "ceil_mode": OPTIONAL}
_ACT = dict(elementwise=True, pass_through=True)
OPS = {s.name: s for s in (
    OpSpec("conv", dict(_GEOM), ("weight", "bias"), "2-D convolution, HWC, weight OHWI",
           weighted=True, window=True, channel_axis=0, absorbs_pad=True),
    OpSpec("depthwise_conv", dict(_GEOM), ("weight", "bias"), "depthwise conv, multiplier 1",
           weighted=True, window=True, channel_axis=2),
    OpSpec("fc", {}, ("weight", "bias"), "fully connected, weight (rows, dim_in)",
           weighted=True, channel_axis=0, absorbs_pad=True),
    OpSpec("relu", keeps_format=True, **_ACT),
    OpSpec("sigmoid", fixed_output=True, **_ACT),
    OpSpec("tanh", fixed_output=True, **_ACT),
    OpSpec("maxpool", dict(_POOL), keeps_format=True, pass_through=True, window=True),
    OpSpec("avgpool", dict(_POOL, count_include_pad=OPTIONAL, rounding=OPTIONAL), keeps_format=True,
           pass_through=True, window=True),
    OpSpec("softmax", {"axis": -1}, fixed_output=True),
    OpSpec("clip", {"min": REQUIRED, "max": REQUIRED}, (), "elementwise bound; ReLU6 = clip(0, 6)",
           keeps_format=True, **_ACT),
    OpSpec("add", {}, (), "elementwise sum of two inputs of one shape", n_inputs=2),
    OpSpec("concat", {"axis": -1}, (), "join inputs along one axis", n_inputs=None),
    OpSpec("flatten", keeps_format=True, data_move="view"),
    OpSpec("reshape", {"shape": REQUIRED}, keeps_format=True, data_move="view"),
    OpSpec("batchnorm", {"epsilon": 1e-5}, ("scale", "bias", "mean", "var"), transient=True),
    OpSpec("transpose", {"perm": REQUIRED}, transient=True),
    OpSpec("transpose_hw", {}, (), "swap H and W of an HWC image (a copy in C, no CMSIS call)",
           keeps_format=True, pass_through=True, data_move="copy"),
    OpSpec("requantize", {"bits": REQUIRED}, (), "q7 <-> q15 storage change (mixed precision)",
           **_ACT),
)}
# Attributes later stages may attach to any node without the catalog rejecting them as typos;
# names starting with "_" are free too. Add a new stage-owned attribute here.
FREE_ATTRS = ("fused_relu",)


class ConvGeometry(NamedTuple):
    """The geometry of one window op (conv, depthwise_conv, pooling) or CMSIS-NN call, in HWC.

    The one definition: kernel choice, lowering, the numba kernels' refusals and the readable
    twins all read these named fields. Field order is fixed (the numba loops take the first
    eleven as a plain tuple, `loop_args`).
    """
    in_y: int
    in_x: int
    ch_in: int
    k_y: int
    k_x: int
    pad_y: int
    pad_x: int
    stride_y: int
    stride_x: int
    out_y: int
    out_x: int
    ch_out: int

    @classmethod
    def of(cls, graph, node):
        """Geometry of a window node of an HWC graph (shapes from its tensors)."""
        in_y, in_x, ch_in = graph.tensors[node.input].shape
        out_y, out_x, ch_out = graph.tensors[node.output].shape
        (k_y, k_x), (pad_y, pad_x), (s_y, s_x) = (node.attrs[k] for k in
                                                  ("kernel_shape", "pads", "strides"))
        return cls(in_y, in_x, ch_in, k_y, k_x, pad_y, pad_x, s_y, s_x, out_y, out_x, ch_out)

    @classmethod
    def from_args(cls, a):
        """Geometry of a C call's arguments: square (dim_im_in, dim_kernel, padding, stride,
        dim_im_out) or _nonsquare (..._x / ..._y); pooling has no ch_im_out (= ch_im_in)."""
        ch_in = a["ch_im_in"]
        ch_out = a["ch_im_out"] if "ch_im_out" in a else ch_in
        if "dim_im_in" in a:
            d, k, p, s, o = (a[n] for n in ("dim_im_in", "dim_kernel", "padding", "stride",
                                            "dim_im_out"))
            return cls(d, d, ch_in, k, k, p, p, s, s, o, o, ch_out)
        return cls(a["dim_im_in_y"], a["dim_im_in_x"], ch_in, a["dim_kernel_y"], a["dim_kernel_x"],
                   a["padding_y"], a["padding_x"], a["stride_y"], a["stride_x"], a["dim_im_out_y"],
                   a["dim_im_out_x"], ch_out)

    def c_args(self, square):
        """The C geometry arguments (without channels): the inverse of `from_args`."""
        if square:
            return dict(dim_im_in=self.in_y, dim_kernel=self.k_y, padding=self.pad_y,
                        stride=self.stride_y, dim_im_out=self.out_y)
        return dict(dim_im_in_x=self.in_x, dim_im_in_y=self.in_y, dim_kernel_x=self.k_x,
                    dim_kernel_y=self.k_y, padding_x=self.pad_x, padding_y=self.pad_y,
                    stride_x=self.stride_x, stride_y=self.stride_y, dim_im_out_x=self.out_x,
                    dim_im_out_y=self.out_y)

    @property
    def square(self) -> bool:
        """True if image, kernel, padding and stride are the same along y and x."""
        return (self.in_y == self.in_x and self.k_y == self.k_x and self.pad_y == self.pad_x
                and self.stride_y == self.stride_x)

    def axes(self):
        """((name, in, k, pad, stride, out) for y, then x)."""
        return (("y", self.in_y, self.k_y, self.pad_y, self.stride_y, self.out_y),
                ("x", self.in_x, self.k_x, self.pad_x, self.stride_x, self.out_x))

    def loop_args(self):
        """The first eleven fields as plain ints, what the numba loops take."""
        return tuple(int(v) for v in self[:11])

    def describe(self) -> str:
        return (f"input {self.in_y}x{self.in_x}x{self.ch_in} (HxWxC), kernel {self.k_y}x{self.k_x}, "
                f"stride {self.stride_y}x{self.stride_x}, pad {self.pad_y}x{self.pad_x}, output "
                f"{self.out_y}x{self.out_x}x{self.ch_out}")


def _where(node):
    return f"node '{node.name}' ({node.op})"


def _pair(node, key, value, minimum):
    if isinstance(value, int):
        value = (value, value)
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ShapeError(f"{_where(node)}: attribute {key}={value!r} is not a pair of "
                         "ints") from None
    if len(value) != 2 or min(value) < minimum:
        raise ShapeError(f"{_where(node)}: attribute {key}={value!r} must be (y, x) with both "
                         f">= {minimum}")
    return value


def normalize(node):
    """Check the node's op and attributes, fill defaults, turn lists into tuples (in place)."""
    spec = OPS.get(node.op)
    if spec is None:
        raise UnsupportedOpError(f"{_where(node)}: unknown op; the IR supports {sorted(OPS)}")
    unknown = set(node.attrs) - set(spec.attrs)
    if unknown and not all(k.startswith("_") or k in FREE_ATTRS for k in unknown):
        raise UnsupportedOpError(f"{_where(node)}: unexpected attributes {sorted(unknown)}; "
                                 f"{node.op} takes {sorted(spec.attrs) or 'none'}")
    for key, default in spec.attrs.items():
        if key not in node.attrs:
            if default is OPTIONAL:
                continue
            if default is REQUIRED:
                raise ShapeError(f"{_where(node)}: missing attribute {key!r}")
            node.attrs[key] = default
    if "kernel_shape" in spec.attrs:
        k = node.attrs["kernel_shape"] = _pair(node, "kernel_shape", node.attrs["kernel_shape"], 1)
        if node.attrs["strides"] is None:
            node.attrs["strides"] = k
        node.attrs["strides"] = _pair(node, "strides", node.attrs["strides"], 1)
        p = node.attrs["pads"] = _pair(node, "pads", node.attrs["pads"], 0)
        if "pads_end" in node.attrs:
            e = node.attrs["pads_end"] = _pair(node, "pads_end", node.attrs["pads_end"], 0)
            if e == p:
                del node.attrs["pads_end"]          # symmetric: one spelling only
        for key in ("pads", "pads_end"):
            q = node.attrs.get(key, p)
            if q[0] >= k[0] or q[1] >= k[1]:
                raise ShapeError(f"{_where(node)}: {key} {q} must be smaller than kernel_shape "
                                 f"{k} (a window made only of padding has no value)")
    for key in ("ceil_mode", "count_include_pad", "rounding"):
        if key in node.attrs:
            if node.attrs[key]:
                node.attrs[key] = 1
            else:
                del node.attrs[key]
    if node.op == "clip":
        try:
            lo, hi = float(node.attrs["min"]), float(node.attrs["max"])
        except (TypeError, ValueError):
            raise ShapeError(f"{_where(node)}: min/max must be numbers") from None
        if not lo < hi or lo != lo or hi != hi:
            raise ShapeError(f"{_where(node)}: needs min < max, got min={lo}, max={hi}")
        node.attrs["min"], node.attrs["max"] = lo, hi
    if node.op == "requantize" and (isinstance(node.attrs["bits"], bool)
                                    or node.attrs["bits"] not in (8, 16)):
        raise ShapeError(f"{_where(node)}: bits must be 8 or 16, got {node.attrs['bits']!r}")
    if "axis" in spec.attrs:
        try:
            node.attrs["axis"] = int(node.attrs["axis"])
        except (TypeError, ValueError):
            raise ShapeError(f"{_where(node)}: axis {node.attrs['axis']!r} is not an int") from None
    n_in, want = len(node.inputs), spec.n_inputs
    if (want is None and n_in < 2) or (want is not None and n_in != want):
        raise ShapeError(f"{_where(node)}: takes {'two or more inputs' if want is None else want} "
                         f"input(s), got {n_in}")
    for key in ("shape", "perm"):
        if key in node.attrs:
            node.attrs[key] = tuple(int(v) for v in node.attrs[key])
    missing = [p for p in spec.params if p not in node.params]
    if missing:
        raise ShapeError(f"{_where(node)}: missing parameter arrays {missing}")
    return node



def out_dim(n, k, s, p, ceil_mode=False, p_end=None):
    """Output size of a window op along one axis (floor rule, or ceil_mode for pooling); padding
    p before and p_end (default p) after."""
    p_end = p if p_end is None else p_end
    span = n + p + p_end - k
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= n + p else out


def pads_end(node):
    """(bottom, right) padding of a window node: `pads_end` if given, else `pads` (symmetric)."""
    return tuple(node.attrs.get("pads_end", node.attrs["pads"]))


def _out_dim(node, n, k, s, p, p_end, axis):
    span = n + p + p_end - k
    if span < 0:
        raise ShapeError(f"{_where(node)}: kernel {k} with pads {p}/{p_end} does not fit the input "
                         f"{axis} size {n}")
    return out_dim(n, k, s, p, node.attrs.get("ceil_mode", 0), p_end)


def _spatial(node, shape, layout):
    if len(shape) != 3:
        raise ShapeError(f"{_where(node)}: needs a 3-D activation ({layout}), got shape {shape}")
    return tuple(shape) if layout == "HWC" else (shape[1], shape[2], shape[0])


def _back(hwc, layout):
    return tuple(hwc) if layout == "HWC" else (hwc[2], hwc[0], hwc[1])


def infer(node, in_shapes, layout="HWC"):
    """Output shapes (list of tuples) of `node` for the given input shapes; raises ShapeError."""
    normalize(node)
    op, a, x = node.op, node.attrs, tuple(in_shapes[0])
    if OPS[op].elementwise:
        return [x]
    if OPS[op].window:
        h, w, c = _spatial(node, x, layout)
        (ky, kx), (sy, sx), (py, px) = a["kernel_shape"], a["strides"], a["pads"]
        ey, ex = pads_end(node)
        co = c
        if OPS[op].weighted:
            co = _check_conv_weight(node, c, layout)
        return [_back((_out_dim(node, h, ky, sy, py, ey, "H"), _out_dim(node, w, kx, sx, px, ex, "W"),
                       co), layout)]
    if op == "add":
        if tuple(in_shapes[1]) != x:
            raise ShapeError(f"{_where(node)}: inputs have shapes {x} and {tuple(in_shapes[1])}; "
                             "add needs one shape (no broadcasting)")
        return [x]
    if op == "concat":
        ax = a["axis"]
        if not -len(x) <= ax < len(x):
            raise ShapeError(f"{_where(node)}: axis {ax} out of range for shape {x}")
        ax %= len(x)
        rest = [tuple(s) for s in in_shapes]
        if any(len(s) != len(x) or s[:ax] + s[ax + 1:] != x[:ax] + x[ax + 1:] for s in rest):
            raise ShapeError(f"{_where(node)}: inputs {rest} differ outside axis {ax}")
        return [x[:ax] + (sum(s[ax] for s in rest),) + x[ax + 1:]]
    if op == "fc":
        wshape = node.params["weight"].shape
        if len(wshape) != 2 or wshape[1] != prod(x):
            raise ShapeError(f"{_where(node)}: weight {wshape} needs (rows, {prod(x)}) for input "
                             f"shape {x}")
        _check_bias(node, wshape[0])
        return [(wshape[0],)]
    if op == "softmax":
        if not -len(x) <= a["axis"] < len(x):
            raise ShapeError(f"{_where(node)}: axis {a['axis']} out of range for shape {x}")
        return [x]
    if op == "flatten":
        return [(prod(x),)]
    if op == "reshape":
        if prod(a["shape"]) != prod(x) or min(a["shape"], default=1) < 1:
            raise ShapeError(f"{_where(node)}: cannot reshape {x} to {a['shape']}")
        return [a["shape"]]
    if op == "batchnorm":
        c = x[-1] if layout == "HWC" or len(x) == 1 else x[0]
        for key in OPS["batchnorm"].params:
            if node.params[key].shape != (c,):
                raise ShapeError(f"{_where(node)}: {key} has shape {node.params[key].shape}, "
                                 f"expected ({c},)")
        return [x]
    if op == "transpose_hw":
        h, w, c = _spatial(node, x, layout)
        return [_back((w, h, c), layout)]
    if op == "transpose":
        if sorted(a["perm"]) != list(range(len(x))):
            raise ShapeError(f"{_where(node)}: perm {a['perm']} does not fit shape {x}")
        return [tuple(x[i] for i in a["perm"])]
    raise UnsupportedOpError(f"{_where(node)}: no shape rule")  # pragma: no cover


def _check_bias(node, n):
    b = node.params["bias"]
    if b.shape != (n,):
        raise ShapeError(f"{_where(node)}: bias has shape {b.shape}, expected ({n},)")


def _check_conv_weight(node, c, layout):
    w = node.params["weight"].shape
    ky, kx = node.attrs["kernel_shape"]
    if node.op == "conv":
        want = ("Co", ky, kx, c) if layout == "HWC" else ("Co", c, ky, kx)
        ok = len(w) == 4 and tuple(w[1:]) == want[1:]
        co = w[0] if ok else None
    else:
        want = (ky, kx, c) if layout == "HWC" else (c, 1, ky, kx)
        ok = tuple(w) == want
        co = c
    if not ok:
        raise ShapeError(f"{_where(node)}: weight shape {tuple(w)} does not match {want} "
                         f"({layout} graph, kernel_shape {(ky, kx)}, {c} input channels)")
    _check_bias(node, co)
    return co
