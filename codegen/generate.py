"""Generate the C sources of a quantized graph and write them to a folder atomically.

Files (all deterministic: same graph and name -> same bytes):
    <name>.h          API: <name>_run, sizes, formats, the optional qsim_tap hook
    <name>.c          one CMSIS-NN call per node, the static arena and scratch
    <name>_weights.h  const weight / bias arrays (flash)
    <name>.mk         Makefile snippet; <name>.cmake: CMake snippet
    qsim_*.c / .h     the qsim companion kernels the network calls (qsim's own C for layers legacy
                      CMSIS-NN has no function for, codegen/companion/), copied beside it; the
                      snippets list them with the network
The folder is written under a temporary name next to the target and renamed into place; an
existing folder is refused unless force=True (then it is replaced).
"""
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cmsis_nn.locate import SOURCES
from qsim.errors import OutputExistsError, ShapeError
from qsim.lower import kernel_call
from qsim.names import Namer, c_prefix, make_comment
from qsim.validate import validate_quantized

from .buffer_plan import BufferPlan, plan_buffers
from .emit_network import default_prefix, emit_header, emit_source, provenance_line
from .emit_weights import emit_weights


@dataclass
class GeneratedNetwork:
    name: str
    files: dict            # file name -> text
    plan: BufferPlan
    weight_bytes: int
    calls: list            # KernelCall or None per node


def lower_graph(graph):
    """One KernelCall (or None for flatten/reshape) per node, in graph order. The graph is checked
    first (qsim.validate.validate_quantized): codegen never writes what simulate would refuse."""
    if graph.quant.scheme is None:
        raise ShapeError("code generation needs a quantized graph; help: run `qsim quantize` first")
    validate_quantized(graph)
    graph.require_hwc("codegen")
    return [kernel_call(graph, node) for node in graph.nodes]


COMPANION_DIR = Path(__file__).resolve().parent / "companion"
COMPANION_HEADERS = ("qsim_companion.h", "qsim_companion_util.h")


def companion_sources(files) -> list:
    """Names of the companion .c files among a GeneratedNetwork's files (what a build compiles
    beside <name>.c)."""
    from qsim.companion_signatures import COMPANION_SIGNATURES
    known = {f.c_file for f in COMPANION_SIGNATURES.values()}
    return sorted(f for f in files if f in known)


def companion_files(calls) -> dict:
    """{file name: text} of the companion C sources (+ headers) the calls use; empty if none."""
    from qsim.companion_signatures import COMPANION_SIGNATURES
    used = sorted({COMPANION_SIGNATURES[c.c_name].c_file for c in calls
                   if c is not None and c.c_name in COMPANION_SIGNATURES})
    if not used:
        return {}
    return {f: (COMPANION_DIR / f).read_text() for f in (*COMPANION_HEADERS, *used)}


WEIGHT_STYLES = ("c", "mlkws")


def render(graph, name=None, source=None, weights_style="c") -> GeneratedNetwork:
    """All generated files as text, without touching the disk.

    name : C prefix of every symbol and file (default: the graph name); source : model name in
    the provenance line (default: the graph name). Both are mapped to safe text by qsim.names:
    the prefix to a lower-case C identifier that shadows no CMSIS, C library or harness name
    (`arm_nnfunctions` -> `net_arm_nnfunctions`), the names in comments to escaped ASCII.
    weights_style "mlkws" also writes the weights as ML-KWS-style #define macros plus their
    `qsim import-c` spec (codegen.emit_defines).
    """
    if weights_style not in WEIGHT_STYLES:
        raise ShapeError(f"weights_style must be one of {WEIGHT_STYLES}, got {weights_style!r}")
    prefix = c_prefix(name) if name else default_prefix(graph)
    calls = lower_graph(graph)
    plan = plan_buffers(graph, calls)
    prov = provenance_line(graph, source)
    namer = Namer(f"{prefix}_{s}" for s in ("run", "arena", "arena_bytes", "bufferA", "bufferB"))
    weights, refs, weight_bytes = emit_weights(graph, calls, prefix, prov, namer)
    companion = companion_files(calls)
    extra = [f for f in companion if f.endswith(".c")]
    clash = [f for f in (f"{prefix}.c", f"{prefix}.h") if f in companion]
    if clash:
        raise ShapeError(f"network name {prefix!r} would overwrite the companion kernel file "
                         f"{clash[0]}; help: choose another name (-n)")
    files = {
        f"{prefix}.h": emit_header(graph, plan, prefix, prov, weight_bytes),
        f"{prefix}.c": emit_source(graph, plan, prefix, prov, refs),
        f"{prefix}_weights.h": weights,
        f"{prefix}.mk": makefile_snippet(prefix, prov, extra),
        f"{prefix}.cmake": cmake_snippet(prefix, prov, extra),
        **companion,
    }
    if weights_style == "mlkws":
        from .emit_defines import render_mlkws
        try:
            files.update(render_mlkws(graph, calls, prefix, prov))
        except ValueError as e:
            raise ShapeError(str(e)) from None
    return GeneratedNetwork(prefix, files, plan, weight_bytes, calls)


def _cmsis_list(indent):
    return f" \\\n{indent}".join(f"CMSIS/NN/Source/{s}" for s in SOURCES)


def _comment_body(prov):
    """The text of a `/* ... */` provenance line, for a `#` comment (make_comment checks it)."""
    body = prov.strip()
    if body.startswith("/*") and body.endswith("*/"):
        body = body[2:-2].strip()
    return body


def makefile_snippet(prefix, prov, companion=()):
    """Makefile snippet: every line is a `#` comment or an assignment of our own text; the prefix
    is a C identifier (qsim.names.c_prefix), the provenance an inert one-line comment."""
    prefix = c_prefix(prefix)
    up = prefix.upper()
    return "\n".join([
        make_comment(_comment_body(prov)),
        f"# include {prefix}.mk from your Makefile, set CMSIS_PATH to a CMSIS_5 5.7.0/5.9.0 checkout, then",
        f"# add $(QSIM_{up}_SRCS) to your sources and $(QSIM_{up}_CFLAGS) to CFLAGS.",
        "# Only the CMSIS-NN functions the network calls are linked with -Wl,--gc-sections.",
        f"QSIM_{up}_DIR := $(dir $(lastword $(MAKEFILE_LIST)))",
        f"QSIM_{up}_CMSIS_SRCS := $(addprefix $(CMSIS_PATH)/, \\\n    {_cmsis_list('    ')})",
        *(["# qsim companion kernels (qsim's own C, not CMSIS-NN) the network calls:",
           f"QSIM_{up}_COMPANION_SRCS := " + " ".join(f"$(QSIM_{up}_DIR){c}" for c in companion)]
          if companion else []),
        f"QSIM_{up}_SRCS := $(QSIM_{up}_DIR){prefix}.c "
        + (f"$(QSIM_{up}_COMPANION_SRCS) " if companion else "") + f"$(QSIM_{up}_CMSIS_SRCS)",
        f"QSIM_{up}_CFLAGS := -I$(QSIM_{up}_DIR) -I$(CMSIS_PATH)/CMSIS/NN/Include "
        "-I$(CMSIS_PATH)/CMSIS/DSP/Include -I$(CMSIS_PATH)/CMSIS/Core/Include "
        "-fno-strict-aliasing -ffunction-sections -fdata-sections",
        "# per-layer outputs for debugging: add -DQSIM_TAPS and define qsim_tap() (see "
        f"{prefix}.h)", ""])


def cmake_snippet(prefix, prov, companion=()):
    """CMake snippet, made like makefile_snippet."""
    prefix = c_prefix(prefix)
    return "\n".join([
        make_comment(_comment_body(prov)),
        f"# include({prefix}.cmake) with CMSIS_PATH set; then link your target with qsim_{prefix}.",
        f"set(QSIM_{prefix.upper()}_CMSIS_SOURCES\n    "
        + "\n    ".join(f"${{CMSIS_PATH}}/CMSIS/NN/Source/{s}" for s in SOURCES) + ")",
        *(["# qsim companion kernels (qsim's own C, not CMSIS-NN) the network calls",
           f"set(QSIM_{prefix.upper()}_COMPANION_SOURCES "
           + " ".join(f"${{CMAKE_CURRENT_LIST_DIR}}/{c}" for c in companion) + ")"]
          if companion else []),
        f"add_library(qsim_{prefix} STATIC ${{CMAKE_CURRENT_LIST_DIR}}/{prefix}.c "
        + (f"${{QSIM_{prefix.upper()}_COMPANION_SOURCES}} " if companion else "")
        + f"${{QSIM_{prefix.upper()}_CMSIS_SOURCES}})",
        f"target_include_directories(qsim_{prefix} PUBLIC ${{CMAKE_CURRENT_LIST_DIR}}\n"
        "    ${CMSIS_PATH}/CMSIS/NN/Include ${CMSIS_PATH}/CMSIS/DSP/Include "
        "${CMSIS_PATH}/CMSIS/Core/Include)",
        f"target_compile_options(qsim_{prefix} PRIVATE -fno-strict-aliasing)", ""])


def write_network(graph, out_dir, name=None, force=False, source=None,
                  weights_style="c") -> GeneratedNetwork:
    """Render and write the files into `out_dir` (atomically); returns the GeneratedNetwork.

    Raises OutputExistsError when out_dir exists and force is False.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise OutputExistsError(f"{out_dir} already exists. help: pass --force to replace it, or "
                                "choose another -o folder")
    gen = render(graph, name, source, weights_style)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    old = None
    try:
        for fname, text in gen.files.items():
            (tmp / fname).write_text(text)
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.replace(out_dir, old / "x")
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return gen
