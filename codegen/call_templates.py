"""One C call template per CMSIS-NN function family (and one per qsim companion kernel, all its
arguments in prototype order), filled from a lowered KernelCall (hls4ml style).

A template is the C call text with one `{placeholder}` per C argument, in the prototype's order
(qsim.cmsis_signatures; tests/codegen/test_golden.py checks the orders agree). `format_call(call,
refs)` fills scalars from `call.args` and pointers from `refs` (C expressions chosen by
emit_network from the buffer plan: arena slots, weight arrays, scratch or NULL). Functions that
return arm_status are wrapped so a SIZE_MISMATCH makes `<name>_run` return the 1-based layer number.
"""
from qsim.cmsis_signatures import SIGNATURES
from qsim.companion_signatures import COMPANION_SIGNATURES, signature

# C argument order, broken into lines by role (input, weights, bias + shifts, output + scratch)
CONV = ("{fn}({Im_in}, {dim_im_in}, {ch_im_in},\n"
        "{wt}, {ch_im_out}, {dim_kernel}, {padding}, {stride},\n"
        "{bias}, {bias_shift}, {out_shift},\n"
        "{Im_out}, {dim_im_out}, {bufferA}, {bufferB})")
CONV_NONSQUARE = (
    "{fn}({Im_in}, {dim_im_in_x}, {dim_im_in_y}, {ch_im_in},\n"
    "{wt}, {ch_im_out}, {dim_kernel_x}, {dim_kernel_y}, {padding_x}, {padding_y}, {stride_x}, {stride_y},\n"
    "{bias}, {bias_shift}, {out_shift},\n"
    "{Im_out}, {dim_im_out_x}, {dim_im_out_y}, {bufferA}, {bufferB})")
FC = ("{fn}({pV}, {pM}, {dim_vec}, {num_of_rows},\n"
      "{bias_shift}, {out_shift}, {bias},\n"
      "{pOut}, {vec_buffer})")
POOL = ("{fn}({Im_in}, {dim_im_in}, {ch_im_in},\n"
        "{dim_kernel}, {padding}, {stride}, {dim_im_out}, {bufferA}, {Im_out})")
RELU = "{fn}({data}, {size})"
ACTIVATION = "{fn}({data}, {size}, {int_width}, {type})"
SOFTMAX = "{fn}({vec_in}, {dim_vec}, {p_out})"
SOFTMAX_BATCH = "{fn}({vec_in}, {nb_batches}, {dim_vec}, {p_out})"
WIDEN = "{fn}({pSrc}, {pDst}, {blockSize})"

_CONV_NAMES = [n for n in SIGNATURES if n.startswith(("arm_convolve", "arm_depthwise"))]
TEMPLATES = {
    **{n: CONV_NONSQUARE if n.endswith("nonsquare") else CONV for n in _CONV_NAMES},
    **{n: FC for n in SIGNATURES if n.startswith("arm_fully_connected")},
    "arm_maxpool_q7_HWC": POOL, "arm_avepool_q7_HWC": POOL,
    "arm_relu_q7": RELU, "arm_relu_q15": RELU,
    "arm_nn_activations_direct_q7": ACTIVATION, "arm_nn_activations_direct_q15": ACTIVATION,
    "arm_softmax_q7": SOFTMAX, "arm_softmax_q15": SOFTMAX,
    "arm_softmax_with_batch_q7": SOFTMAX_BATCH,
    "arm_q7_to_q15_no_shift": WIDEN,          # mixed precision: a requantize that keeps the format
}

def _companion_template(sig):
    """qsim companion kernels: every argument in prototype order, six to a line."""
    names = [f"{{{a.name}}}" for a in sig.args]
    rows = [", ".join(names[i:i + 6]) for i in range(0, len(names), 6)]
    return "{fn}(" + ",\n".join(rows) + ")"


TEMPLATES.update({n: _companion_template(f) for n, f in COMPANION_SIGNATURES.items()})
ACTIVATION_TYPES = {0: "ARM_SIGMOID", 1: "ARM_TANH"}
INDENT = "    "


def scalar_text(c_name, arg, value):
    """C text of one scalar argument (enum names for the activation type)."""
    if arg == "type" and c_name.startswith("arm_nn_activations"):
        return ACTIVATION_TYPES[int(value)]
    return str(int(value))


def format_call(call, refs, layer_number, indent=INDENT):
    """C statement(s) running `call`; `refs` maps every pointer argument name to a C expression.

    Parameters
    ----------
    call : KernelCall (c_name, args with every scalar argument)
    refs : dict C-arg-name -> C expression for the pointer arguments
    layer_number : 1-based number returned by `<name>_run` if the function reports an error

    Returns
    -------
    str: the statement lines, each starting with `indent`, without a trailing newline.
    """
    sig = signature(call.c_name)
    template = TEMPLATES.get(call.c_name)
    if template is None:
        raise KeyError(f"no C call template for {call.c_name}")
    fill = {"fn": call.c_name}
    for a in sig.args:
        fill[a.name] = scalar_text(call.c_name, a.name, call.args[a.name]) if a.role == "scalar" \
            else refs[a.name]
    text = template.format(**fill)
    if sig.returns in ("arm_status", "int32_t"):
        first, *rest = text.split("\n")
        lines = [f"if ({first}"] + rest
        lines[-1] += (" != ARM_MATH_SUCCESS) {" if sig.returns == "arm_status"
                      else " != QSIM_SUCCESS) {")
        cont = " " * (len("if (") + len(call.c_name) + 1)
        out = [indent + lines[0]] + [indent + cont + ln for ln in lines[1:]]
        out += [f"{indent}{INDENT}return {layer_number};", f"{indent}}}"]
        return "\n".join(out)
    first, *rest = text.split("\n")
    cont = " " * (len(call.c_name) + 1)
    return "\n".join([indent + first] + [indent + cont + ln for ln in rest]) + ";"


def template_arg_order(c_name):
    """Placeholder names of a template in order (without 'fn'), for the consistency test."""
    import string
    return [f for _, f, _, _ in string.Formatter().parse(TEMPLATES[c_name]) if f and f != "fn"]
