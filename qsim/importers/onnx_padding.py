"""Padding at import: conv/pool geometry from ONNX pads, and the `Pad` op merged into the next
window op.

Padding. The IR's `pads` is (top, left) and `pads_end` (bottom, right), absent when symmetric.
ONNX pads (top, left, bottom, right) import as such; when the extra bottom/right rows are never
read (same output size) the padding stays symmetric, so existing graphs keep their form. TF/Keras
"SAME" with even kernels or strides (total = (ceil(in / s) - 1) * s + k - in per axis, top =
total // 2, bottom = the rest: tf2onnx writes explicit pads with bottom = top + 1, or auto_pad
SAME_UPPER) imports as pads + pads_end: the legacy CMSIS conv and pool calls take the top/left
padding and an explicit output size and zero-fill (conv) or skip (pool) any tap past the
bottom/right edge, which is exactly the extra bottom/right padding.
A zero `Pad` (torch's F.pad) is not a node of its own: `pad` records it and the Conv that reads
it adds it to its own pads (a MaxPool too, when its input is a ReLU's, where a zero never wins
over a valid tap; an AveragePool without pads of its own, as count_include_pad=1).
"""
from math import ceil

import numpy as np

from ..errors import ModelFormatError, UnsupportedOpError
from ..ops import out_dim


def where(n):
    """'name' (OpType) of an ONNX node; a nameless one is named by its first output."""
    name = n.name or (f"? -> {n.output[0]}" if n.output else "?")
    return f"node '{name}' ({n.op_type})"


def unsupported(n, what, fix=""):
    raise UnsupportedOpError(f"{where(n)}: {what}" + (f". help: {fix}" if fix else ""))


def _check_ints(n, what, values, count, low, high=1 << 16):
    """`values` are `count` whole numbers in low..high, else a ModelFormatError naming the node."""
    if len(values) != count or not all(isinstance(v, int) and low <= v <= high for v in values):
        raise ModelFormatError(f"{where(n)}: {what} {list(values)[:8]} must be {count} whole numbers "
                               f"in {low}..{high}. help: re-export the model")


def padded_input(ctx, n):
    """(activation, zero pads (top, left, bottom, right) of a Pad merged here, that Pad or None)."""
    if n.input[0] in ctx.pads:
        pad_node, source, pads = ctx.pads.pop(n.input[0])
        return source, pads, pad_node
    return ctx.tensor(n.input[0], n), (0, 0, 0, 0), None


def geometry(ctx, n, a, kernel, x, extra=(0, 0, 0, 0), pad_node=None, default_stride=1,
             ceil_rule=False, keep_end=False):
    """(strides, pads (top, left), pads_end (bottom, right) or None if symmetric) for 2-D
    windows over activation `x`, with `extra` zero pads (top, left, bottom, right) of a merged
    Pad. Extra bottom/right padding that is never read (the same output size by the floor rule,
    or the ceil rule for a `ceil_rule` pooling) is dropped (symmetric pads), unless `keep_end` (an
    average that counts its padding and may overhang it with ceil_mode)."""
    if len(kernel) != 2:
        unsupported(n, f"{len(kernel)}-D kernel {tuple(kernel)}; only 2-D windows are supported",
                    "express 1-D convs as 2-D with a height of 1")
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        unsupported(n, f"dilations {a['dilations']}; CMSIS-NN has no dilated kernels")
    strides = list(a.get("strides", [default_stride] * 2))
    _check_ints(n, "kernel_shape", kernel, 2, 1)
    _check_ints(n, "strides", strides, 2, 1)
    if "pads" in a:
        _check_ints(n, "pads", list(a["pads"]), 4, 0)
    in_hw = ctx.shape(x)[1:]
    padded_hw = [in_hw[i] + extra[i] + extra[i + 2] for i in range(2)]
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * 4
        for i in range(2):
            total = max((ceil(padded_hw[i] / strides[i]) - 1) * strides[i] + kernel[i]
                        - padded_hw[i], 0)
            small = total // 2
            big = total - small
            pads[i], pads[i + 2] = (small, big) if auto == "SAME_UPPER" else (big, small)
    else:
        pads = list(a.get("pads", [0] * 4)) if auto != "VALID" else [0] * 4
    pads = [int(p) + int(e) for p, e in zip(pads, extra)]
    merged = f" (with the zero padding of {where(pad_node)} merged in)" if pad_node else ""
    begins, ends = [], []
    for i in range(2):
        begin, end = pads[i], pads[i + 2]
        args = in_hw[i], kernel[i], strides[i], begin
        unread = out_dim(*args, ceil_rule, end) == out_dim(*args, ceil_rule)
        if end > begin and not keep_end and unread:
            end = begin             # the extra bottom/right rows are never read
        for side, p in (("top" if i == 0 else "left", begin), ("bottom" if i == 0 else "right",
                                                               end)):
            if p >= kernel[i]:
                unsupported(n, f"{side} padding {p}{merged} is not smaller than the kernel "
                               f"{kernel[i]}: a window made only of padding")
        begins.append(begin)
        ends.append(end)
    return tuple(strides), tuple(begins), (None if ends == begins else tuple(ends))


def ceil_mode(in_hw, kernel, strides, pads, pads_end=None):
    """1 if a pooling's ceil_mode output differs from the floor rule's (qsim.ops ceil_mode)."""
    ends = pads if pads_end is None else pads_end
    return int(any(out_dim(n, k, s, p, True, e) != out_dim(n, k, s, p, False, e)
                   for n, k, s, p, e in zip(in_hw, kernel, strides, pads, ends)))


def pad(ctx, n, a):
    """A zero Pad of H and W is recorded in ctx.pads; the Conv/MaxPool reading it merges it."""
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    x = ctx.tensor(n.input[0], n)
    rank = len(ctx.shape(x)) + 1
    pads = [int(p) for p in ctx.const(n, 1)]
    value = ctx.const(n, 2)
    axes = ctx.const(n, 3)
    if axes is not None:
        full = [0] * (2 * rank)
        for i, ax in enumerate(int(d) + rank if d < 0 else int(d) for d in axes):
            full[ax], full[ax + rank] = pads[i], pads[i + len(axes)]
        pads = full
    if mode != "constant":
        unsupported(n, f"Pad mode '{mode}'; only zero (constant) padding merges into a conv",
                    "use zero padding")
    if value is not None and np.size(value) and float(np.ravel(value)[0]) != 0.0:
        unsupported(n, f"Pad with the value {float(np.ravel(value)[0])}; only zero padding "
                       "merges into a conv", "use zero padding")
    if rank != 4 or any(pads[i] or pads[i + rank] for i in (0, 1)):
        unsupported(n, f"pads {pads} of a tensor of shape (N,) + {ctx.shape(x)}; only the H and "
                       "W axes of an NCHW activation can be padded")
    if min(pads) < 0:
        unsupported(n, f"negative pads {pads} (a crop); qsim has no crop layer")
    if ctx.uses.get(n.output[0], 0) != 1 or n.output[0] in ctx.outputs:
        unsupported(n, "its output is read by more than one node or is a graph output; qsim "
                       "merges a Pad only into the one Conv that reads it")
    ctx.pads[n.output[0]] = (n, x, (pads[2], pads[3], pads[6], pads[7]))
