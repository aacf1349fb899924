"""Run a quantized Graph bit-exactly through the CMSIS-NN mirrors, batched.

Every node becomes its `lower.kernel_call` (computed once per graph, see `_plan`) and runs through
qsim.kernels.KERNELS with the graph's path / version / truncate, on a whole batch at a time (the
kernels are parallel over the batch axis). flatten/reshape are free (same buffer in C). A kernel
with a qsim.kernels.PREPARE entry (convolutions, fully connected, softmax) is bound, checked and
prepared (packed weights, init vectors) once per graph by its own wrapper's preparation, and each
chunk of items only runs its numba loop, which releases the GIL (see `_prepared`).

Saturation is reported, never hidden: float inputs that clip when quantized to the input format,
and conv / fc outputs of which more than 1% sit at the format's limits (negative limits are not
counted when every reader is a relu), each raise one SaturationWarning with counts.
"""
import contextlib
import hashlib
import itertools
import threading
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit, uint64
from tqdm import tqdm

from .cmsis_signatures import CTYPES
from .companion_signatures import signature
from .errors import QsimError, QuantizationError, SaturationWarning, ShapeError
from .graph import Graph
from .kernel_args import bind
from .kernels import COMPANION_KERNELS, KERNELS, PREPARE
from .kernels._simd import memo_scope
from .kernels.qsim_clip import CLIP_IN_PLACE
from .kernels.qsim_concat_channels import concat_into
from .lower import channel_pad, data_move, kernel_call, stored_shape
from .ops import OPS
from .validate import check_count, check_memory, tensors_bytes, validate_quantized

SATURATION_WARN = 0.01


def input_ints(qgraph, x):
    """The graph input as integers of its format: floats quantized (SaturationWarning on clipping),
    integers range-checked."""
    q = _input_format(qgraph, x)
    xi, clipped = _chunk_ints(q, np.asarray(x))
    _warn_clipped(qgraph, clipped, np.size(x), stacklevel=3)
    return xi


def _input_format(qgraph, x):
    """The input's QFormat, after checking x's shape and dtype (values are checked per chunk)."""
    name = qgraph.inputs[0]
    info = qgraph.tensors[name]
    x = np.asarray(x)
    if x.shape[1:] != info.shape or x.ndim != len(info.shape) + 1:
        raise ShapeError(f"simulate: input '{name}' must have shape (N,) + {info.shape} (HWC, "
                         f"batch first), got {x.shape}")
    if x.dtype.kind not in "iuf":
        raise ShapeError(f"simulate: input must be float or integer, got dtype {x.dtype}")
    return info.qformat


@njit(cache=True, nogil=True)
def _quantize_flat(x, scale, qmin, qmax, out):
    """out = clip(floor(x * scale + 0.5), qmin, qmax) (QFormat.quantize, float64 arithmetic) in one
    pass; returns (values that clipped, whether a value was NaN or Inf)."""
    clipped = 0
    bad = False
    for i in range(uint64(x.size)):
        v = np.float64(x[i]) * scale
        if not np.isfinite(v):
            bad = True
            v = 0.0
        r = np.floor(v + 0.5)
        clipped += (v >= qmax + 0.5) or (v < qmin - 0.5)
        out[i] = min(max(r, qmin), qmax)
    return clipped, bad


def _chunk_ints(q, x):
    """(integers of QFormat q, number of clipped values) for a block of input items."""
    if x.dtype.kind in "iu":
        if x.size and (x.min() < q.qmin or x.max() > q.qmax):
            raise ShapeError(f"simulate: integer input has values in [{x.min()}, {x.max()}], outside "
                             f"{q} [{q.qmin}, {q.qmax}]. help: pass floats to quantize them")
        return x.astype(q.dtype), 0
    out = np.empty(x.shape, q.dtype)
    if not x.size:
        return out, 0
    flat = np.ascontiguousarray(x).reshape(-1)
    clipped, bad = _quantize_flat(flat, 2.0 ** q.frac_bits, float(q.qmin), float(q.qmax), out.reshape(-1))
    if bad:
        raise ShapeError("simulate: the input holds NaN or Inf")
    return out, int(clipped)


def _warn_clipped(qgraph, clipped, size, stacklevel):
    if clipped:
        name = qgraph.inputs[0]
        q = qgraph.tensors[name].qformat
        warnings.warn(f"input '{name}': {100 * clipped / size:.3g}% of values ({clipped} of "
                      f"{size}) saturated when quantized to {q} (range [{q.min:g}, {q.max:g}])",
                      SaturationWarning, stacklevel=stacklevel + 1)


@njit(cache=True, nogil=True)
def _count_limits(flat, lo, hi):
    """Values of flat equal to hi or to lo (one pass, no temporaries; lo and hi of flat's dtype,
    so that the compares stay as narrow as the data: 1.5x faster than against int64)."""
    hits = 0
    for i in range(uint64(flat.size)):
        v = flat[i]
        hits += np.int64((v == hi) | (v == lo))
    return hits


@njit(cache=True, nogil=True)
def _relu_flat(flat):
    """flat = max(flat, 0) in place (doc §5.1), one vectorised pass (np.maximum with a scalar 0
    measured 27x slower on int8)."""
    for i in range(uint64(flat.size)):
        if flat[i] < 0:
            flat[i] = 0


def _saturated(limits, y):
    """(values of y at the format's limits, y.size); limits = (qmin, qmax, count_lo, channels
    kept (None: all))."""
    lo, hi, count_lo, ch = limits
    if ch is not None:
        y = y[..., :ch]
    flat = y.reshape(-1) if y.flags.c_contiguous else y.ravel()
    as_y = y.dtype.type               # the limits of y's own format: they fit its dtype
    return int(_count_limits(flat, as_y(lo if count_lo else hi), as_y(hi))), y.size


def _prepared(call, x_shape, opts):
    """(run, input dtype) of a kernel call through its wrapper's own preparation
    (qsim.kernels.PREPARE: bind, checks, packed weights, once), run(x (N, size)) giving the same
    bytes as the wrapper on any batch of the input's stored shape x_shape; None where the kernel
    has no PREPARE entry or preparing fails (each chunk then calls the wrapper, which raises the
    error with its message)."""
    prep = PREPARE.get(call.c_name)
    if prep is None or call.companion or call.parts or len(call.in_args) != 1:
        return None
    dtype = np.dtype(CTYPES[signature(call.c_name).arg(call.in_arg).ctype])
    dummy = call.kernel_input(np.zeros((1,) + tuple(x_shape), dtype))
    try:
        return prep(bind(call.c_name, (), {call.in_arg: dummy, **call.args}, **opts)), dtype
    except QsimError:
        return None


def _relu_in_place(calls, consumers, keep):
    """Names of relu and clip nodes that may overwrite their input (relu: np.maximum, out=; clip:
    qsim_clip's loop with its input as output, as the C does): the input is the fresh output of a
    kernel call (not a data move, which may alias another tensor), read by nobody else and not
    returned."""
    fresh = {node.output for node, call in calls if call is not None}
    return {node.name for node, call in calls
            if call is not None and node.op in ("relu", "clip") and node.input in fresh
            and node.input not in keep and consumers[node.input] == 1}


def _digest(h, v, arrays):
    """Feed one graph field into hash h by repr; arrays go to the list `arrays` instead."""
    if isinstance(v, np.ndarray):
        arrays.append(v)
        h.update(f"a{v.dtype.str}{v.shape}".encode())
    else:
        h.update(repr(v).encode())
    h.update(b";")


def fingerprint(qgraph):
    """(digest, arrays): a digest of everything simulate reads from the graph (nodes, tensors,
    inputs/outputs, quantization settings) but the values of its arrays (parameters and array
    attributes), which are returned to be compared (see `_plan`)."""
    h = hashlib.blake2b(digest_size=16)
    arrays = []
    _digest(h, (qgraph.layout, qgraph.inputs, qgraph.outputs, qgraph.quant,
                [(t.name, t.shape, t.qformat) for t in qgraph.tensors.values()]), arrays)
    for node in qgraph.nodes:
        fields = vars(node)
        _digest(h, [(k, v) for k, v in fields.items() if k not in ("params", "attrs")], arrays)
        for group in (fields.get("attrs", {}), fields.get("params", {})):
            for k, v in group.items():
                _digest(h, k, arrays)
                _digest(h, v, arrays)
    return h.digest(), arrays


class _Plan:
    """What simulate derives from a graph before running it: validated once, lowered once.

    Cached per graph object (see `_plan`) and rebuilt when the graph's `fingerprint` changes, so an
    edited graph is validated and lowered again.
    """

    def __init__(self, qgraph):
        validate_quantized(qgraph, f"simulate: graph '{str(qgraph.name)[:60]}'")
        if len(qgraph.inputs) != 1:
            raise ShapeError(f"simulate handles one-input graphs; this one has {qgraph.inputs}")
        self.calls = [(node, kernel_call(qgraph, node)) for node in qgraph.nodes]
        self.shapes = {t: stored_shape(qgraph, t) for t in qgraph.tensors}
        self.opts = dict(path=qgraph.quant.path, release=qgraph.quant.release,
                         truncate=qgraph.quant.truncate)
        self.truncate = qgraph.quant.truncate
        self.sat = [node.name for node, _ in self.calls if OPS[node.op].weighted]
        outs = {name: qgraph.node(name).output for name in self.sat}
        self.count_lo = {name: not qgraph.only_relus_read(outs[name]) for name in self.sat}
        self.n_consumers = {t: len(qgraph.consumers(t)) for t in qgraph.tensors}
        self.channels = {t: qgraph.tensors[t].shape[-1] if channel_pad(qgraph, t) else None
                         for t in qgraph.tensors}       # stored channels to keep (None: all)
        self.limits = {}
        for name in self.sat:
            node, q = qgraph.node(name), qgraph.output_q(qgraph.node(name))
            self.limits[name] = (q.qmin, q.qmax, self.count_lo[name], self.channels[node.output])
        self.run = {node.name: _prepared(call, self.shapes[node.input], self.opts)
                    for node, call in self.calls if call is not None}
        self.in_place = {}
        self.src = qgraph.inputs[0]
        self.pad = channel_pad(qgraph, self.src)
        self.macs = sum(int(np.prod(self.shapes[n.output])) * max(
            (p.size // max(p.shape[0], 1) for p in n.params.values() if isinstance(p, np.ndarray)
             and p.ndim >= 2), default=1) for n, c in self.calls if c is not None)

    def relu_in_place(self, keep):
        key = tuple(keep)
        if key not in self.in_place:
            self.in_place[key] = _relu_in_place(self.calls, self.n_consumers, set(keep))
        return self.in_place[key]


_PLANS = {}          # id(graph) -> (weakref, digest, array copies, _Plan); a few recent graphs
_PLANS_MAX = 4
PLAN_CACHE_BYTES = 1 << 26   # graphs with more parameter bytes are not cached (the copies)
_PLANS_LOCK = threading.Lock()


def _plan(qgraph):
    """The cached _Plan of qgraph. Validation and lowering run again whenever the graph changed:
    its fingerprint digest differs, or an array differs from the copy kept with the plan (a
    comparison is ~5x faster than hashing the values)."""
    digest, arrays = fingerprint(qgraph)
    with _PLANS_LOCK:
        hit = _PLANS.get(id(qgraph))
    if (hit is not None and hit[0]() is qgraph and hit[1] == digest
            and all(np.array_equal(a, b) for a, b in zip(arrays, hit[2]))):
        return hit[3]
    plan = _Plan(qgraph)
    if sum(a.nbytes for a in arrays) > PLAN_CACHE_BYTES:
        return plan
    with _PLANS_LOCK:
        _PLANS.pop(id(qgraph), None)
        _PLANS[id(qgraph)] = (weakref.ref(qgraph), digest, [a.copy() for a in arrays], plan)
        while len(_PLANS) > _PLANS_MAX:
            _PLANS.pop(next(iter(_PLANS)))
    return plan


_POOLS = {}
_POOLS_LOCK = threading.Lock()


@contextlib.contextmanager
def _pool(workers):
    """A thread pool of `workers` threads kept across calls (starting threads on every simulate
    call cost a fixed ~0.2 ms and left the second core idle at the start and end of each call).
    A pool is lent to one call at a time; a concurrent call gets a fresh one."""
    with _POOLS_LOCK:
        pool = _POOLS.pop(workers, None)
    if pool is None:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="qsim-simulate")
    try:
        yield pool
    finally:
        with _POOLS_LOCK:
            if workers in _POOLS:
                pool.shutdown(wait=False)
            else:
                _POOLS[workers] = pool


CHUNK_MACS = 1 << 28     # target work of one chunk (~100 KWS items, ~5-10 ms on one core)


def _strip(plan, t, arr):
    """Drop the zero padding channels of a stored tensor."""
    ch = plan.channels[t]
    return arr if ch is None else arr[..., :ch]


def _run_chunk(qgraph, plan, x, q, keep, in_place):
    """Quantize one chunk of input items (QFormat q) and run all layers on it, in the calling
    thread (numba kernels single-threaded there when called from a worker). Returns ({kept
    tensor: array}, {weighted node: (saturated, size)}, input values clipped)."""
    batch, clipped = _chunk_ints(q, x)
    if plan.pad:                                 # zero channels appended (np.pad: 5x slower)
        padded = np.zeros(batch.shape[:-1] + (batch.shape[-1] + plan.pad,), batch.dtype)
        padded[..., :batch.shape[-1]] = batch
        batch = padded
    env = {plan.src: batch}
    n = len(batch)
    sat = {}
    shapes, opts, prepared = plan.shapes, plan.opts, plan.run
    for node, call in plan.calls:
        x_in = env[node.input]
        if call is not None and call.companion:
            y = _companion(call, env, n, shapes, plan.truncate, node.name in in_place)
        elif call is None:
            y = data_move(node, x_in, shapes[node.output])
        elif node.name in in_place:            # arm_relu_q7/q15 is max(x, 0) (doc §5.1); the
            if x_in.flags.c_contiguous:        # input is a fresh array nobody else reads
                _relu_flat(x_in.reshape(-1))
            else:
                np.maximum(x_in, x_in.dtype.type(0), out=x_in)
            y = x_in.reshape((n,) + shapes[node.output])
        elif prepared[node.name] is not None and x_in.dtype == prepared[node.name][1]:
            y = prepared[node.name][0](np.ascontiguousarray(x_in).reshape(n, -1))
            y = y.reshape((n,) + shapes[node.output])
        else:
            y = KERNELS[call.c_name](**{call.in_arg: call.kernel_input(x_in)}, **call.args, **opts)
            y = y.reshape((n,) + shapes[node.output])
        env[node.output] = y
        if node.name in plan.limits:
            sat[node.name] = _saturated(plan.limits[node.name], y)
    return {t: _strip(plan, t, env[t]) for t in keep}, sat, clipped


def _worker_loop(token, nxt, n_chunks, run, results, stop):
    """Run chunks numbered by next(nxt) until none are left (or another worker failed): each
    worker pulls its next chunk itself, so no thread waits on a hand-off and the calling thread is
    one of the workers. numba's thread count is thread-local: this worker's kernels stay serial
    (the caller's setting is restored)."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with memo_scope(token):
            for i in nxt:
                if i >= n_chunks or stop:
                    return
                results[i] = run(i)
    except BaseException:
        stop.append(True)
        raise
    finally:
        numba.set_num_threads(threads)


def simulate(qgraph, x, trace=False, batch_size=1024, verbose=False):
    """Run the quantized graph on a batch, bit-exactly as the CMSIS-NN build of qgraph.quant.

    Parameters
    ----------
    qgraph : Graph from qsim.quantize (one input)
    x : (N,) + input shape; floats are quantized with the input QFormat (saturating, with a
        SaturationWarning giving the percentage), integers are taken as they are
    trace : also return every tensor
    batch_size : items in flight at once (bounds memory)
    verbose : tqdm progress bar

    Returns
    -------
    The output tensor as integers (N,) + shape (dict {name: array} for several outputs), or with
    trace=True a dict {tensor name: (N,) + shape integer array} of every tensor, input included.
    Channel padding added for a kernel (see lower.py) is stripped from what is returned.

    Threads: the items are cut into chunks of about CHUNK_MACS of work, and each of
    numba.get_num_threads() worker threads runs the whole network on one chunk at a time with
    single-threaded kernels (one hand-off per chunk instead of a parallel region per layer, and
    a chunk's intermediate tensors stay in the core's cache). Every item is computed on its own,
    so the result does not depend on the chunking or the thread count. The graph is validated
    and lowered once and cached until it changes (see `fingerprint`).
    """
    if not isinstance(qgraph, Graph):
        raise QuantizationError(f"simulate needs a quantized Graph, got {type(qgraph).__name__}; "
                                "help: call qsim.quantize first")
    plan = _plan(qgraph)
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
    q_in = _input_format(qgraph, x)
    xi = np.asarray(x)
    keep = list(qgraph.tensors) if trace else list(qgraph.outputs)
    in_place = plan.relu_in_place(keep)
    n_total = len(xi)
    workers = max(1, min(numba.get_num_threads(), -(-n_total * plan.macs // CHUNK_MACS)))
    chunk = max(1, min(-(-CHUNK_MACS // max(plan.macs, 1)), batch_size // workers))
    if workers > 1:
        chunk = min(chunk, -(-n_total // workers))
    starts = range(0, n_total, chunk)
    sat = {name: [0, 0] for name in plan.sat}
    parts = {t: [] for t in keep}
    bar = tqdm(total=n_total, desc="simulate", unit="sample") if verbose else None

    clipped = [0]
    token = plan     # memo_scope: the plan's weights are compared once per plan (a changed graph
    #                  gets a new plan, see _plan; memo also checks the arrays' owners)

    def collect(result):
        kept, counts, clip = result
        clipped[0] += clip
        for t in keep:
            parts[t].append(kept[t])
        for name, (hit, size) in counts.items():
            sat[name][0] += hit
            sat[name][1] += size

    lock = threading.Lock()

    def run(i):
        start = starts[i]
        result = _run_chunk(qgraph, plan, xi[start:start + chunk], q_in, keep, in_place)
        if bar is not None:
            with lock:
                bar.update(min(chunk, n_total - start))
        return result

    results = [None] * len(starts)
    nxt, stop = itertools.count(), []           # next(count) is atomic under the GIL
    try:
        if workers == 1:                        # little work (or one thread): no thread wakes
            _worker_loop(token, nxt, len(starts), run, results, stop)
        else:
            with _pool(workers - 1) as pool:
                helpers = [pool.submit(_worker_loop, token, nxt, len(starts), run, results, stop)
                           for _ in range(workers - 1)]
                try:
                    _worker_loop(token, nxt, len(starts), run, results, stop)
                finally:
                    for f in helpers:
                        f.exception()           # wait for every worker before raising
                for f in helpers:
                    f.result()
    finally:
        if bar is not None:
            bar.close()
    for result in results:
        collect(result)
    _warn_clipped(qgraph, clipped[0], xi.size, stacklevel=2)
    for name, (hit, size) in sat.items():
        if size and hit > SATURATION_WARN * size:
            node = qgraph.node(name)
            warnings.warn(f"layer '{name}': {100 * hit / size:.3g}% of outputs ({hit} of {size}) "
                          f"saturated at {qgraph.output_q(node)} (out_shift {node.out_shift})",
                          SaturationWarning, stacklevel=2)
    result = {t: p[0] if len(p) == 1 else np.concatenate(p) for t, p in parts.items()}
    if trace:
        return result
    return result[qgraph.outputs[0]] if len(qgraph.outputs) == 1 else result


def _companion(call, env, n, shapes, truncate, in_place=False):
    """Run a qsim companion kernel (single path: only `truncate`). A concat writes every input
    into its slice of one output buffer (concat_into, in place as the C does); a clip whose input
    nobody else reads (`in_place`, see _relu_in_place) overwrites it, as the C does."""
    fn = COMPANION_KERNELS[call.c_name]
    if call.parts:
        info = dict(call.args)
        pixels, ch_out = info["num_pixels"], info["ch_im_out"]
        y = np.zeros((n, pixels, ch_out), env[call.input].dtype)
        for t, part in call.parts:
            x, ch = env[t], part["ch_im_in"]
            if x.dtype == y.dtype and x.size == n * pixels * ch:
                concat_into(np.ascontiguousarray(x).reshape(n, pixels, ch), part["ch_offset"], y)
            else:                              # let the checked wrapper name what is wrong
                y = fn(Im_in=x, Im_out=y, **info, **part, truncate=truncate)
    elif in_place and call.c_name in CLIP_IN_PLACE:
        x = env[call.input]
        y = CLIP_IN_PLACE[call.c_name](x.reshape(-1), call.args["min_val"], call.args["max_val"])
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
