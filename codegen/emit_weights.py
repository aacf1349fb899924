"""Write `<name>_weights.h`: every weight and bias array as `static const` C data (flash).

The arrays are exactly the KernelCall's const arguments, already in CMSIS storage order (conv
OHWI, depthwise HWC, FC row-major or interleaved for the `_opt` functions, semantics doc §2), so
nothing is reordered here. The header defines data: include it from one .c file only (the
generated `<name>.c` does).
"""
import numpy as np

from qsim.cmsis_signatures import CTYPES, SIGNATURES

PER_LINE = {"q7_t": 16, "q15_t": 12}
ROLE_NAME = {"wt": "weights", "pM": "weights", "bias": "bias"}
STORAGE = {
    "wt": "OHWI (ch_im_out, ky, kx, ch_im_in)",
    "pM": "row-major (num_of_rows, dim_vec)",
}


def c_ident(text):
    """A C identifier made from `text` (other characters become '_', never a leading digit)."""
    out = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in text)
    return out if out and not out[0].isdigit() else "_" + out


def array_name(prefix, node, arg):
    return f"{prefix}_{c_ident(node.name)}_{ROLE_NAME.get(arg, c_ident(arg))}"


def _storage(c_name, arg):
    if arg == "wt" and c_name.startswith("arm_depthwise"):
        return "HWC (ky, kx, ch)"
    if arg == "pM" and c_name.endswith("_opt"):
        return f"interleaved for {c_name} (semantics doc §2)"
    return STORAGE.get(arg, "")


def _qformat(node, arg):
    q = node.bias_q if arg == "bias" else node.weight_q
    return f", {q}" if q is not None else ""


def format_array(ctype, name, values, comment):
    """`/* comment */ static const <ctype> name[n] = { ... };` with fixed-width columns."""
    values = np.asarray(values).reshape(-1)
    width = 4 if ctype == "q7_t" else 6
    per = PER_LINE.get(ctype, 8)
    rows = [", ".join(f"{int(v):{width}d}" for v in values[i:i + per])
            for i in range(0, len(values), per)]
    body = ",\n".join("   " + r for r in rows)
    return f"/* {comment} */\nstatic const {ctype} {name}[{len(values)}] = {{\n{body}\n}};\n"


def emit_weights(graph, calls, prefix, provenance):
    """Text of `<prefix>_weights.h` and the C names of the arrays.

    Parameters
    ----------
    graph : quantized Graph; calls : one KernelCall or None per node; prefix : C name prefix
    provenance : the first comment line (see emit_network.provenance_line)

    Returns
    -------
    (text, refs, nbytes): refs maps (node index, C argument name) -> array name; nbytes is the
    total size of the arrays (flash).
    """
    guard = f"{prefix.upper()}_WEIGHTS_H"
    parts = [provenance, f"/* Weights and biases of '{graph.name}' in CMSIS-NN storage order. "
             "Defines data: include from one .c file only. */",
             f"#ifndef {guard}", f"#define {guard}", "", f'#include "{prefix}.h"', ""]
    refs, nbytes = {}, 0
    for i, (node, call) in enumerate(zip(graph.nodes, calls)):
        if call is None:
            continue
        for a in SIGNATURES[call.c_name].args:
            if a.role != "const":
                continue
            values = np.asarray(call.args[a.name])
            want = a.size(call.args)
            if values.size != want:
                raise ValueError(f"layer '{node.name}': {call.c_name} argument {a.name} has "
                                 f"{values.size} values, the C reads {want}")
            if values.dtype != np.dtype(CTYPES[a.ctype]):
                values = values.astype(CTYPES[a.ctype])
            name = array_name(prefix, node, a.name)
            refs[(i, a.name)] = name
            nbytes += values.nbytes
            shape = "x".join(str(d) for d in np.shape(call.args[a.name]))
            storage = _storage(call.c_name, a.name)
            comment = (f"{node.name}: {a.name} of {call.c_name}, {shape} {a.ctype}"
                       + (f", {storage}" if storage else "") + _qformat(node, a.name))
            parts.append(format_array(a.ctype, name, values, comment))
    parts += [f"#endif /* {guard} */", ""]
    return "\n".join(parts), refs, nbytes
