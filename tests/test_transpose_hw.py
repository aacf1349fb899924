"""transpose_hw op and the swap_hw pass: shapes, exact float and integer equality with the
unswapped graph, the automatic swap for q15 convs on the DSP path, generated C and host parity.

Float equality is exact by construction: weights and inputs are small integers (float64), 2x2
average pools divide by 4, so every sum is exact whatever its order (the swapped convs and the
permuted fc add the same terms in another order).
"""
import logging
import shutil
import subprocess
import warnings

import numpy as np
import pytest

from qsim import float_exec
from qsim.calibrate import calibrate
from qsim.errors import ShapeError, UnsupportedOpError
from qsim.graph import Graph, Node
from qsim.importers.spec import KWS_SPEC, Sequential
from qsim.passes.transpose_hw import swap_hw
from qsim.quantize import quantize
from qsim.simulate import simulate
from qsim.train.layers import TransposeHW
from qsim.train.net import Net

MIXED = {"name": "mixed", "input_shape": [9, 6, 4], "layers": [
    {"op": "conv", "ch_out": 8, "kernel": [3, 2], "stride": [2, 1], "pad": [1, 0]},
    {"op": "relu"},
    {"op": "depthwise_conv", "kernel": [3, 1], "stride": [1, 1], "pad": [1, 0]},
    {"op": "maxpool", "kernel": 2, "stride": 1},
    {"op": "avgpool", "kernel": 2, "stride": 2},
    {"op": "flatten"}, {"op": "relu"}, {"op": "fc", "rows": 6}, {"op": "relu"},
    {"op": "fc", "rows": 3}, {"op": "softmax"}]}


def _integer_net(spec, seed=0):
    g = Sequential.from_dict(spec).build(seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    for n in g.nodes:
        for k, v in n.params.items():
            n.params[k] = rng.integers(-2, 3, v.shape).astype(np.float64)
    return g


def _back(swapped, t, a):
    """A tensor of the swapped graph in the original graph's order: images transposed back,
    vectors flattened from a swapped image (before the fc that absorbs the order) unpermuted."""
    if t == swapped.inputs[0]:
        return a
    if a.ndim == 4:
        return a.transpose(0, 2, 1, 3)
    node = swapped.producer(t)
    while node.op in ("relu", "sigmoid", "tanh"):
        node = swapped.producer(node.input)       # walk back over elementwise ops
    if node.op == "flatten":
        w, h, c = swapped.tensors[node.input].shape
        return a.reshape(len(a), w, h, c).transpose(0, 2, 1, 3).reshape(len(a), -1)
    return a


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def test_shape_inference_and_float_op():
    g = Graph("t")
    g.add_input("x", (5, 7, 3))
    g.add_node(Node("t1", "transpose_hw", ["x"], ["y"]))
    g.outputs = ["y"]
    assert g.tensors["y"].shape == (7, 5, 3)
    x = np.arange(2 * 5 * 7 * 3, dtype=np.float32).reshape(2, 5, 7, 3)
    np.testing.assert_array_equal(float_exec.run(g, x), x.transpose(0, 2, 1, 3))
    g.add_node(Node("f", "flatten", ["x"], ["v"]))
    with pytest.raises(ShapeError, match="3-D"):
        g.add_node(Node("t2", "transpose_hw", ["v"], ["w"]))


def test_train_layer_is_its_own_adjoint(rng):
    layer = TransposeHW("t")
    x, g = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 4, 3, 5))
    y = layer.forward(x)
    gx, _ = layer.backward(g)
    assert np.isclose((y * g).sum(), (x * gx).sum())      # <T x, g> == <x, T' g>


@pytest.mark.parametrize("spec", [KWS_SPEC, MIXED], ids=["kws", "mixed"])
def test_swap_keeps_names_and_the_float_function(spec):
    g = _integer_net(spec)
    s = g.copy()
    assert swap_hw(s) and not swap_hw(s)                  # a second call changes nothing
    assert s.nodes[0].op == "transpose_hw" and s.nodes[0].inputs == ["input"]
    assert set(g.tensors) < set(s.tensors) and s.inputs == g.inputs and s.outputs == g.outputs
    for n in g.nodes:
        if n.op in ("conv", "depthwise_conv", "maxpool", "avgpool"):
            h, w, c = g.tensors[n.output].shape
            assert s.tensors[n.output].shape == (w, h, c)
            assert s.node(n.name).attrs["kernel_shape"] == n.attrs["kernel_shape"][::-1]
    assert s.meta["swap_hw"]["transposed"] == "input_hw"
    x = np.random.default_rng(1).integers(-3, 4, (5,) + g.tensors["input"].shape).astype(np.float64)
    want = float_exec.run(g, x, dtype=np.float64, trace=True)
    got = float_exec.run(s, x, dtype=np.float64, trace=True)
    for t, a in want.items():
        np.testing.assert_array_equal(_back(s, t, got[t]), a, err_msg=t)
    np.testing.assert_array_equal(Net(s.copy(), dtype=np.float64).forward(x),
                                  Net(g.copy(), dtype=np.float64).forward(x))


def test_unswappable_graph_is_left_unchanged():
    g = Sequential((6, 5, 2), "img").conv(4, (3, 2)).relu().build(seed=0)
    before = g.summary()
    with pytest.raises(UnsupportedOpError, match="graph output 'relu1'"):
        swap_hw(g)
    assert g.summary() == before and "swap_hw" not in g.meta
    g = Sequential((6, 5, 2)).conv(4, 3).flatten().reshape((4, 3, 4)).build(seed=0)
    with pytest.raises(UnsupportedOpError, match="reshape1"):
        swap_hw(g)


@pytest.mark.parametrize("spec", [KWS_SPEC, MIXED], ids=["kws", "mixed"])
def test_q7_ints_equal_the_unswapped_graph(spec):
    g = Sequential.from_dict(spec).build(seed=2)
    x = np.random.default_rng(3).normal(0, 1, (24,) + g.tensors["input"].shape).astype(np.float32)
    cal = calibrate(g, x)
    s = g.copy()
    swap_hw(s)
    q = _quiet(quantize, g, cal, scheme="q7", version="5.9.0")
    qs = _quiet(quantize, s, cal, scheme="q7", version="5.9.0")   # calibration of the unswapped g
    for t in g.tensors:
        assert qs.tensors[t].qformat == q.tensors[t].qformat, t
    want, got = _quiet(simulate, q, x, trace=True), _quiet(simulate, qs, x, trace=True)
    assert np.array_equal(got["input_hw"], want["input"].transpose(0, 2, 1, 3))
    for t, a in want.items():
        assert np.array_equal(_back(qs, t, got[t]), a), t


def _kws_q15(path, version="5.9.0", swap=False):
    g = Sequential.from_dict(KWS_SPEC).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (16, 49, 10, 1)).astype(np.float32)
    cal = calibrate(g, x)
    if swap:
        swap_hw(g)
    return _quiet(quantize, g, cal, scheme="q15", path=path, version=version), x


def test_kws_q15_dsp_is_swapped_automatically(caplog):
    with caplog.at_level(logging.INFO, logger="qsim.quantize"):
        q, x = _kws_q15("dsp")
    assert "odd output width" in caplog.text and "conv1" in q.meta["swap_hw"]["reason"]
    assert [n.kernel for n in q.nodes[:3]] == [None, "arm_convolve_HWC_q15_fast_nonsquare",
                                               "arm_relu_q15"]
    assert q.tensors["conv1"].shape == (7, 40, 28) and q.tensors["conv2"].shape == (4, 16, 30)
    assert q.nodes[0].pad_ch_in == q.nodes[0].pad_ch_out == 1      # ch_in 1 -> 2 zero-padded
    ref, _ = _kws_q15("ref")                                       # unswapped, REF path
    assert "swap_hw" not in ref.meta
    want, got = _quiet(simulate, ref, x, trace=True), _quiet(simulate, q, x, trace=True)
    for t, a in want.items():
        assert np.array_equal(_back(q, t, got[t]), a), t


def test_q15_dsp_error_stands_when_swapping_does_not_help():
    g = Sequential((9, 10, 1), "odd").conv(4, (3, 4)).relu().fc(2).build(seed=0)  # out 7x7
    x = np.random.default_rng(0).normal(0, 1, (8, 9, 10, 1)).astype(np.float32)
    with pytest.raises(UnsupportedOpError, match="dim_im_out_x=7"):
        _quiet(quantize, g, calibrate(g, x), scheme="q15", path="dsp")


def test_report_swaps_the_float_graph_too():
    from qsim.metrics import evaluate
    q, x = _kws_q15("dsp")
    g = Sequential.from_dict(KWS_SPEC).build(seed=0)
    rep = evaluate(g, q, x)
    assert rep.layers[1].name == "transpose_hw" and rep.layers[1].sqnr_db == rep.layers[0].sqnr_db


def test_onnx_export_runs_the_swapped_graph():
    ort = pytest.importorskip("onnxruntime")
    from qsim.exporters import to_onnx
    g = _integer_net(MIXED)
    swap_hw(g)
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(4).integers(-3, 4, (3, 9, 6, 4)).astype(np.float32)
    got = sess.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, float_exec.run(g, x, dtype=np.float64), rtol=1e-5, atol=1e-6)


needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


@needs_gcc
def test_generated_c_compiles_with_werror(tmp_path):
    from cmsis_nn.standin import include_dirs
    from codegen.generate import write_network
    q, _ = _kws_q15("dsp")
    gen = write_network(q, tmp_path / "c")
    src = gen.files[f"{gen.name}.c"]
    assert "copy loop, no CMSIS call" in src and "dst[(x * 49 + y) * 2 + c]" in src
    out = tmp_path / "c"
    proc = subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{out}",
                           *(f"-I{d}" for d in include_dirs()), "-c", str(out / f"{gen.name}.c"), "-o",
                           str(tmp_path / "kws.o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@needs_gcc
@pytest.mark.parametrize("scheme", ["q7", "q15"])
def test_standin_parity_of_a_swapped_graph(scheme):
    """REF path with the stand-in: checks the C copy loop, the buffer plan and the taps."""
    from harness.parity import random_inputs, run_network_parity
    if scheme == "q15":
        q, _ = _kws_q15("ref", swap=True)
    else:
        g = _integer_net(MIXED).copy()
        x = np.random.default_rng(0).normal(0, 1, (16, 9, 6, 4))
        cal = calibrate(g, x)
        swap_hw(g)
        q = _quiet(quantize, g, cal, scheme="q7", version="5.9.0")
    report = run_network_parity(q, random_inputs(q, 5, seed=1), cmsis=None)
    assert report.mismatches == 0, "\n".join(report.lines())
    assert report.layers[0].name == "transpose_hw"


@pytest.mark.cmsis
@needs_gcc
def test_real_cmsis_kws_q15_dsp(cmsis_path):
    from cmsis_nn.locate import find_cmsis
    from harness.parity import random_inputs, run_network_parity
    checkout = find_cmsis(cmsis_path)
    q, _ = _kws_q15("dsp", version=checkout.version)
    report = run_network_parity(q, random_inputs(q, 20, seed=3), cmsis=checkout)
    assert report.library.startswith(f"CMSIS_5 {checkout.version}")
    assert report.mismatches == 0, "\n".join(report.lines())
