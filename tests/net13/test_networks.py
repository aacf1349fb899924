"""Issue 13: graphs with add, concat, clip, asymmetric padding, non-square / q15 / global pools and
q15 depthwise quantize (CMSIS-NN where a function is legal, a qsim companion kernel where none
is), simulate close to a float reference, and generate C whose every layer matches the simulator
on the host (stand-in in CI, real CMSIS 5.7.0 / 5.9.0 with CMSIS_PATH) and on Cortex-M4 in QEMU."""
import shutil
import warnings

import numpy as np
import pytest

from codegen.generate import render
from harness.parity import random_inputs, run_network_parity
from qsim.errors import ModelFormatError, UnsupportedOpError
from qsim.quantize import describe, quantize
from qsim.simulate import dequantize, simulate
from tests.net13.nets import NETS, Builder, calibration, float_forward, quantized

TOLERANCE = {"q7": 0.15, "q7q15": 0.05, "q15": 0.05}   # max |error| / max |float output|
CASES = [(net, s) for net in sorted(NETS) for s in ("q7", "q7q15", "q15")]
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


@pytest.mark.parametrize("net, scheme", CASES)
def test_simulate_is_close_to_float(net, scheme):
    g, q, x = quantized(net, scheme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = dequantize(q, simulate(q, x))
    ref = float_forward(g, x)[g.outputs[0]]
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert err < TOLERANCE[scheme], f"{net} {scheme}: relative error {err:.3g}"


def test_kernel_choice_prefers_cmsis_and_says_why():
    _, q, _ = quantized("dscnn", "q7")
    k = {n.name: n.kernel for n in q.nodes}
    # SAME conv 10x4 with asymmetric pads runs on CMSIS with top/left padding + the output size
    assert k["conv1"].startswith("arm_convolve_HWC_q7") and q.node("conv1").attrs["pads_end"] == (5, 1)
    assert k["depthwise_conv3"] == "arm_depthwise_separable_conv_HWC_q7_nonsquare"
    assert k["avgpool11"] == "qsim_global_avepool_q7_HWC"
    text = describe(q)
    assert "avgpool11: qsim_global_avepool_q7_HWC: qsim companion: arm_avepool_q7_HWC: is square only" \
        in text
    _, q, _ = quantized("dscnn", "q7q15")
    assert q.node("depthwise_conv3").kernel == "qsim_depthwise_conv_HWC_q15_nonsquare"
    assert "only a q7 depthwise" in describe(q)
    _, q, _ = quantized("maxpool_time", "q7")
    assert q.node("maxpool3").kernel == "qsim_maxpool_q7_HWC_nonsquare"      # 4x1: not square
    assert q.node("maxpool6").kernel == "qsim_maxpool_q7_HWC_nonsquare"      # asymmetric padding
    assert "asymmetric padding" in q.meta["kernels"]["maxpool6"]
    _, q, _ = quantized("residual", "q7")
    assert q.node("maxpool8").kernel == "arm_maxpool_q7_HWC"                 # square: CMSIS-NN
    assert q.node("add6").kernel == "qsim_add_q7"
    assert "every call is a CMSIS-NN function" not in describe(q)


def test_add_formats_and_shifts():
    _, q, _ = quantized("residual", "q7")
    add = q.node("add6")
    fa, fb = (q.tensors[t].qformat.frac_bits for t in add.inputs)
    fo = q.output_q(add).frac_bits
    from qsim.lower import kernel_call
    call = kernel_call(q, add)
    f = max(fa, fb, fo)
    assert (call.args["lshift_a"], call.args["lshift_b"], call.args["out_shift"]) == (f - fa, f - fb, f - fo)


def test_concat_producers_write_the_common_format():
    _, q, _ = quantized("concat", "q15")
    cat = q.node("concat5")
    formats = {q.tensors[t].qformat for t in cat.inputs + cat.outputs}
    assert len(formats) == 1                      # the convs' out_shifts target one format
    assert all(q.producer(t).op == "conv" for t in cat.inputs)


def test_relu6_bound_and_its_relu_form():
    _, q, _ = quantized("relu6", "q7")
    clip = q.node("clip2")
    f = q.input_q(clip).frac_bits
    from qsim.lower import kernel_call
    call = kernel_call(q, clip)
    assert clip.kernel == "qsim_clip_q7" and call.args["max_val"] == min(round(6 * 2 ** f), 127)
    assert call.args["min_val"] == 0
    # the conv before it is quantized for the clipped range (<= 6), not its raw range
    assert q.output_q(q.node("conv1")).max >= 6 - 2 ** -f
    # small activations: 6.0 is beyond the format's maximum, so clip(0, 6) is exactly a relu
    b = Builder("small6", (4, 4, 2), 0)
    b.add("clip", attrs=dict(min=0.0, max=6.0))
    b.fc(3)
    g = b.done()
    x = np.random.default_rng(0).uniform(-1, 1, (16, 4, 4, 2)).astype(np.float32)
    q = quantize(g, calibration(g, x), scheme="q7")
    assert q.node("clip1").kernel == "arm_relu_q7"
    assert "are a relu" in q.meta["kernels"]["clip1"]


def test_avgpool_output_format_from_statistics_beats_keeping_the_input_format():
    b = Builder("avg", (8, 8, 4), 3)
    b.conv(4, (3, 3), pads=(1, 1))
    b.pool("avgpool", (4, 4))
    g = b.done()
    x = np.random.default_rng(4).normal(0, 1, (64, 8, 8, 4)).astype(np.float32)
    cal = calibration(g, x)
    q = quantize(g, cal, scheme="q7")
    node = q.node("avgpool2")
    assert q.output_q(node).frac_bits > q.input_q(node).frac_bits
    assert node.kernel == "qsim_avepool_q7_HWC_nonsquare"       # CMSIS keeps the input format
    fi = q.input_q(node).frac_bits
    kept = quantize(g, cal, scheme="q7", frac_bits_override={"avgpool2": fi})
    assert kept.node("avgpool2").kernel == "arm_avepool_q7_HWC"  # same format: CMSIS-NN is legal
    ref = float_forward(g, x)["avgpool2"]
    err = lambda qq: np.mean((dequantize(qq, simulate(qq, x)) - ref) ** 2)  # noqa: E731
    assert err(q) < err(kept) / 2


def test_refusals_name_layer_reason_and_alternative():
    # 8 -> 5 with ceil_mode: the last window (rows 7..9 of the padded 10) passes the padded image
    b = Builder("cip", (8, 8, 2), 0)
    b.add("avgpool", None, dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1), ceil_mode=1,
                                count_include_pad=1))
    g = b.done()
    from qsim.graph import QuantSettings
    from qsim.passes.choose_kernels import choose_kernels
    g.quant = QuantSettings("q7", "ref", "5.7.0", False)
    with pytest.raises(UnsupportedOpError, match="layer 'avgpool1'.*count_include_pad.*help: use "
                       "count_include_pad=0"):
        choose_kernels(g)


def _skew_concat_input(q):
    """conv4 writes one fraction bit finer than the concat's other inputs (its shift to match)."""
    t = q.tensors["conv4"]
    t.qformat = type(t.qformat)(8, t.qformat.frac_bits + 1)
    q.node("conv4").out_shift -= 1


@pytest.mark.parametrize("edit, match", [
    (_skew_concat_input, "concat5.*different formats"),
    (lambda q: setattr(q.node("concat5"), "kernel", "arm_relu_q7"), "not a CMSIS-NN function"),
    (lambda q: setattr(q.node("avgpool7"), "kernel", "arm_avepool_q7_HWC"), "avgpool7.*square only"),
    (lambda q: setattr(q.node("avgpool7"), "kernel", "qsim_global_avepool_q7_HWC"),
     "avgpool7.*whole image"),
    (lambda q: setattr(q.tensors["avgpool7"], "qformat", type(q.tensors["avgpool7"].qformat)(8, 40)),
     "avgpool7.*out_lshift"),
    (lambda q: setattr(q.tensors["relu6"], "qformat", type(q.tensors["relu6"].qformat)(8, 1)),
     "relu6"),
])
def test_validator_refuses_edits(edit, match):
    """simulate (and codegen, load) refuse a quantized model whose companion kernel, formats or
    derived shifts were edited."""
    _, q, _ = quantized("concat", "q7")
    q = q.copy()
    edit(q)
    with pytest.raises(ModelFormatError, match=match):
        simulate(q, np.zeros((1, 8, 6, 4), np.float32))


def test_validator_refuses_an_edited_cmsis_pool_format():
    _, q, _ = quantized("residual", "q7")
    q = q.copy()
    t = q.tensors["maxpool8"]
    t.qformat = type(t.qformat)(8, t.qformat.frac_bits + 1)     # fc9's shifts would still match
    q.node("fc9").out_shift += 0
    with pytest.raises(ModelFormatError, match="maxpool8.*keeps its input's format"):
        simulate(q, np.zeros((1, 8, 8, 4), np.float32))


def test_saved_model_round_trips(tmp_path):
    from qsim.graph import Graph
    _, q, x = quantized("concat", "q7")
    q.save(tmp_path / "m")
    back = Graph.load(tmp_path / "m")
    np.testing.assert_array_equal(simulate(back, x), simulate(q, x))


def test_generated_project_lists_companion_sources():
    _, q, _ = quantized("residual", "q7")
    gen = render(q)
    assert {"qsim_companion.h", "qsim_add.c"} <= set(gen.files)
    assert "qsim_pool_HWC_nonsquare.c" not in gen.files       # only what the network calls
    src = gen.files[f"{gen.name}.c"]
    assert "qsim_add_q7 (qsim companion kernel, not CMSIS-NN)" in src
    assert "arm_relu_q7 (CMSIS-NN)" in src
    assert '#include "qsim_companion.h"' in gen.files[f"{gen.name}.h"]
    assert "qsim_add.c" in gen.files[f"{gen.name}.mk"] and "qsim_add.c" in gen.files[f"{gen.name}.cmake"]
    _, q7, _ = quantized("relu6", "q7")
    assert not any(f.startswith("qsim_") for f in render(q7).files) or \
        any(n.kernel.startswith("qsim_") for n in q7.nodes)



@pytest.mark.parametrize("net, scheme", [("relu6", "q7"), ("relu6", "q15"), ("relu6", "q7q15")])
def test_in_place_clip_matches_the_traced_run(net, scheme):
    """Without trace, simulate clips a tensor nobody else reads in place (qsim.simulate._companion);
    with trace it keeps every tensor and does not, and parity checks that run's every layer
    against the C. Both must give the same bytes. (The one-buffer concat runs in both modes: the
    parity tests check it.)"""
    from qsim.lower import kernel_call
    from qsim.simulate import _plan
    _, q, x = quantized(net, scheme)
    x = x * 8                                  # beyond calibration: the clips must bite
    clips = [n for n in _plan(q).relu_in_place([q.outputs[0]]) if q.node(n).op == "clip"]
    assert clips or net != "relu6"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = simulate(q, x)
        traced = simulate(q, x, trace=True)
    for name in clips:
        node = q.node(name)
        assert (traced[node.output] == kernel_call(q, node).args["max_val"]).any(), name
    np.testing.assert_array_equal(fast, traced[q.outputs[0]])


PARITY = [("dscnn", "q7"), ("dscnn", "q7q15"), ("residual", "q7"), ("relu6", "q15"),
          ("concat", "q7"), ("maxpool_time", "q7q15")]


@needs_gcc
@pytest.mark.parametrize("net, scheme", PARITY)
def test_standin_parity(net, scheme):
    _, q, _ = quantized(net, scheme, version="5.9.0")
    report = run_network_parity(q, random_inputs(q, 4, seed=2), cmsis=None)
    assert report.mismatches == 0, "\n".join(report.lines())
    assert report.lines()[-1] == f"{len(q.nodes)} layers, 4 inputs, 0 mismatches"


@needs_gcc
@pytest.mark.parametrize("net", ["residual", "concat"])
def test_standin_parity_truncate(net):
    """ARM_NN_TRUNCATE: the companion C is compiled with it too (add, avgpool rounding -> floor)."""
    _, q, _ = quantized(net, "q7", version="5.9.0", truncate=True)
    report = run_network_parity(q, random_inputs(q, 4, seed=6), cmsis=None)
    assert report.mismatches == 0, "\n".join(report.lines())


@needs_gcc
@pytest.mark.cmsis
@pytest.mark.parametrize("truncate", [False, True])
def test_real_cmsis_parity_truncate(cmsis_path, truncate):
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(cmsis_path)
    _, q, _ = quantized("concat", "q15", version=checkout.version, truncate=truncate)
    report = run_network_parity(q, random_inputs(q, 8, seed=7), cmsis=checkout)
    assert report.mismatches == 0, "\n".join(report.lines())


@needs_gcc
@pytest.mark.cmsis
@pytest.mark.parametrize("path", ["ref", "dsp"])
@pytest.mark.parametrize("net, scheme", CASES)
def test_real_cmsis_parity(cmsis_path, net, scheme, path):
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(cmsis_path)
    try:
        _, q, _ = quantized(net, scheme, version=checkout.version, path=path)
    except UnsupportedOpError as e:
        pytest.skip(f"refused on path {path}: {e}")
    report = run_network_parity(q, random_inputs(q, 12, seed=3), cmsis=checkout)
    assert report.library.startswith(f"CMSIS_5 {checkout.version}")
    assert report.mismatches == 0, "\n".join(report.lines())


needs_qemu = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "qemu-system-arm")),
    reason="needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm")


@needs_qemu
@pytest.mark.qemu
def test_cortex_m4_network_parity():
    """About 6 s: concat, companion avgpool (count_include_pad, asymmetric padding), CMSIS convs."""
    _, q, _ = quantized("concat", "q7", version="5.9.0", path="dsp")
    report = run_network_parity(q, random_inputs(q, 3, seed=4), target="cortex-m4", cmsis=None)
    assert report.mismatches == 0, "\n".join(report.lines())
    assert all(r.insns and r.insns > 0 for r in report.layers)


@needs_qemu
@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.parametrize("cpu, net, scheme", [
    ("cortex-m4", "dscnn", "q7"), ("cortex-m4", "residual", "q7"), ("cortex-m4", "concat", "q15"),
    ("cortex-m4", "maxpool_time", "q7"), ("cortex-m4", "relu6", "q7q15"),
    ("cortex-m3", "dscnn", "q7q15")])
def test_real_cmsis_cortex_m(cmsis_path, cpu, net, scheme):
    """DS-CNN q7q15 runs on the REF path (Cortex-M3): on the DSP path its conv1 (output 25x5,
    both sides odd) has no legal q15 CMSIS-NN convolution (semantics doc §1.8)."""
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(cmsis_path)
    path = "dsp" if cpu == "cortex-m4" else "ref"
    _, q, _ = quantized(net, scheme, version=checkout.version, path=path)
    report = run_network_parity(q, random_inputs(q, 3, seed=5), target=cpu, cmsis=checkout)
    assert report.mismatches == 0, "\n".join(report.lines())


@needs_gcc
@pytest.mark.slow
def test_sanitized_parity_with_companion_kernels(tmp_path):
    """ASan + UBSan build of the generated code, the companion C and the stand-in."""
    import os
    import subprocess
    import sys
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip()
    if not os.path.isabs(asan):
        pytest.skip("gcc has no libasan")
    for net, scheme in (("concat", "q7"), ("dscnn", "q7q15"), ("residual", "q15")):
        _, q, _ = quantized(net, scheme)
        q.save(tmp_path / net)
        env = dict(os.environ, LD_PRELOAD=asan, ASAN_OPTIONS="detect_leaks=0")
        proc = subprocess.run([sys.executable, "-m", "qsim.cli", "parity", str(tmp_path / net),
                               "--standin", "--sanitize", "--inputs", "3"], capture_output=True,
                              text=True, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.splitlines()[-1] == f"{len(q.nodes)} layers, 3 inputs, 0 mismatches"


def test_cli_quantize_reports_kernel_choice_and_refusals(tmp_path, capsys):
    from qsim.cli import main
    from qsim.importers.spec import Sequential
    g = Sequential((49, 10, 1), "kwsmax").conv(4, 3, pad=1).relu().maxpool((4, 1)).fc(3).build(seed=0)
    g.save(tmp_path / "f")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(0, 1, (16, 49, 10, 1)).astype(np.float32))
    assert main(["calibrate", str(tmp_path / "f"), "--data", str(tmp_path / "x.npy"), "-o",
                 str(tmp_path / "c.json")]) == 0
    assert main(["quantize", str(tmp_path / "f"), "--calib", str(tmp_path / "c.json"), "-o",
                 str(tmp_path / "q")]) == 0
    out = capsys.readouterr().out
    assert "qsim companion kernels" in out
    assert ("maxpool1: qsim_maxpool_q7_HWC_nonsquare: qsim companion: arm_maxpool_q7_HWC: is "
            "square only") in out
    # a layer no kernel can run: one line, the layer, the reason, what to do; nothing written
    b = Builder("cip", (8, 8, 2), 0)
    b.add("avgpool", None, dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1), ceil_mode=1,
                                count_include_pad=1))
    b.done().save(tmp_path / "bad")
    assert main(["calibrate", str(tmp_path / "bad"), "--data", str(tmp_path / "x8.npy"), "-o",
                 str(tmp_path / "c2.json")]) == 2      # no data file yet: refused, one line
    np.save(tmp_path / "x8.npy", np.random.default_rng(0).normal(0, 1, (8, 8, 8, 2)).astype(np.float32))
    assert main(["calibrate", str(tmp_path / "bad"), "--data", str(tmp_path / "x8.npy"), "-o",
                 str(tmp_path / "c2.json")]) == 0
    capsys.readouterr()
    assert main(["quantize", str(tmp_path / "bad"), "--calib", str(tmp_path / "c2.json"), "-o",
                 str(tmp_path / "q2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("qsim quantize: error: layer 'avgpool1'")
    assert "count_include_pad" in err[0] and "help: use count_include_pad=0" in err[0]
    assert not (tmp_path / "q2").exists()


@needs_qemu
@pytest.mark.qemu
@pytest.mark.slow
def test_cortex_m3_truncate_parity():
    """ARM_NN_TRUNCATE reaches the companion C in the Cortex-M build too."""
    _, q, _ = quantized("residual", "q7", version="5.9.0", truncate=True)
    report = run_network_parity(q, random_inputs(q, 3, seed=8), target="cortex-m3", cmsis=None)
    assert report.mismatches == 0, "\n".join(report.lines())


@needs_gcc
def test_code_size_counts_the_companion_kernels():
    from cmsis_nn.standin import include_dirs
    from codegen.memory_report import measure_code_size, measure_generated
    _, q, _ = quantized("concat", "q7")
    gen = render(q)
    total, _ = measure_generated(gen, include_dirs())
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        for f, text in gen.files.items():
            (Path(tmp) / f).write_text(text)
        alone, _ = measure_code_size(Path(tmp) / f"{gen.name}.c", [tmp, *include_dirs()])
    assert total > alone > 0


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_floats = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(lo=_floats, width=st.floats(1e-3, 1e3), frac=st.integers(-4, 20), bits=st.sampled_from([8, 16]),
       xs=st.lists(_floats, min_size=1, max_size=20))
def test_clip_bounds_commute_with_quantization(lo, width, frac, bits, xs):
    """The integer clip of the quantized value equals the quantized float clip, for any bounds
    (ReLU6 and user clips) and format: why a clip keeps its input format bit-exactly."""
    from qsim.fixedpoint import QFormat
    from qsim.graph import Node
    from qsim.passes.choose_kernels import clip_bounds
    q = QFormat(bits, frac)
    node = Node("c", "clip", ["x"], ["y"], dict(min=lo, max=lo + width))
    ilo, ihi = clip_bounds(node, q)
    x = np.array(xs)
    np.testing.assert_array_equal(np.clip(q.quantize(x), ilo, ihi),
                                  q.quantize(np.clip(x, lo, lo + width)))
