"""Static memory plan for a generated network: activation arena offsets and scratch sizes.

Every tensor lives in a *slot*: the caller's `input` buffer (read-only), the caller's `output`
buffer, or a region of one static arena. Tensors share a slot when the C writes in place
(relu and the table activations, role "inout" without an "out" argument) or when a node only
reinterprets its input (flatten/reshape: no call). transpose_hw (no call either: emit_network
writes a copy loop) is out of place, like a kernel with an output argument. A slot is live from
the step that first writes it to the last step that reads it; two arena slots may overlap in
memory only if their live intervals are disjoint. Placement is greedy (largest first, lowest free
offset), which is never worse than ping-pong and meets the max-live-bytes lower bound on chains
such as the KWS net.

Clobbering. A function that writes through an input pointer (role "inout": relu in place, and
pooling, which overwrites Im_in on the DSP path, semantics doc §8) gets a private copy of its
input when the input slot is the const `input` buffer or is read again later: the copy is a
memcpy before the call, into its own arena slot. The plan never relies on REF-path behaviour.

Over-reads. Some legacy functions read a few bytes past the end of a buffer they are given
(OVERREAD below, from an AddressSanitizer audit of every function on both paths and releases with
exact-sized buffers, and the C). The caller of `<name>_run` passes exactly INPUT_SIZE values, so
when the first layer is such a function the input is copied (memcpy) into an arena slot that is
followed by the slack; an arena slot read by one gets the slack too. Weight arrays always end in
zero slack (emit_weights.SLACK_BYTES).

Several inputs (add, concat: qsim companion kernels) are read from their own slots and write a
new slot. A concat is one qsim_concat_channels call per input, each copying into its slice of the
output slot (a copy per input, not zero-copy: producers writing straight into adjacent slices
would need every producer to take an output stride, which the CMSIS-NN functions do not; the
copies cost size(output) bytes of moves, small beside any conv).

Scratch: bufferA / vec_buffer (q15_t) share one array, bufferB (q7_t) another; each is sized as
the largest need over the calls used, from qsim.cmsis_signatures (the larger of the two paths).
"""
from dataclasses import dataclass, field

import numpy as np

from qsim.cmsis_signatures import CTYPES
from qsim.companion_signatures import signature
from qsim.errors import ShapeError
from qsim.lower import channel_pad, stored_shape
from qsim.ops import OPS

ALIGN = 4
# function -> {argument: bytes it may read past the argument's end}; both releases
OVERREAD = {
    # DSP path: the im2col reads each 3-byte pixel with arm_nn_read_q7x4 (4 bytes), so the last
    # pixel of the image reads 1 byte past Im_in (arm_convolve_HWC_q7_RGB.c, 5.7.0 and 5.9.0)
    "arm_convolve_HWC_q7_RGB": {"Im_in": 1},
}
SCRATCH_ARGS = {"bufferA": "bufferA", "vec_buffer": "bufferA", "bufferB": "bufferB"}


def ctype_bytes(ctype):
    return np.dtype(CTYPES[ctype]).itemsize


@dataclass
class Slot:
    """A memory region: kind "input" | "output" | "arena"; offset is meaningful for "arena"."""
    id: int
    kind: str
    nbytes: int
    first: int                      # step that first writes it (-1: the caller's input)
    last: int                       # step that last reads it (n_steps: a graph output)
    tensors: list = field(default_factory=list)
    offset: int = 0
    slack: int = 0                  # bytes after the slot a function may read (OVERREAD)

    @property
    def span(self):
        """Bytes the slot occupies in the arena: its data, its slack, rounded up to ALIGN."""
        return _align(self.nbytes + self.slack)


@dataclass
class Step:
    """One node of the graph as the C runs it."""
    index: int
    node: object
    call: object                    # KernelCall, or None for flatten/reshape (no C)
    in_slot: Slot
    out_slot: Slot
    in_ctype: str
    out_ctype: str
    out_bytes: int
    copy_from: Slot | None = None   # memcpy(in_slot <- copy_from) before the call
    in_slots: tuple = ()            # every input's slot, in node.inputs order (add, concat)


@dataclass
class BufferPlan:
    steps: list
    slots: list
    arena_bytes: int
    scratch: dict                   # "bufferA" (bytes, q15_t array) / "bufferB" (bytes, q7_t)
    scratch_users: dict             # "bufferA" -> [c_name, ...] needing the max
    input_ctype: str
    output_ctype: str
    input_bytes: int
    output_bytes: int
    live_lower_bound: int
    ping_pong_bytes: int
    input_pad: tuple | None = None  # (pixels, channels, stored channels): zero channels added in C
    input_copy: str | None = None   # function that reads past its input: memcpy the input first

    @property
    def activation_bytes(self):
        return self.arena_bytes

    @property
    def scratch_bytes(self):
        return sum(self.scratch.values())


def _io_args(sig):
    data = [a for a in sig.args if a.role in ("batched", "inout")]
    out = next((a for a in sig.args if a.role == "out"), None)
    if not data:
        raise ShapeError(f"{sig.name} has no data input argument")
    return data[0], out


def _align(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_buffers(graph, calls) -> BufferPlan:
    """Plan every tensor's storage for `graph` run as `calls` (one KernelCall or None per node).

    Raises ShapeError for graphs the generator does not handle (several inputs or outputs, a
    call whose input and output disagree with the neighbouring calls' sizes).
    """
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ShapeError(f"code generation needs one graph input and one output, got inputs "
                         f"{graph.inputs} and outputs {graph.outputs}")
    nodes = graph.nodes
    n = len(nodes)
    reads = {}
    for i, node in enumerate(nodes):
        for t in node.inputs:
            reads.setdefault(t, []).append(i)
    slots, where = [], {}

    def new_slot(kind, nbytes, first, tensor):
        s = Slot(len(slots), kind, nbytes, first, first, [tensor])
        slots.append(s)
        where[tensor] = s
        return s

    in_t = graph.inputs[0]
    in_ctype = _first_ctype(nodes, calls, in_t)
    esize = ctype_bytes(in_ctype)
    input_pad = input_copy = None
    first_fn, over = _first_overread(nodes, calls, in_t)
    if channel_pad(graph, in_t):
        # a q15 non-square conv needs an even ch_in: the caller's input is widened in C
        shape, stored = graph.tensors[in_t].shape, stored_shape(graph, in_t)
        user = Slot(len(slots), "input", graph.tensors[in_t].size * esize, -1, -1,
                    [f"{in_t} (without zero channels)"])
        slots.append(user)
        new_slot("arena", int(np.prod(stored)) * esize, 0, in_t).slack = over
        input_pad = (graph.tensors[in_t].size // shape[-1], shape[-1], stored[-1])
    elif over:
        # the first function reads past its input: run it on a copy with slack behind it
        nbytes = graph.tensors[in_t].size * esize
        slots.append(Slot(len(slots), "input", nbytes, -1, -1, [f"{in_t} (the caller input)"]))
        new_slot("arena", nbytes, 0, in_t).slack = over
        input_copy = first_fn
    else:
        new_slot("input", graph.tensors[in_t].size * esize, -1, in_t)
    ctype_of = {in_t: in_ctype}
    steps = []
    for i, (node, call) in enumerate(zip(nodes, calls)):
        src_t, dst_t = node.inputs[0], node.outputs[0]
        src = where[src_t]
        if call is None and OPS[node.op].data_move == "copy":   # a copy loop in C, out of place
            dst = new_slot("arena", src.nbytes, i, dst_t)
            ct = ctype_of[dst_t] = ctype_of[src_t]
            steps.append(Step(i, node, None, src, dst, ct, ct, src.nbytes))
            continue
        if call is None:                       # flatten / reshape: same bytes, new name
            src.tensors.append(dst_t)
            where[dst_t] = src
            ctype_of[dst_t] = ctype_of[src_t]
            steps.append(Step(i, node, None, src, src, ctype_of[src_t], ctype_of[src_t], src.nbytes))
            continue
        sig = signature(call.c_name)
        data_arg, out_arg = _io_args(sig)
        if len(node.inputs) > 1:               # add / concat: out of place, several inputs
            ins = tuple(where[t] for t in node.inputs)
            out_bytes = graph.tensors[dst_t].size * ctype_bytes(data_arg.ctype)
            dst = new_slot("arena", out_bytes, i, dst_t)
            ctype_of[dst_t] = data_arg.ctype
            steps.append(Step(i, node, call, src, dst, data_arg.ctype, data_arg.ctype, out_bytes,
                              in_slots=ins))
            continue
        in_bytes = data_arg.size(call.args) * ctype_bytes(data_arg.ctype)
        if in_bytes != src.nbytes:
            raise ShapeError(f"layer {node.name!r:.80}: {call.c_name} reads {in_bytes} bytes but "
                             f"tensor {src_t!r:.80} holds {src.nbytes}")
        src.slack = max(src.slack, OVERREAD.get(call.c_name, {}).get(data_arg.name, 0))
        copy_from = None
        if data_arg.role == "inout" and _needs_copy(src, i, reads, graph.outputs):
            copy_from = src
            src = new_slot("arena", in_bytes, i, f"{src_t}@copy")
        if out_arg is None:                    # in place: the output is the input slot
            dst, out_ctype, out_bytes = src, data_arg.ctype, in_bytes
            src.tensors.append(dst_t)
            where[dst_t] = src
        else:
            out_ctype, out_bytes = out_arg.ctype, out_arg.size(call.args) * ctype_bytes(out_arg.ctype)
            dst = new_slot("arena", out_bytes, i, dst_t)
        ctype_of[dst_t] = out_ctype
        steps.append(Step(i, node, call, src, dst, data_arg.ctype, out_ctype, out_bytes, copy_from))
    for t, idx in reads.items():
        where[t].last = max(where[t].last, max(idx))
    out_t = graph.outputs[0]
    out_slot = where[out_t]
    if out_slot.kind == "input":
        raise ShapeError("the graph output is its input (no layer writes it); nothing to generate")
    out_slot.kind, out_slot.last = "output", n
    arena = [s for s in slots if s.kind == "arena"]
    arena_bytes = _place(arena)
    scratch, users = _scratch(calls)
    in_bytes = graph.tensors[in_t].size * esize
    return BufferPlan(steps, slots, arena_bytes, scratch, users, in_ctype, ctype_of[out_t],
                      in_bytes, out_slot.nbytes, _live_bound(arena, n),
                      2 * max((s.span for s in arena), default=0), input_pad, input_copy)


def _first_ctype(nodes, calls, tensor):
    """C type of a tensor read through flatten/reshape by its first real consumer."""
    for node, call in zip(nodes, calls):
        if tensor in node.inputs:
            if call is not None:
                return _io_args(signature(call.c_name))[0].ctype
            tensor = node.outputs[0]
    raise ShapeError(f"graph input {tensor!r:.80} is read by no CMSIS call")


def _first_overread(nodes, calls, tensor):
    """(function, bytes) when the first CMSIS call reading `tensor` (through flatten/reshape)
    reads past its data input, else (None, 0)."""
    for node, call in zip(nodes, calls):
        if tensor in node.inputs:
            if call is not None:
                data_arg = _io_args(signature(call.c_name))[0]
                over = OVERREAD.get(call.c_name, {}).get(data_arg.name, 0)
                return (call.c_name, over) if over else (None, 0)
            if node.op == "transpose_hw":
                return None, 0
            tensor = node.outputs[0]
    return None, 0


def _needs_copy(slot, step, reads, outputs):
    if slot.kind == "input":
        return True
    later = any(r > step for t in slot.tensors for r in reads.get(t, ()))
    return later or any(t in outputs for t in slot.tensors)


def _place(arena):
    """Greedy interval placement: largest slot first at the lowest non-conflicting offset."""
    placed = []
    for s in sorted(arena, key=lambda s: (-s.span, s.first, s.id)):
        busy = sorted((p.offset, p.offset + p.span) for p in placed
                      if p.first <= s.last and s.first <= p.last)
        off = 0
        for lo, hi in busy:
            if off + s.span <= lo:
                break
            off = max(off, hi)
        s.offset = off
        placed.append(s)
    return max((s.offset + s.span for s in arena), default=0)


def _live_bound(arena, n):
    return max((sum(s.span for s in arena if s.first <= i <= s.last) for i in range(n)),
               default=0)


def _scratch(calls):
    need, users = {"bufferA": 0, "bufferB": 0}, {"bufferA": [], "bufferB": []}
    for call in calls:
        if call is None:
            continue
        for a in signature(call.c_name).args:
            if a.role == "scratch":
                key = SCRATCH_ARGS[a.name]
                b = a.size(call.args) * ctype_bytes(a.ctype)
                if b > need[key]:
                    need[key], users[key] = b, [call.c_name]
                elif b == need[key] and b and call.c_name not in users[key]:
                    users[key].append(call.c_name)
    return need, users
