"""Which layer diverges on the board? Compare per-layer outputs captured on a device with the
simulator, and test the usual suspects on the first layer that differs.

The dump: one record per node in graph order, each the layer's output as the generated C stores
it (stored channels, zero padding channels included), exactly what the generated code's taps
write. Two forms are read:
    text    what `-DQSIM_TAP_DUMP` prints: one `{v, v, ...}` group per layer (anything outside
            the braces, e.g. "qsim_tap 3", is ignored), decimal or hex
    binary  the layers' bytes back to back (q7_t: 1 byte, q15_t: 2 bytes little-endian)

`diverge(qgraph, x, records)` simulates the one input `x`, finds the first layer and element that
differ, and re-runs that layer on the device's own input (the previous layer's dump, which
matched) under each hypothesis (HYPOTHESES: the other path, the other release, ARM_NN_TRUNCATE,
out_shift / bias_shift off by one, weights written in another layout, `_opt` interleaving
mismatched), reporting the hypotheses that reproduce the device's values exactly.
"""
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import DataFileError, KernelArgumentError
from .kernels import COMPANION_KERNELS, DEINTERLEAVE, INTERLEAVE
from .lint import FACTS, run_call
from .releases import VERSIONS
from .lower import kernel_call, stored_shape

_GROUP = re.compile(r"\{([^{}]*)\}")


def record_sizes(qgraph):
    """[(stored shape, bits)] of every node's output, in tap order."""
    return [(stored_shape(qgraph, n.output), qgraph.tensors[n.output].qformat.bits)
            for n in qgraph.nodes]


def read_dump(path, qgraph, fmt="auto"):
    """The device's per-layer outputs: [int array of stored shape] in graph order (a shorter
    dump, e.g. the device stopped, gives fewer records). DataFileError for a malformed dump."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise DataFileError(f"--dump {p}: cannot read ({e.strerror or e})") from None
    sizes = record_sizes(qgraph)
    if fmt == "auto":
        try:
            fmt = "text" if b"{" in raw and raw.decode("ascii") is not None else "binary"
        except UnicodeDecodeError:
            fmt = "binary"
    if fmt == "text":
        return _parse_text(raw.decode("ascii", errors="replace"), sizes, p)
    if fmt != "binary":
        raise DataFileError(f"--dump format {fmt!r} is not text, binary or auto")
    return _parse_binary(raw, sizes, p)


def _parse_text(text, sizes, p):
    from .importers.cheader import parse_int
    groups = _GROUP.findall(text)
    if len(groups) > len(sizes):
        raise DataFileError(f"--dump {p}: {len(groups)} records, the model has {len(sizes)} layers")
    out = []
    for i, (g, (shape, bits)) in enumerate(zip(groups, sizes)):
        vals = []
        for tok in (t.strip() for t in g.split(",")):
            if not tok:
                continue
            neg = tok.startswith("-")
            v = parse_int(tok.lstrip("-+ "))
            if v is None:
                raise DataFileError(f"--dump {p}: record {i}: {tok!r} is not an integer")
            v = -v if neg else v
            if not -(1 << (bits - 1)) <= v < 1 << (bits - 1):
                raise DataFileError(f"--dump {p}: record {i}: {str(v)[:24]} does not fit the "
                                    f"layer's {bits}-bit output (q{bits - 1}_t). help: dump the "
                                    "stored values as the device prints them")
            vals.append(v)
        want = int(np.prod(shape))
        if len(vals) != want:
            raise DataFileError(f"--dump {p}: record {i} has {len(vals)} values, layer {i} writes "
                                f"{want} (stored shape {shape})")
        out.append(np.asarray(vals, np.int64).reshape(shape))
    return out


def _parse_binary(raw, sizes, p):
    out, pos = [], 0
    total = sum(int(np.prod(s)) * b // 8 for s, b in sizes)
    if len(raw) > total:
        raise DataFileError(f"--dump {p}: {len(raw)} bytes, more than the {total} all layers write")
    for shape, bits in sizes:
        n = int(np.prod(shape)) * bits // 8
        if pos + n > len(raw):
            break
        dt = np.dtype("<i2") if bits == 16 else np.dtype(np.int8)
        out.append(np.frombuffer(raw[pos:pos + n], dt).astype(np.int64).reshape(shape))
        pos += n
    if pos != len(raw):
        raise DataFileError(f"--dump {p}: {len(raw) - pos} bytes left after layer {len(out) - 1}; "
                            "the dump must hold whole layers")
    return out


def format_text_dump(records):
    """The text dump of stored per-layer outputs (what -DQSIM_TAP_DUMP prints)."""
    return "".join(f"qsim_tap {i} {{" + ", ".join(str(int(v)) for v in np.asarray(r).reshape(-1))
                   + "}\n" for i, r in enumerate(records))


def simulated_records(qgraph, x):
    """The per-layer stored outputs the simulator gives for one input x (shape of the input)."""
    from .simulate import simulate
    trace = simulate(qgraph, np.asarray(x)[None], trace=True)
    out = []
    for n in qgraph.nodes:
        shape = stored_shape(qgraph, n.output)
        y = trace[n.output][0]
        if y.shape != shape:          # stripped zero padding channels come back as zeros
            y = np.concatenate([y, np.zeros(shape[:-1] + (shape[-1] - y.shape[-1],), y.dtype)], -1)
        out.append(y.astype(np.int64))
    return out


@dataclass
class Divergence:
    layer: int | None                       # index of the first differing node, None = all agree
    node: str | None = None
    kernel: str | None = None
    element: tuple = ()                      # index in the stored output (HWC)
    simulated: int | None = None
    device: int | None = None
    mismatches: int = 0
    size: int = 0
    reproduced_by: list = field(default_factory=list)   # hypotheses matching the device exactly
    closest: tuple | None = None            # (hypothesis, mismatches) when none matches
    suspects: list = field(default_factory=list)        # the doc's behaviours for this kernel
    compared: int = 0

    def lines(self):
        if self.layer is None:
            return [f"all {self.compared} layers agree with the simulator"]
        out = [f"first divergence: layer {self.layer} '{self.node}' ({self.kernel or 'no call'}), "
               f"element {self.element}: simulator {self.simulated}, device {self.device} "
               f"({self.mismatches} of {self.size} values differ)"]
        if self.reproduced_by:
            out.append("reproduced exactly by: " + "; ".join(self.reproduced_by))
        elif self.closest:
            out.append(f"no hypothesis reproduces it; closest: {self.closest[0]} "
                       f"({self.closest[1]} values still differ)")
        for s in self.suspects:
            out.append(f"suspect: {s}")
        return out


def _hypotheses(qgraph, node, call):
    """[(description, KernelCall, (path, release, truncate))] to try on the diverging layer."""
    q = qgraph.quant
    base = (q.path, q.version, q.truncate)
    other_path = "ref" if q.path == "dsp" else "dsp"
    other_rel = next(v for v in reversed(VERSIONS) if v != q.version)
    hyps = [] if call.companion else [   # a companion kernel: the same on every path and release
        (f"the device runs path {other_path} (CMSIS {q.version})", call, (other_path, q.version, q.truncate)),
        (f"the device runs CMSIS {other_rel} (path {q.path})", call, (q.path, other_rel, q.truncate)),
        (f"the device runs path {other_path} of CMSIS {other_rel}", call, (other_path, other_rel, q.truncate))]
    hyps.append((f"the device is built {'without' if q.truncate else 'with'} ARM_NN_TRUNCATE", call,
                 (q.path, q.version, not q.truncate)))
    args = call.args
    for key in ("out_shift", "bias_shift", "rshift", "lshift", "out_lshift"):
        if key in args:
            for d in (-1, 1):
                v = int(args[key]) + d
                if 0 <= v <= 31:
                    hyps.append((f"{key} off by one on the device ({v} instead of {int(args[key])})",
                                 replace(call, args={**args, key: v}), base))
    if "wt" in args and node.op == "conv":
        w = np.asarray(args["wt"]).reshape(args["ch_im_out"], *_kyx(args), args["ch_im_in"])
        for name, perm in (("PyTorch [Cout, Cin, KH, KW]", (0, 3, 1, 2)),
                           ("TensorFlow [KH, KW, Cin, Cout]", (1, 2, 3, 0))):
            hyps.append((f"weights written in {name} order instead of OHWI",
                         replace(call, args={**args, "wt": np.ascontiguousarray(w.transpose(perm)).reshape(-1)}), base))
    if "pM" in args:
        rows, dim = int(args["num_of_rows"]), int(args["dim_vec"])
        mat = np.asarray(args["pM"])
        if call.c_name in DEINTERLEAVE:
            plain = np.asarray(DEINTERLEAVE[call.c_name](mat.reshape(-1), rows, dim))
            hyps.append((f"weights not interleaved for {call.c_name} (plain row-major array given)",
                         replace(call, args={**args, "pM": plain.reshape(-1)}), base))
            hyps.append(("weights in TensorFlow [in, out] order",
                         replace(call, args={**args, "pM": np.asarray(INTERLEAVE[call.c_name](
                             plain.reshape(rows, dim).T.reshape(rows, dim)))}), base))
        else:
            hyps.append(("weights in TensorFlow [in, out] order",
                         replace(call, args={**args, "pM": mat.reshape(dim, rows).T.reshape(-1)
                                             .astype(mat.dtype)}), base))
            opt = call.c_name + "_opt"
            if opt in INTERLEAVE:
                hyps.append((f"weights interleaved for {opt} but {call.c_name} called",
                             replace(call, args={**args, "pM": np.asarray(INTERLEAVE[opt](
                                 mat.reshape(rows, dim))).reshape(-1)}), base))
    return hyps


def _kyx(args):
    if "dim_kernel" in args:
        return int(args["dim_kernel"]), int(args["dim_kernel"])
    return int(args["dim_kernel_y"]), int(args["dim_kernel_x"])


def diverge(qgraph, x, records):
    """Divergence of device `records` (read_dump) from the simulation of the single input x."""
    sim = simulated_records(qgraph, x)
    for i, (node, mine, dev) in enumerate(zip(qgraph.nodes, sim, records)):
        diff = mine != dev
        if not diff.any():
            continue
        idx = tuple(int(v) for v in np.argwhere(diff)[0])
        d = Divergence(i, node.name, node.kernel, idx, int(mine[idx]), int(dev[idx]),
                       int(diff.sum()), int(diff.size), compared=len(records))
        call = kernel_call(qgraph, node)
        if call is None:
            d.suspects.append("this layer makes no CMSIS call (same buffer or a copy loop): the "
                              "buffer was overwritten or the tap reads the wrong slot")
            return d
        x_in = records[i - 1] if i and qgraph.nodes[i - 1].output == node.input else \
            _stored_input(qgraph, node, x, sim)
        best = None
        one_input = not call.parts and len(call.inputs) <= 1   # add / concat: not re-run here
        for desc, c, (path, release, trunc) in _hypotheses(qgraph, node, call) if one_input else ():
            try:
                y = _run(c, x_in[None], path, release, trunc).reshape(dev.shape)
            except KernelArgumentError:     # a hypothesis the kernel refuses is simply not it
                continue                    # (anything else, e.g. a ShapeError, is a bug here)
            miss = int((y != dev).sum())
            if miss == 0:
                d.reproduced_by.append(desc)
            elif best is None or miss < best[1]:
                best = (desc, miss)
        d.closest = None if d.reproduced_by else best
        d.suspects = [f"{f.what}. help: {f.fix}".replace(" or raise the producing layer's out_shift "
                                                        "by {shift} so the logits span at most 122 "
                                                        "steps", "")
                      for f in FACTS if node.kernel in f.functions]
        if not d.suspects and not d.reproduced_by:
            d.suspects.append("weights or bias edited or stored in another order, a buffer "
                              "overlapping another, or an input in another format")
        return d
    return Divergence(None, compared=len(records))


def _run(call, x_in, path, release, truncate):
    """A hypothesis' call: a CMSIS-NN function for that build, or a companion kernel (one path)."""
    if call.companion:
        return COMPANION_KERNELS[call.c_name](
            **{call.in_arg: np.array(call.kernel_input(x_in), copy=True)}, **call.args,
            truncate=truncate)
    return run_call(call, x_in, path, release, truncate)


def _stored_input(qgraph, node, x, sim):
    """The stored input of `node`: the previous record, or the quantized graph input."""
    for j, n in enumerate(qgraph.nodes):
        if n.output == node.input:
            return sim[j]
    from .simulate import input_ints
    xi = input_ints(qgraph, np.asarray(x)[None])[0]
    shape = stored_shape(qgraph, node.input)
    if xi.shape != shape:
        xi = np.concatenate([xi, np.zeros(shape[:-1] + (shape[-1] - xi.shape[-1],), xi.dtype)], -1)
    return xi
