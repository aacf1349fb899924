"""Names are data, never code (issue 11 items 1-4): hostile and colliding names through codegen and
a real compile; Make/CMake snippets run by make and cmake; codegen refuses what simulate refuses;
the code-size step surfaces compile failures; over-reading kernels get slack.

Nothing here executes generated code except through the stand-in harness where said; the check
that nothing a name carries can run is structural: the object defines only `<prefix>_run`, has no
constructor sections, and every generated line is printable ASCII.
"""
import json
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmsis_nn.standin import include_dirs
from codegen.buffer_plan import plan_buffers
from codegen.generate import lower_graph, render, write_network
from codegen.memory_report import measure_code_size
from qsim.calibrate import calibrate
from qsim.errors import BuildError, ModelFormatError
from qsim.fixedpoint import QFormat
from qsim.importers.spec import Sequential
from qsim.names import (C_HEADERS, C_KEYWORDS, Namer, c_ident, c_prefix, comment_text,
                        make_comment)
from qsim.quantize import quantize
from tests.codegen._models import tiny_q7

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed")
PAYLOAD = ('in */ int system(const char *); __attribute__((constructor)) static void p(void)'
           '{(void)system("touch /tmp/x");} /* ')
PIECES = ["*/", "/*", "//", "\\", "\n", "\r", "??/", "??=", "$(shell touch x)", "${X}", "`", '"',
          "'", "#", "\u00bd", "\u00e9", "\x00", "\x7f", "\u2028", "arm_nnfunctions", "arm_math",
          "int", "string", "__", "_A", "9", "-", "a", "_", " ", "qsim_tap", PAYLOAD]
hostile = st.one_of(st.lists(st.sampled_from(PIECES), max_size=5).map("".join),
                    st.text(max_size=12)).filter(bool)   # an empty name is refused by qsim.validate


def _rename_tensor(g, old, new):
    t = g.tensors.pop(old)
    t.name = new
    g.tensors[new] = t
    for node in g.nodes:
        node.inputs = [new if x == old else x for x in node.inputs]
        node.outputs = [new if x == old else x for x in node.outputs]
    g.inputs = [new if x == old else x for x in g.inputs]
    g.outputs = [new if x == old else x for x in g.outputs]


def _hostile_graph(names):
    """tiny_q7 with its graph, node and tensor names taken from `names` (cycled)."""
    g = tiny_q7()
    pick = lambda i: names[i % len(names)] if names else ""
    g.name = pick(0)
    for i, node in enumerate(g.nodes):
        node.name = f"{i}:{pick(i + 1)}"        # unique (validate refuses a layer name twice:
                                                # the index before the first ':' tells them
                                                # apart); their C identifiers may still collide
    for i, t in enumerate(list(g.tensors)):
        _rename_tensor(g, t, f"{pick(i + 2)}#{i}")   # tensor names stay unique (graph invariant)
    return g


def _refused(g):
    """Whether qsim.validate refuses a name of g: an unprintable character (control characters,
    NUL, unpaired surrogates) or more than MAX_NAME characters."""
    from qsim.validate import MAX_NAME
    return any(not s.isprintable() or len(s) > MAX_NAME
               for s in [g.name, *g.tensors, *(n.name for n in g.nodes)])


def _check_inert(gen, folder):
    """Every file printable ASCII; the object defines only <prefix>_run and has no constructors."""
    assert re.fullmatch(r"[a-z][a-z0-9_]*", gen.name) and "__" not in gen.name
    for fname, text in gen.files.items():
        assert re.fullmatch(r"[\x20-\x7e\n]*", text), fname
        assert "??" not in text and "\\\n" not in text.replace(" \\\n", ""), fname
    for ext in (".mk", ".cmake"):
        first = gen.files[gen.name + ext].splitlines()[0]
        assert first.startswith("# ") and "$" not in first
    obj = folder / "net.o"
    cmd = [GCC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{folder}",
           *(f"-I{d}" for d in include_dirs()), "-c", str(folder / f"{gen.name}.c"), "-o", str(obj)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    nm = subprocess.run(["nm", "--defined-only", "-g", str(obj)], capture_output=True, text=True)
    assert [ln.split()[-1] for ln in nm.stdout.splitlines()] == [f"{gen.name}_run"]
    sections = subprocess.run(["objdump", "-h", str(obj)], capture_output=True, text=True).stdout
    assert not re.search(r"\.(init_array|ctors|fini_array|dtors|preinit_array)", sections)


@needs_gcc
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(hostile, min_size=1, max_size=8))
def test_hostile_names_compile_to_inert_c(tmp_path_factory, names):
    folder = tmp_path_factory.mktemp("n") / "c"
    g = _hostile_graph(names)
    if _refused(g):
        with pytest.raises(ModelFormatError, match="unprintable character|characters"):
            write_network(g, folder)
        assert not folder.exists()
        return
    gen = write_network(g, folder)
    _check_inert(gen, folder)


@given(text=st.text())
def test_name_mapping_properties(text):
    ident = c_ident(text)
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", ident) and "__" not in ident
    assert not ident.endswith("_")
    p = c_prefix(text)
    assert re.fullmatch(r"[a-z][a-z0-9_]*", p) and c_prefix(p) == p and len(p) <= 24
    assert len(ident) <= 40
    assert p not in C_KEYWORDS and p not in C_HEADERS and not p.startswith(("arm_", "qsim_"))
    c = comment_text(text)
    assert re.fullmatch(r"[\x20-\x7e]*", c)
    for bad in ("*/", "/*", "//", "??", "$", "`", "\\\n"):
        assert bad not in c
    make_comment(c)                              # accepted as inert
    assert len(c) <= 4 * 10 * 80 + 3


def test_collisions_are_resolved_deterministically():
    n = Namer()
    assert [n.take(c_ident(s)) for s in ("a-b", "a_b", "a b", "a_b_2")] == \
        ["a_b", "a_b_2", "a_b_3", "a_b_2_2"]
    g = tiny_q7()
    conv, fc = (x for x in g.nodes if x.op in ("conv", "fc"))
    conv.name, fc.name = "a-b", "a_b"
    text = render(g).files["tiny_q7_weights.h"]
    assert "tiny_q7_a_b_weights[" in text and "tiny_q7_a_b_weights_2[" in text
    assert render(g).files == render(g).files


@pytest.mark.parametrize("name,prefix", [("arm_nnfunctions", "net_arm_nnfunctions"),
                                         ("arm_math", "net_arm_math"), ("\u00bdnet", "net"),
                                         ("string", "net_string"), ("9lives", "n9lives"),
                                         ("My-Net", "my_net"), ("qsim_host", "net_qsim_host"),
                                         ("x" * 200, "x" * 24),
                                         ("arm_" + "y" * 200, "net_arm_" + "y" * 16)])
def test_prefix_never_shadows_a_header(name, prefix):
    g = tiny_q7()
    g.name = name
    gen = render(g)
    assert gen.name == prefix and f"{prefix}.h" in gen.files
    assert render(tiny_q7(), name=name).name == prefix


@needs_gcc
def test_issue_payload_in_every_name(tmp_path):
    g = _hostile_graph([PAYLOAD])
    gen = write_network(g, tmp_path / "c", source=PAYLOAD)
    _check_inert(gen, tmp_path / "c")
    assert "*/ int system" not in "".join(gen.files.values())


# -- Make / CMake ---------------------------------------------------------------------------------
MAKE_EVIL = "m\n$(shell touch {d}/pwned_make)\n${{shell touch {d}/pwned_make2}}"
CMAKE_EVIL = 'm\nexecute_process(COMMAND touch {d}/pwned_cmake)\n#[[\n]]'


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_snippet_runs_nothing(tmp_path):
    evil = MAKE_EVIL.format(d=tmp_path)
    gen = write_network(tiny_q7(), tmp_path / "c", name=evil, source=evil)
    mk = tmp_path / "c" / f"{gen.name}.mk"
    (tmp_path / "Makefile").write_text(f"include {mk}\nall:\n\t@echo $(QSIM_{gen.name.upper()}_SRCS)\n")
    for args in (["-n"], []):
        proc = subprocess.run(["make", *args, "-C", str(tmp_path), "CMSIS_PATH=/nonexistent"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert f"{gen.name}.c" in proc.stdout
    assert not list(tmp_path.glob("pwned*"))


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_snippet_runs_nothing(tmp_path):
    evil = CMAKE_EVIL.format(d=tmp_path)
    gen = write_network(tiny_q7(), tmp_path / "c", name=evil, source=evil)
    snippet = tmp_path / "c" / f"{gen.name}.cmake"
    # script mode stops at add_library (not scriptable); anything injected before it would run
    subprocess.run(["cmake", "-DCMSIS_PATH=/nonexistent", "-P", str(snippet)], capture_output=True)
    probe = tmp_path / "probe.cmake"
    probe.write_text(f"include({snippet} OPTIONAL RESULT_VARIABLE r)\n")
    subprocess.run(["cmake", "-P", str(probe)], capture_output=True)
    assert not list(tmp_path.glob("pwned*"))
    lines = snippet.read_text().splitlines()
    assert lines[0].startswith("# ") and "execute_process" in lines[0]     # kept, as a comment


# -- codegen refuses what simulate refuses --------------------------------------------------------
def _edit(what):
    g = tiny_q7()
    conv = next(x for x in g.nodes if x.op == "conv")
    if what == "out_shift 40":
        conv.out_shift = 40
    elif what == "bias_shift 40":
        conv.bias_shift = 40
    elif what == "out_shift 2.5":
        conv.out_shift = 2.5
    elif what == "out_shift -1":
        conv.out_shift = -1
    elif what in ("frac_bits 1000", "frac_bits -1000"):
        g.tensors[g.inputs[0]].qformat = QFormat(8, int(what.split()[1]))
    elif what == "weight frac_bits 2.5":
        conv.weight_q = QFormat(8, 2.5)
    elif what == "scheme q3":
        g.quant.scheme = "q3"
    elif what == "kernel arm_evil_q7":
        conv.kernel = "arm_evil_q7"
    return g


EDITS = {"out_shift 40": "out_shift=40", "bias_shift 40": "bias_shift=40",
         "out_shift 2.5": "not an integer", "out_shift -1": "not an integer 0..31",
         "frac_bits 1000": "frac_bits 1000", "frac_bits -1000": "frac_bits -1000",
         "weight frac_bits 2.5": "integer bits and frac_bits", "scheme q3": "scheme='q3'",
         "kernel arm_evil_q7": "arm_evil_q7"}


@pytest.mark.parametrize("what", sorted(EDITS))
def test_codegen_refuses_what_simulate_refuses(what, tmp_path, capsys):
    from qsim.cli import main
    with pytest.raises(ModelFormatError, match=re.escape(EDITS[what])):
        render(_edit(what))
    if what == "weight frac_bits 2.5":
        return          # QFormat.from_dict makes it an int when loading: not codegen's to refuse
    _edit(what).save(tmp_path / "q")
    assert main(["codegen", str(tmp_path / "q"), "-o", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qsim codegen: error:") and EDITS[what] in err
    assert not (tmp_path / "c").exists()


# -- code size: a compile failure is an error -----------------------------------------------------
@needs_gcc
def test_code_size_compile_failure_is_an_error(tmp_path):
    bad = tmp_path / "bad.c"
    bad.write_text("int f(void) { return undeclared_thing; }\n")
    with pytest.raises(BuildError, match="undeclared_thing"):
        measure_code_size(bad, [])


# -- over-reading kernels get slack ---------------------------------------------------------------
def _rgb_graph(path="dsp"):
    spec = {"name": "rgb", "input_shape": [6, 6, 3], "layers": [
        {"op": "conv", "ch_out": 4, "kernel": 3, "stride": 1, "pad": 1}, {"op": "relu"},
        {"op": "flatten"}, {"op": "fc", "rows": 3}]}
    g = Sequential.from_dict(spec).build(seed=0)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 6, 6, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize(g, calibrate(g, x), scheme="q7", version="5.9.0", path=path), x


def test_rgb_input_is_copied_with_slack():
    g, _ = _rgb_graph()
    assert g.nodes[0].kernel == "arm_convolve_HWC_q7_RGB"
    plan = plan_buffers(g, lower_graph(g))
    assert plan.input_copy == "arm_convolve_HWC_q7_RGB"
    slot = next(s for s in plan.slots if g.inputs[0] in s.tensors)
    assert slot.kind == "arena" and slot.slack >= 1
    assert slot.offset + slot.nbytes + slot.slack <= plan.arena_bytes
    assert all(s.offset + s.span <= slot.offset or slot.offset + slot.span <= s.offset
               for s in plan.slots if s.kind == "arena" and s is not slot and s.first <= slot.last)
    target = f"rgb_arena_bytes + {slot.offset}" if slot.offset else "rgb_arena_bytes"
    assert f"memcpy({target}, input, {plan.input_bytes});" in render(g).files["rgb.c"]


@pytest.mark.cmsis
@pytest.mark.parametrize("path", ["dsp", "ref"])
def test_rgb_parity_clean_under_asan(cmsis_path, path, tmp_path):
    """CIFAR's first layer on the real library, ASan + UBSan, input passed in an exact-size buffer
    (issue 11: aborted in arm_convolve_HWC_q7_RGB.c:136 before the copy with slack)."""
    import os
    import sys
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip()
    if not os.path.isabs(asan):
        pytest.skip("gcc has no libasan")
    from cmsis_nn.locate import find_cmsis
    version = find_cmsis(cmsis_path).version
    g, _ = _rgb_graph(path)
    g.quant.version = version
    g.save(tmp_path / "q")
    env = dict(os.environ, LD_PRELOAD=asan, ASAN_OPTIONS="detect_leaks=0")
    proc = subprocess.run([sys.executable, "-m", "qsim.cli", "parity", str(tmp_path / "q"), "--cmsis",
                           cmsis_path, "--sanitize", "--inputs", "1"], capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1].endswith("0 mismatches")


@needs_gcc
def test_codegen_command_surfaces_a_compile_failure(tmp_path, capsys, monkeypatch):
    import codegen.generate as generate
    from qsim.cli import main
    real = generate.render

    def broken(*a, **k):
        gen = real(*a, **k)
        gen.files[f"{gen.name}.c"] += "\nint broken(void) { return no_such_symbol; }\n"
        return gen
    monkeypatch.setattr(generate, "render", broken)
    tiny_q7().save(tmp_path / "q")
    assert main(["codegen", str(tmp_path / "q"), "-o", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qsim codegen: error: measuring the code size") and "no_such_symbol" in err
    assert not (tmp_path / "c").exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.one_of(hostile, st.sampled_from(["\ud800", "a\x00b", "\udfff"])),
                      min_size=1, max_size=6))
def test_hostile_names_round_trip_or_are_refused_before_writing(tmp_path_factory, names):
    """Graph.save with any names: the model loads back with the same names and weights, or save
    refuses before writing a file (unprintable characters; NUL and unpaired surrogates could not
    even be stored)."""
    from qsim.graph import Graph
    g = _hostile_graph(names)
    folder = tmp_path_factory.mktemp("rt") / "q"
    assert len({n.name for n in g.nodes}) == len(g.nodes)   # _hostile_graph keeps them apart
    if _refused(g):
        with pytest.raises(ModelFormatError, match="unprintable character|characters"):
            g.save(folder)
        assert not folder.exists()
        return
    g.save(folder)
    back = Graph.load(folder)
    assert back.name == g.name and list(back.tensors) == list(g.tensors)
    assert [n.name for n in back.nodes] == [n.name for n in g.nodes]
    for a, b in zip(g.nodes, back.nodes):
        for k in a.params:
            np.testing.assert_array_equal(a.params[k], b.params[k])


def test_a_layer_name_twice_is_refused(tmp_path):
    """Each layer's arrays are stored under its name: two layers of one name would load with one
    layer's weights in both (silently, when the shapes agree). Refused on save, on load and by
    the generators."""
    from qsim.graph import Graph
    g = tiny_q7()
    g.save(tmp_path / "ok")
    a, b = (n for n in g.nodes if n.params)
    first, second = a.name, b.name
    b.name = a.name
    with pytest.raises(ModelFormatError, match="two layers have this name"):
        g.save(tmp_path / "twice")
    assert not (tmp_path / "twice").exists()
    with pytest.raises(ModelFormatError, match="two layers have this name"):
        write_network(g, tmp_path / "c")
    doc = json.loads((tmp_path / "ok" / "model.json").read_text())
    for n in doc["nodes"]:                       # the same edit in a saved model.json
        if n["name"] == second:
            n["name"] = first
    (tmp_path / "ok" / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFormatError, match="two layers have this name"):
        Graph.load(tmp_path / "ok")
