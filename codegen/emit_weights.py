"""Write `<name>_weights.h`: every weight and bias array as `static const` C data (flash).

The arrays are exactly the KernelCall's const arguments, already in CMSIS storage order (conv
OHWI, depthwise HWC, FC row-major or interleaved for the `_opt` functions, semantics doc §2), so
nothing is reordered here. The header defines data: include it from one .c file only (the
generated `<name>.c` does).
"""
import numpy as np

from qsim.cmsis_signatures import CTYPES
from qsim.companion_signatures import signature
from qsim.errors import ShapeError
from qsim.names import Namer, c_ident, comment_text

from .buffer_plan import OVERREAD

PER_LINE = {"q7_t": 16, "q15_t": 12}
ROLE_NAME = {"wt": "weights", "pM": "weights", "bias": "bias"}
STORAGE = {
    "wt": "OHWI (ch_im_out, ky, kx, ch_im_in)",
    "pM": "row-major (num_of_rows, dim_vec)",
}


def array_name(prefix, node, arg):
    """The wanted C name of a node's array (emit_weights makes it unique with a Namer)."""
    return f"{prefix}_{c_ident(node.name, 'layer')}_{ROLE_NAME.get(arg, c_ident(arg))}"


def _storage(c_name, arg):
    if arg == "wt" and c_name.startswith("arm_depthwise"):
        return "HWC (ky, kx, ch)"
    if arg == "pM" and c_name.endswith("_opt"):
        return f"interleaved for {c_name} (semantics doc section 2)"
    return STORAGE.get(arg, "")


def _qformat(node, arg):
    q = node.bias_q if arg == "bias" else node.weight_q
    return f", {comment_text(q)}" if q is not None else ""


def format_array(ctype, name, values, comment, slack=0):
    """`/* comment */ static const <ctype> name[n + slack] = { ... };` with fixed-width columns;
    `comment` must already be inert (qsim.names.comment_text); the `slack` extra elements are 0."""
    values = np.asarray(values).reshape(-1)
    if slack:
        values = np.concatenate([values, np.zeros(slack, values.dtype)])
    width = 4 if ctype == "q7_t" else 6
    per = PER_LINE.get(ctype, 8)
    rows = [", ".join(f"{int(v):{width}d}" for v in values[i:i + per])
            for i in range(0, len(values), per)]
    body = ",\n".join("   " + r for r in rows)
    return f"/* {comment} */\nstatic const {ctype} {name}[{len(values)}] = {{\n{body}\n}};\n"


def emit_weights(graph, calls, prefix, provenance, namer=None):
    """Text of `<prefix>_weights.h` and the C names of the arrays.

    Parameters
    ----------
    graph : quantized Graph; calls : one KernelCall or None per node; prefix : C name prefix
    provenance : the first comment line (see emit_network.provenance_line)
    namer : qsim.names.Namer holding the identifiers already used (array names are made unique:
        nodes `a-b` and `a_b` get `<prefix>_a_b_weights` and `<prefix>_a_b_weights_2`)

    An array of a function that reads past the end of that argument (buffer_plan.OVERREAD; no
    weight or bias array today, see the audit there) is followed by that many zero bytes, rounded
    up to whole elements, so the read stays inside the array. The sizes in the comments and the
    KernelCall are the nominal ones; the padding is counted in nbytes (flash).

    Returns
    -------
    (text, refs, nbytes): refs maps (node index, C argument name) -> array name; nbytes is the
    total size of the arrays (flash).
    """
    guard = f"{prefix.upper()}_WEIGHTS_H"
    namer = namer if namer is not None else Namer()
    parts = [provenance, f"/* Weights and biases of '{comment_text(graph.name)}' in CMSIS-NN storage order. "
             "Defines data: include from one .c file only. */",
             f"#ifndef {guard}", f"#define {guard}", "", f'#include "{prefix}.h"', ""]
    refs, nbytes = {}, 0
    for i, (node, call) in enumerate(zip(graph.nodes, calls)):
        if call is None:
            continue
        for a in signature(call.c_name).args:
            if a.role != "const":
                continue
            values = np.asarray(call.args[a.name])
            want = a.size(call.args)
            if values.size != want:
                raise ShapeError(f"layer {node.name!r:.80}: {call.c_name} argument {a.name} has "
                                 f"{values.size} values, the C reads {want}")
            if values.dtype != np.dtype(CTYPES[a.ctype]):
                values = values.astype(CTYPES[a.ctype])
            name = namer.take(array_name(prefix, node, a.name))
            refs[(i, a.name)] = name
            slack = -(-OVERREAD.get(call.c_name, {}).get(a.name, 0) // values.itemsize)
            nbytes += values.nbytes + slack * values.itemsize
            shape = "x".join(str(d) for d in np.shape(call.args[a.name]))
            storage = _storage(call.c_name, a.name)
            comment = (f"{comment_text(node.name)}: {a.name} of {call.c_name}, {shape} {a.ctype}"
                       + (f", {storage}" if storage else "") + _qformat(node, a.name))
            if slack:
                comment += f", + {slack} zero(s) of slack"
            parts.append(format_array(a.ctype, name, values, comment, slack))
    parts += [f"#endif /* {guard} */", ""]
    return "\n".join(parts), refs, nbytes
