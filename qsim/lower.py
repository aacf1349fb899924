"""Lower a quantized node to the C call it becomes (CMSIS-NN or a qsim companion kernel): a KernelCall.

`kernel_call(graph, node)` is what `simulate` runs and what the C code generator prints. It only
reads what `qsim.quantize` wrote (formats, shifts, kernel, channel padding) and turns it into the
C arguments: integer weights in CMSIS storage order (conv OHWI, depthwise (KY, KX, C), fc row-major
over the flattened HWC input, interleaved for `_opt` via qsim.kernels.INTERLEAVE), biases, shifts
and geometry. Nothing is recomputed here.

Channel padding (q15 non-square convs, see passes.choose_kernels): a tensor whose producer has
`pad_ch_out` = p (or, for the graph input, whose readers have `pad_ch_in` = p) is stored with p
zero channels appended. A padded conv gets zero weight rows / columns and zero biases for them, an
fc reading a padded image gets zero weight columns at those positions; relu and the other
pass-through ops just run over the stored size.
"""
from dataclasses import dataclass, field

import numpy as np

from .companion_signatures import ROUND_HALF_UP, signature
from .errors import UnsupportedOpError
from .kernels import INTERLEAVE
from .ops import OPS, ConvGeometry
from .quantize import bias_int, weight_int

_U16 = 65535


@dataclass(frozen=True)
class KernelCall:
    """One C call (a CMSIS-NN function, or one of qsim's companion kernels): function name, its
    arguments except data in/out and scratch buffers.

    args maps the C argument name to an int (scalars) or an integer ndarray (weights `wt`/`pM`,
    `bias`), in C order. `input` / `output` are tensor names; the input goes to argument `in_arg`
    and, unless `in_place`, the output comes from `out_arg`. A node with several inputs (add)
    lists them in `inputs`, one per `in_args` name; a concat is one call per input (`parts`: the
    input tensor and that call's ch_im_in / ch_offset), each writing its slice of the output.
    """

    c_name: str
    args: dict = field(repr=False)
    input: str
    output: str
    in_place: bool
    inputs: tuple = ()      # every input tensor, in the order of the data arguments (`in_args`)
    parts: tuple = ()       # concat: (input tensor, {per-call args}) per call, in order

    @property
    def companion(self) -> bool:
        """True for qsim's own companion C functions (not CMSIS-NN)."""
        return not self.c_name.startswith("arm_")

    @property
    def in_arg(self) -> str:
        return self.in_args[0]

    @property
    def in_args(self) -> list:
        """The data input arguments: one per input tensor (add: pSrcA, pSrcB)."""
        return [a.name for a in signature(self.c_name).args if a.role in ("batched", "inout")][
            :max(len(self.inputs), 1) if not self.parts else 1]

    def kernel_input(self, x, arg=None):
        """x (N,) + stored shape as the kernel takes it for data argument `arg` (default in_arg):
        kept where it is the argument's logical shape (images), else flattened to (N, size) (an
        fc reading an image, softmax, elementwise companion kernels)."""
        shape = signature(self.c_name).arg(arg or self.in_arg).shape
        return x if shape and x.shape[1:] == tuple(shape(self.args)) else x.reshape(len(x), -1)

    @property
    def out_arg(self):
        return next((a.name for a in signature(self.c_name).args if a.role == "out"), None)


def channel_pad(graph, tensor) -> int:
    """Zero channels appended to `tensor` in memory (0 for most tensors)."""
    prod = graph.producer(tensor)
    if prod is not None:
        return prod.pad_ch_out or 0
    return max((n.pad_ch_in or 0 for n in graph.consumers(tensor)), default=0)


def stored_shape(graph, tensor) -> tuple:
    """The tensor's shape in memory: its shape with channel_pad zero channels appended."""
    shape, p = graph.tensors[tensor].shape, channel_pad(graph, tensor)
    return shape[:-1] + (shape[-1] + p,) if p else shape


def _conv_args(graph, node, pad_in, pad_out):
    g = ConvGeometry.of(graph, node)
    wt, bias = weight_int(node), bias_int(node)
    if node.op == "conv" and (pad_in or pad_out):
        wt = np.pad(wt, ((0, pad_out), (0, 0), (0, 0), (0, pad_in)))
        bias = np.pad(bias, (0, pad_out))
    return dict(g.c_args(signature(node.kernel).square), ch_im_in=g.ch_in + pad_in,
                ch_im_out=g.ch_out + pad_out, wt=wt, bias=bias, bias_shift=node.bias_shift,
                out_shift=node.out_shift)


def _fc_args(graph, node, pad_in):
    mat = weight_int(node)
    if pad_in:
        shape = graph.tensors[node.input].shape
        mat = np.pad(mat.reshape((mat.shape[0],) + shape), ((0, 0),) * len(shape) + ((0, pad_in),))
        mat = mat.reshape(mat.shape[0], -1)
    if node.kernel in INTERLEAVE:
        mat = INTERLEAVE[node.kernel](mat)
    return dict(pM=mat, dim_vec=mat.size // node.params["weight"].shape[0],
                num_of_rows=node.params["weight"].shape[0], bias_shift=node.bias_shift,
                out_shift=node.out_shift, bias=bias_int(node))


def _pool_args(graph, node, pad_in):
    g = ConvGeometry.of(graph, node)
    if node.kernel.startswith("arm_"):
        return dict(g.c_args(square=True), ch_im_in=g.ch_in + pad_in)
    if node.kernel.startswith("qsim_global"):
        args = dict(dim_im_in_x=g.in_x, dim_im_in_y=g.in_y, ch_im_in=g.ch_in + pad_in)
    else:
        args = dict(g.c_args(square=False), ch_im_in=g.ch_in + pad_in)
    if node.op == "avgpool":
        args["out_lshift"] = graph.output_q(node).frac_bits - graph.input_q(node).frac_bits
        if not node.kernel.startswith("qsim_global"):
            args.update(count_include_pad=int(bool(node.attrs.get("count_include_pad"))),
                        rounding=int(node.attrs.get("rounding", ROUND_HALF_UP)))
    return args


def _concat_parts(graph, node):
    """(input, args) per qsim_concat_channels call: each input into its slice along the axis
    (channels: num_pixels = H*W; any other axis: the values from it on form the 'channels')."""
    shape = graph.tensors[node.output].shape
    ax = node.attrs["axis"] % len(shape)
    pixels = int(np.prod(shape[:ax], dtype=np.int64))
    ch_out = int(np.prod(shape[ax:], dtype=np.int64))
    parts, off = [], 0
    for t in node.inputs:
        ch = int(np.prod(graph.tensors[t].shape[ax:], dtype=np.int64))
        parts.append((t, dict(ch_im_in=ch, ch_offset=off)))
        off += ch
    return dict(num_pixels=pixels, ch_im_out=ch_out), tuple(parts)


def data_move(node, x, out_shape):
    """Run a node without a CMSIS call on a batch (N,) + stored shape: flatten/reshape keep the
    bytes, transpose_hw swaps H and W (stored channels, padding included, stay last)."""
    if node.op == "transpose_hw":
        return np.ascontiguousarray(x.transpose(0, 2, 1, 3))
    return x.reshape((len(x),) + tuple(out_shape))


def kernel_call(graph, node):
    """The KernelCall of a quantized node, or None for flatten/reshape (no call: same buffer) and
    transpose_hw (no call: a plain data move, see `data_move`)."""
    if node.kernel is None:
        if OPS[node.op].data_move:
            return None
        raise UnsupportedOpError(f"layer '{node.name}' has no kernel; help: quantize the graph "
                                 "(qsim.quantize) before simulating or generating code")
    pad_in = channel_pad(graph, node.input)
    pad_out = channel_pad(graph, node.output)
    size = int(np.prod(stored_shape(graph, node.input)))
    op = node.op
    parts = ()
    if OPS[op].window and OPS[op].weighted:
        args = _conv_args(graph, node, pad_in, pad_out)
    elif op == "fc":
        args = _fc_args(graph, node, pad_in)
    elif OPS[op].window:
        args = _pool_args(graph, node, pad_in)
    elif op == "relu" or op == "clip" and node.kernel.startswith("arm_relu"):
        args = dict(size=size)
    elif op == "clip":
        from .passes.choose_kernels import clip_bounds
        lo, hi = clip_bounds(node, graph.input_q(node))
        args = dict(size=size, min_val=lo, max_val=hi)
    elif op == "add":
        from .quantize import add_shifts
        fa, fb = (graph.tensors[t].qformat.frac_bits for t in node.inputs)
        la, lb, s = add_shifts(fa, fb, graph.output_q(node).frac_bits, graph.output_q(node).bits)
        args = dict(lshift_a=la, lshift_b=lb, out_shift=s, block_size=size)
    elif op == "concat":
        args, parts = _concat_parts(graph, node)
    elif op == "requantize" and node.kernel == "arm_q7_to_q15_no_shift":
        args = dict(blockSize=size)
    elif op == "requantize":
        fi, fo = graph.input_q(node).frac_bits, graph.output_q(node).frac_bits
        args = dict(lshift=max(fo - fi, 0), rshift=max(fi - fo, 0), block_size=size)
    elif op in ("sigmoid", "tanh"):
        q = graph.input_q(node)
        args = dict(size=size, int_width=q.bits - 1 - q.frac_bits, type=0 if op == "sigmoid" else 1)
    elif op == "softmax":
        shape = graph.tensors[node.input].shape
        args = dict(dim_vec=shape[-1])
        if node.kernel == "arm_softmax_with_batch_q7":
            args = dict(nb_batches=size // shape[-1], dim_vec=shape[-1])
    else:
        raise UnsupportedOpError(f"layer '{node.name}': op '{op}' cannot be lowered")
    sig = signature(node.kernel)
    for a in sig.py_args:
        if a.role != "scalar":
            continue
        values = [args[a.name]] if a.name in args else [p[a.name] for _, p in parts]
        lo, hi = {"uint16_t": (0, _U16), "int16_t": (-32768, 32767)}.get(a.ctype, (0, 2**32 - 1))
        if not all(lo <= v <= hi for v in values):
            raise UnsupportedOpError(f"layer '{node.name}': {node.kernel} argument {a.name}="
                                     f"{values} does not fit its C type {a.ctype}. help: split "
                                     "the layer into smaller ones")
    ordered = {a.name: args[a.name] for a in sig.py_args if a.name in args}
    in_place = not any(a.role == "out" for a in sig.args) and not parts
    return KernelCall(node.kernel, ordered, node.input, node.output, in_place, tuple(node.inputs),
                      parts)
