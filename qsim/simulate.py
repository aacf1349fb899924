"""Run a quantized Graph bit-exactly through the CMSIS-NN mirrors, batched.

Every node becomes its `lower.kernel_call` (computed once per simulate call) and runs through
qsim.kernels.KERNELS with the graph's path / version / truncate, on a whole batch at a time (the
kernels are parallel over the batch axis). flatten/reshape are free (same buffer in C).

Saturation is reported, never hidden: float inputs that clip when quantized to the input format,
and conv / fc outputs of which more than 1% sit at the format's limits (negative limits are not
counted when every reader is a relu), each raise one SaturationWarning with counts.
"""
import warnings

import numpy as np
from numba import njit, uint64
from tqdm import tqdm

from .errors import QuantizationError, SaturationWarning, ShapeError
from .graph import Graph
from .kernels import COMPANION_KERNELS, KERNELS
from .lower import channel_pad, data_move, kernel_call, stored_shape
from .ops import OPS
from .validate import check_count, check_memory, tensors_bytes, validate_quantized

SATURATION_WARN = 0.01


def input_ints(qgraph, x):
    """The graph input as integers of its format: floats quantized (SaturationWarning on clipping),
    integers range-checked."""
    name = qgraph.inputs[0]
    info = qgraph.tensors[name]
    q = info.qformat
    x = np.asarray(x)
    if x.shape[1:] != info.shape or x.ndim != len(info.shape) + 1:
        raise ShapeError(f"simulate: input '{name}' must have shape (N,) + {info.shape} (HWC, "
                         f"batch first), got {x.shape}")
    if x.dtype.kind in "iu":
        if x.size and (x.min() < q.qmin or x.max() > q.qmax):
            raise ShapeError(f"simulate: integer input has values in [{x.min()}, {x.max()}], outside "
                             f"{q} [{q.qmin}, {q.qmax}]. help: pass floats to quantize them")
        return x.astype(q.dtype)
    if x.dtype.kind != "f":
        raise ShapeError(f"simulate: input must be float or integer, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ShapeError("simulate: the input holds NaN or Inf")
    xi = q.quantize(x)
    scaled = x * 2.0 ** q.frac_bits
    clipped = int(np.count_nonzero((scaled >= q.qmax + 0.5) | (scaled < q.qmin - 0.5)))
    if clipped:
        warnings.warn(f"input '{name}': {100 * clipped / x.size:.3g}% of values ({clipped} of "
                      f"{x.size}) saturated when quantized to {q} (range [{q.min:g}, {q.max:g}])",
                      SaturationWarning, stacklevel=3)
    return xi


def _strip(qgraph, t, arr):
    """Drop the zero padding channels of a stored tensor."""
    if channel_pad(qgraph, t):
        return arr[..., :qgraph.tensors[t].shape[-1]]
    return arr


@njit(cache=True)
def _count_limits(flat, lo, hi, count_lo):
    """Values of flat equal to hi, plus those equal to lo when count_lo (one pass, no temporaries)."""
    hits = 0
    for i in range(uint64(flat.size)):
        v = flat[i]
        hits += (v == hi) + (count_lo and v == lo)
    return hits


def _saturated(qgraph, node, y, count_lo):
    q = qgraph.output_q(node)
    y = _strip(qgraph, node.output, y)
    flat = y.reshape(-1) if y.flags.c_contiguous else y.ravel()
    return int(_count_limits(flat, q.qmin, q.qmax, count_lo)), y.size


def _relu_in_place(calls, consumers, keep):
    """Names of relu nodes that may overwrite their input (np.maximum, out=): it is the fresh
    output of a kernel call (not a data move, which may alias another tensor), read by nobody else
    and not returned."""
    fresh = {node.output for node, call in calls if call is not None}
    return {node.name for node, call in calls
            if call is not None and node.op == "relu" and node.input in fresh
            and node.input not in keep and consumers[node.input] == 1}


def simulate(qgraph, x, trace=False, batch_size=1024, verbose=False):
    """Run the quantized graph on a batch, bit-exactly as the CMSIS-NN build of qgraph.quant.

    Parameters
    ----------
    qgraph : Graph from qsim.quantize (one input)
    x : (N,) + input shape; floats are quantized with the input QFormat (saturating, with a
        SaturationWarning giving the percentage), integers are taken as they are
    trace : also return every tensor
    batch_size : items per kernel call (bounds memory; the kernels are parallel over the batch)
    verbose : tqdm progress bar

    Returns
    -------
    The output tensor as integers (N,) + shape (dict {name: array} for several outputs), or with
    trace=True a dict {tensor name: (N,) + shape integer array} of every tensor, input included.
    Channel padding added for a kernel (see lower.py) is stripped from what is returned.
    """
    if not isinstance(qgraph, Graph):
        raise QuantizationError(f"simulate needs a quantized Graph, got {type(qgraph).__name__}; "
                                "help: call qsim.quantize first")
    validate_quantized(qgraph, f"simulate: graph '{str(qgraph.name)[:60]}'")
    if len(qgraph.inputs) != 1:
        raise ShapeError(f"simulate handles one-input graphs; this one has {qgraph.inputs}")
    check_count("simulate: batch_size", batch_size)
    n_items = len(x) if hasattr(x, "__len__") and np.ndim(x) else None
    if n_items == 0:
        raise ShapeError(f"simulate: empty batch (shape {np.shape(x)}); help: pass at least one "
                         f"item of shape {qgraph.tensors[qgraph.inputs[0]].shape}")
    if n_items:
        check_memory(tensors_bytes(qgraph, n_items, trace) +
                     tensors_bytes(qgraph, min(n_items, batch_size), True),
                     f"simulate of {n_items} items{' with trace' if trace else ''}",
                     "pass fewer items per call (the results of every item are kept)")
    xi = input_ints(qgraph, x)
    calls = [(node, kernel_call(qgraph, node)) for node in qgraph.nodes]
    shapes = {t: stored_shape(qgraph, t) for t in qgraph.tensors}
    opts = dict(path=qgraph.quant.path, release=qgraph.quant.release, truncate=qgraph.quant.truncate)
    keep = list(qgraph.tensors) if trace else list(qgraph.outputs)
    parts = {t: [] for t in keep}
    sat = {node.name: [0, 0] for node, _ in calls if OPS[node.op].weighted}
    count_lo = {name: not all(n.op == "relu" for n in qgraph.consumers(qgraph.node(name).output))
                or qgraph.node(name).output in qgraph.outputs for name in sat}
    in_place = _relu_in_place(calls, {t: len(qgraph.consumers(t)) for t in qgraph.tensors}, set(keep))
    src = qgraph.inputs[0]
    pad = channel_pad(qgraph, src)
    n_total = len(xi)
    with tqdm(total=n_total, disable=not verbose, desc="simulate", unit="sample") as bar:
        for start in range(0, n_total, batch_size):
            batch = xi[start:start + batch_size]
            if pad:
                batch = np.pad(batch, ((0, 0),) * (batch.ndim - 1) + ((0, pad),))
            env = {src: batch}
            n = len(batch)
            for node, call in calls:
                x_in = env[node.input]
                if call is not None and call.companion:
                    y = _companion(call, env, n, shapes, qgraph.quant.truncate)
                elif call is None:
                    y = data_move(node, x_in, shapes[node.output])
                elif node.name in in_place:            # arm_relu_q7/q15 is max(x, 0) (doc §5.1); the
                    y = np.maximum(x_in, 0, out=x_in)  # input is a fresh array nobody else reads
                    y = y.reshape((n,) + shapes[node.output])
                else:
                    y = KERNELS[call.c_name](**{call.in_arg: call.kernel_input(x_in)}, **call.args, **opts)
                    y = y.reshape((n,) + shapes[node.output])
                env[node.output] = y
                if node.name in sat:
                    hit, size = _saturated(qgraph, node, y, count_lo[node.name])
                    sat[node.name][0] += hit
                    sat[node.name][1] += size
            for t in keep:
                parts[t].append(_strip(qgraph, t, env[t]))
            bar.update(n)
    for name, (hit, size) in sat.items():
        if size and hit > SATURATION_WARN * size:
            node = qgraph.node(name)
            warnings.warn(f"layer '{name}': {100 * hit / size:.3g}% of outputs ({hit} of {size}) "
                          f"saturated at {qgraph.output_q(node)} (out_shift {node.out_shift})",
                          SaturationWarning, stacklevel=2)
    result = {t: np.concatenate(p) for t, p in parts.items()}
    if trace:
        return result
    return result[qgraph.outputs[0]] if len(qgraph.outputs) == 1 else result


def _companion(call, env, n, shapes, truncate):
    """Run a qsim companion kernel (single path: only `truncate`); a concat is one call per input
    into its slice of the output."""
    fn = COMPANION_KERNELS[call.c_name]
    if call.parts:
        info = dict(call.args)
        y = np.zeros((n, info["num_pixels"] * info["ch_im_out"]), env[call.input].dtype)
        for t, part in call.parts:
            y = fn(Im_in=env[t], Im_out=y, **info, **part, truncate=truncate).reshape(n, -1)
    else:
        ins = {a: call.kernel_input(env[t], a) for a, t in zip(call.in_args, call.inputs)}
        y = fn(**ins, **call.args, truncate=truncate)
    return y.reshape((n,) + shapes[call.output])


def dequantize(qgraph, q, tensor=None):
    """Integers of `tensor` (default: the graph output) -> floats; a dict (trace) maps by name."""
    if isinstance(q, dict):
        return {t: dequantize(qgraph, v, t) for t, v in q.items()}
    return qgraph.tensors[tensor or qgraph.outputs[0]].qformat.dequantize(q)


def predict(qgraph, x, **kwargs):
    """Class indices: argmax of the simulated output per item (first index on ties)."""
    out = simulate(qgraph, x, **kwargs)
    return np.argmax(out.reshape(len(out), -1), axis=1)
