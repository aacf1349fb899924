"""Check a quantized graph before anything runs or is written from it (minimal version).

MINIMAL VERSION from the `names` branch (issue 11 item 3): the `validate` branch writes the full
validator with this same entry point; when merging, keep that one and make sure it covers the
checks here (codegen calls `validate_quantized(graph)` before emitting anything).

`validate_quantized(graph)` raises ModelFormatError naming the layer or tensor and the bad value
for what simulate would refuse or C would leave undefined:
    scheme, path, release     one of qsim.schemes.SCHEMES, "ref"/"dsp", "5.7.0"/"5.9.0"
    formats                   integer bits 8/16/32 and integer frac_bits within +-4*bits
    shifts                    integer bias_shift / out_shift in 0..31 (kernel_args.check_shift)
    kernels                   a name qsim knows (qsim.cmsis_signatures.SIGNATURES)
"""
import numbers

from .cmsis_signatures import SIGNATURES
from .errors import ModelFormatError
from .kernel_args import PATHS, VERSIONS
from .schemes import SCHEMES

SHIFT_MAX = 31
FRAC_PER_BIT = 4            # |frac_bits| <= 4 * bits


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _fail(graph, where, what):
    raise ModelFormatError(f"model '{graph.name!r:.80}': {where}: {what}. help: re-run `qsim "
                           "quantize` on the float model instead of editing the quantized one")


def _check_format(graph, where, q):
    if q is None:
        return
    bits, frac = getattr(q, "bits", None), getattr(q, "frac_bits", None)
    if not _is_int(bits) or bits not in (8, 16, 32):
        _fail(graph, where, f"format bits {bits!r} is not 8, 16 or 32")
    if not _is_int(frac):
        _fail(graph, where, f"frac_bits {frac!r} is not an integer")
    if abs(frac) > FRAC_PER_BIT * bits:
        _fail(graph, where, f"frac_bits {frac} is outside -{FRAC_PER_BIT * bits}..{FRAC_PER_BIT * bits} "
                            f"for a {bits}-bit format")


def validate_quantized(graph):
    """Raise ModelFormatError for a quantized graph simulate or the C would refuse (see module
    docstring); returns the graph."""
    q = graph.quant
    if q.scheme not in SCHEMES:
        _fail(graph, "quantization", f"scheme {q.scheme!r} is not one of {', '.join(SCHEMES)}")
    if q.path not in PATHS:
        _fail(graph, "quantization", f"path {q.path!r} is not one of {', '.join(PATHS)}")
    if q.version not in VERSIONS:
        _fail(graph, "quantization", f"CMSIS release {q.version!r} is not one of {', '.join(VERSIONS)}")
    for t in graph.tensors.values():
        _check_format(graph, f"tensor {t.name!r:.80}", t.qformat)
    for node in graph.nodes:
        where = f"layer {node.name!r:.80}"
        _check_format(graph, where + " weights", node.weight_q)
        _check_format(graph, where + " bias", node.bias_q)
        for key in ("bias_shift", "out_shift"):
            v = getattr(node, key)
            if v is None:
                continue
            if not _is_int(v):
                _fail(graph, where, f"{key} {v!r} is not an integer")
            if not 0 <= v <= SHIFT_MAX:
                _fail(graph, where, f"{key} {v} is outside 0..{SHIFT_MAX} (C leaves larger shifts "
                                    "undefined)")
        if node.kernel is not None and node.kernel not in SIGNATURES:
            _fail(graph, where, f"kernel {node.kernel!r:.80} is not a legacy CMSIS-NN function qsim knows")
    return graph
