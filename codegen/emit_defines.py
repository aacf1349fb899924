"""ML-KWS-style weights: every array as a `#define NAME {...}` and every shift as a `#define`.

`qsim codegen --weights-style mlkws` writes `<prefix>_mlkws_weights.h` (the style of Arm's
ML-KWS-for-MCU `*_weights.h`: CONV1_WT, CONV1_BIAS, CONV1_BIAS_LSHIFT, CONV1_OUT_RSHIFT) and
`<prefix>_mlkws_spec.json`, the `qsim import-c` spec naming those macros, so that a model can be
exported, edited by hand and imported back (`qsim import-c H --spec SPEC`). Arrays are exactly
the KernelCall's const arguments (CMSIS storage order, interleaved for `_opt` kernels), so the
integers are those that were simulated.
"""
import json

import numpy as np

from qsim.lower import stored_shape
from qsim.names import c_ident, comment_text
from qsim.ops import OPS


def macro_name(text):
    """An upper-case C macro name made from a layer name (qsim.names.c_ident, upper-cased)."""
    return c_ident(text, "LAYER").upper()


def _array_define(name, values, per_line=16):
    values = np.asarray(values).reshape(-1)
    rows = [", ".join(str(int(v)) for v in values[i:i + per_line])
            for i in range(0, len(values), per_line)]
    return f"#define {name} {{" + ", \\\n    ".join(rows) + "}"


def _layer_macros(graph):
    """{node name: macro prefix}, unique even when two names sanitize alike."""
    out, used = {}, set()
    for n in graph.nodes:
        base = macro_name(n.name)
        m, k = base, 2
        while m in used:
            m, k = f"{base}_{k}", k + 1
        used.add(m)
        out[n.name] = m
    return out


def render_mlkws(graph, calls, prefix, provenance):
    """{file name: text}: the #define header and the import spec of a quantized graph."""
    if any(n.pad_ch_in or n.pad_ch_out for n in graph.nodes):
        raise ValueError("ML-KWS-style export of a graph with zero padding channels is not "
                         "supported (its arrays include the padding); re-quantize so no layer "
                         "needs channel padding")
    macros = _layer_macros(graph)
    guard = f"{macro_name(prefix)}_MLKWS_WEIGHTS_H"
    lines = [provenance, f"/* '{comment_text(graph.name)}' as ML-KWS-style macros: arrays in "
             "CMSIS-NN storage "
             "order, bias left shifts and output right shifts. Import with `qsim import-c`. */",
             f"#ifndef {guard}", f"#define {guard}", ""]
    inp = graph.tensors[graph.inputs[0]]
    spec = {"name": graph.name, "path": graph.quant.path, "release": graph.quant.version,
            "truncate": graph.quant.truncate,
            "input": {"name": graph.inputs[0], "shape": list(inp.shape), "bits": inp.qformat.bits},
            "layers": []}
    known = graph.meta.get("intnet", {}).get("float_scale") != "unknown"
    if known:
        spec["input"]["frac_bits"] = inp.qformat.frac_bits
    for node, call in zip(graph.nodes, calls):
        m = macros[node.name]
        layer = {"name": node.name}
        layer.update({"kernel": node.kernel} if node.kernel else {"op": node.op})
        if OPS[node.op].window:
            layer.update(kernel_shape=list(node.attrs["kernel_shape"]),
                         strides=list(node.attrs["strides"]), pads=list(node.attrs["pads"]))
            if "pads_end" in node.attrs or node.attrs.get("ceil_mode"):   # the C's output size
                layer["out"] = list(graph.tensors[node.output].shape[:2])
        if node.kernel and node.kernel.startswith("qsim_"):   # a companion's own scalars
            layer.update({k: int(call.args[k]) for k in ("out_lshift", "count_include_pad",
                                                         "rounding", "min_val", "max_val")
                          if k in call.args})
        if node.op == "reshape":
            layer["shape"] = list(node.attrs["shape"])
        if node.op in ("sigmoid", "tanh"):
            layer["op"] = node.op
            layer["int_width"] = int(call.args["int_width"])
        if OPS[node.op].weighted:
            wkey = "wt" if "wt" in call.args else "pM"
            lines.append(f"/* {comment_text(node.name)}: {call.c_name}, weights {node.weight_q}, bias "
                         f"{node.bias_q}, output {graph.output_q(node)} */")
            lines.append(_array_define(f"{m}_WT", call.args[wkey]))
            lines.append(_array_define(f"{m}_BIAS", call.args["bias"]))
            lines.append(f"#define {m}_BIAS_LSHIFT {int(node.bias_shift)}")
            lines.append(f"#define {m}_OUT_RSHIFT {int(node.out_shift)}")
            lines.append("")
            layer.update(weight=f"{m}_WT", bias=f"{m}_BIAS", bias_shift=f"{m}_BIAS_LSHIFT",
                         out_shift=f"{m}_OUT_RSHIFT")
            if node.op == "conv":
                layer["ch_out"] = int(stored_shape(graph, node.output)[-1])
            if known:
                layer["weight_frac"] = node.weight_q.frac_bits
        spec["layers"].append(layer)
    lines += [f"#endif /* {guard} */", ""]
    return {f"{prefix}_mlkws_weights.h": "\n".join(lines),
            f"{prefix}_mlkws_spec.json": json.dumps(spec, indent=1) + "\n"}
