"""qsim.simulate / qsim.lower: bit-exact against hand-written kernels_ref chains, close to float,
warnings, errors, and the KWS net end to end."""
import warnings

import numpy as np
import pytest

from kernels_ref import COMPANION_REF
from kernels_ref import KERNELS_REF as REF
from qsim import float_exec
from qsim.calibrate import calibrate
from qsim.errors import QuantizationError, SaturationWarning, ShapeError, UnsupportedOpError
from qsim.graph import Graph
from qsim.importers.spec import KWS_SPEC, Sequential
from qsim.kernels import INTERLEAVE
from qsim.lower import kernel_call
from qsim.quantize import bias_int, quantize, weight_int
from qsim.simulate import dequantize, predict, simulate
from tests.kernels._compare import assert_bit_exact


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def _setup(seq, n_cal=64, seed=0, scale=1.0, **qkw):
    g = seq.build(seed=seed)
    rng = np.random.default_rng(seed + 100)
    shape = g.tensors["input"].shape
    xcal = (rng.normal(0, scale, (n_cal,) + shape)).astype(np.float32)
    q = _quiet(quantize, g, calibrate(g, xcal, stats=("minmax", "log2hist")), **qkw)
    x = rng.normal(0, scale, (5,) + shape).astype(np.float32)
    return g, q, x


def _shifts(n):
    return n.bias_shift, n.out_shift


@pytest.mark.parametrize("path", ["ref", "dsp"])
def test_q7_net_equals_hand_chain_of_kernels_ref(path):
    seq = Sequential((8, 8, 4), "n").conv(6, 3, pad=1).relu().maxpool(2).fc(10).softmax()
    g, q, x = _setup(seq, scheme="q7", path=path)
    assert [n.kernel for n in q.nodes] == ["arm_convolve_HWC_q7_fast", "arm_relu_q7",
                                           "arm_maxpool_q7_HWC", "arm_fully_connected_q7_opt",
                                           "arm_softmax_q7"]
    opt = dict(path=path, version="5.7.0")
    c1, f1 = q.node("conv1"), q.node("fc1")
    xi = q.tensors["input"].qformat.quantize(x)
    conv = REF["arm_convolve_HWC_q7_fast"](xi, 8, 4, weight_int(c1), 6, 3, 1, 1, bias_int(c1),
                                           *_shifts(c1), 8, **opt)
    relu = REF["arm_relu_q7"](conv.reshape(5, -1), 8 * 8 * 6, **opt)
    pool = REF["arm_maxpool_q7_HWC"](relu, 8, 6, 2, 0, 2, 4, **opt)
    fc = REF["arm_fully_connected_q7_opt"](pool.reshape(5, -1), INTERLEAVE[f1.kernel](weight_int(f1)),
                                           96, 10, *_shifts(f1), bias_int(f1), **opt)
    soft = REF["arm_softmax_q7"](fc, 10, **opt)
    tr = simulate(q, x, trace=True)
    for name, want in (("input", xi), ("conv1", conv), ("relu1", relu), ("maxpool1", pool),
                       ("fc1", fc), ("softmax1", soft)):
        assert_bit_exact(tr[name], want.reshape(tr[name].shape), name)
    assert_bit_exact(simulate(q, x), soft, "output")


@pytest.mark.parametrize("path, version", [("ref", "5.7.0"), ("dsp", "5.7.0"), ("ref", "5.9.0")])
def test_every_kernel_call_through_kernels_ref(path, version):
    # depthwise, avgpool, sigmoid, tanh, softmax over channels: simulate == each KernelCall run
    # through the readable twins (checks the simulator's plumbing; lowering is checked above)
    seq = Sequential((6, 6, 4), "w").depthwise(3, pad=1).relu().avgpool(2).conv(4, 1).tanh() \
        .softmax().flatten().fc(5).sigmoid().fc(3)
    g, q, x = _setup(seq, path=path, version=version)
    tr = _quiet(simulate, q, x, trace=True)     # base-2 softmax mid-net: fc1 saturates, expected
    env = {"input": tr["input"]}
    for node in q.nodes:
        call = kernel_call(q, node)
        if call is None:
            env[node.output] = env[node.input].reshape((5,) + q.tensors[node.output].shape)
            continue
        if call.companion:          # avgpool with its own output format: a qsim companion kernel
            y = COMPANION_REF[call.c_name](**{call.in_arg: env[node.input]}, **call.args)
        else:
            y = REF[call.c_name](**{call.in_arg: env[node.input]}, **call.args, path=path,
                                 version=version)
        env[node.output] = y.reshape((5,) + q.tensors[node.output].shape)
        assert_bit_exact(tr[node.output], env[node.output], node.name)


def test_q15_padded_net_equals_hand_chain_of_kernels_ref():
    # non-square q15: conv1 pads the input from 1 to 2 channels and its output from 3 to 4.
    seq = Sequential((7, 6, 1), "p").conv(3, (3, 2)).relu().conv(4, (3, 2)).relu().fc(5)
    g, q, x = _setup(seq, scheme="q15", fc_opt=False)
    c1, c2, f1 = q.node("conv1"), q.node("conv2"), q.node("fc1")
    assert (c1.pad_ch_in, c1.pad_ch_out, c2.pad_ch_in) == (1, 1, 1)
    xi = np.pad(q.tensors["input"].qformat.quantize(x), ((0, 0),) * 3 + ((0, 1),))
    w1 = np.pad(weight_int(c1), ((0, 1), (0, 0), (0, 0), (0, 1)))
    b1 = np.pad(bias_int(c1), (0, 1))
    conv1 = REF["arm_convolve_HWC_q15_fast_nonsquare"](xi, 6, 7, 2, w1, 4, 2, 3, 0, 0, 1, 1, b1,
                                                        *_shifts(c1), 5, 5)
    relu1 = REF["arm_relu_q15"](conv1.reshape(5, -1), 100).reshape(5, 5, 5, 4)
    w2 = np.pad(weight_int(c2), ((0, 0), (0, 0), (0, 0), (0, 1)))
    conv2 = REF["arm_convolve_HWC_q15_fast_nonsquare"](relu1, 5, 5, 4, w2, 4, 2, 3, 0, 0, 1, 1,
                                                        bias_int(c2), *_shifts(c2), 4, 3)
    relu2 = REF["arm_relu_q15"](conv2.reshape(5, -1), 48)
    fc = REF["arm_fully_connected_q15"](relu2, weight_int(f1), 48, 5, *_shifts(f1), bias_int(f1))
    tr = simulate(q, x, trace=True)
    assert tr["conv1"].shape == (5, 5, 5, 3)                      # padding stripped
    assert_bit_exact(tr["conv1"], conv1[..., :3], "conv1")
    assert_bit_exact(tr["relu2"], relu2.reshape(5, 3, 4, 4), "relu2")
    assert_bit_exact(tr["fc1"], fc, "fc1")
    assert np.all(conv1[..., 3] == 0)                             # the padding channel stays zero


def _sqnr(ref, got):
    return 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - got) ** 2))


def test_q15_random_net_close_to_float():
    seq = Sequential((10, 10, 3), "r").conv(8, 3, pad=1).relu().conv(8, 3, stride=2).relu() \
        .fc(32).relu().fc(6)
    g = seq.build(seed=3)
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (300, 10, 10, 3)).astype(np.float32)
    q = _quiet(quantize, g, calibrate(g, x[:200]), scheme="q15")
    got = dequantize(q, simulate(q, x[200:]))
    assert _sqnr(float_exec.run(g, x[200:]), got) > 30
    q7 = _quiet(quantize, g, calibrate(g, x[:200]), scheme="q7")
    assert _sqnr(float_exec.run(g, x[200:]), dequantize(q7, simulate(q7, x[200:]))) > 15


def test_integer_input_batching_predict():
    seq = Sequential((6, 6, 4), "b").conv(4, 3).relu().fc(3).softmax()
    g, q, x = _setup(seq)
    xi = q.tensors["input"].qformat.quantize(x)
    out = simulate(q, x)
    assert_bit_exact(simulate(q, xi), out, "integer input")
    assert_bit_exact(simulate(q, x, batch_size=2), out, "batch_size 2")
    assert np.array_equal(predict(q, x), np.argmax(out, axis=1))
    probs = dequantize(q, out)
    assert probs.dtype == np.float64 and np.all((probs >= 0) & (probs < 1))
    deq = dequantize(q, simulate(q, x, trace=True))
    assert set(deq) == set(q.tensors)


def test_saturation_warnings():
    seq = Sequential((6, 6, 4), "s").conv(4, 3).fc(3)
    g, q, x = _setup(seq)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        simulate(q, x * 100)
    msgs = [str(r.message) for r in rec if r.category is SaturationWarning]
    assert any(m.startswith("input 'input': ") and "% of values (" in m for m in msgs)
    assert any(m.startswith("layer 'conv1': ") and "% of outputs (" in m for m in msgs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        simulate(q, x)                                           # in range: no warning


def test_errors():
    seq = Sequential((6, 6, 4), "e").conv(4, 3).fc(3)
    g, q, x = _setup(seq)
    with pytest.raises(QuantizationError, match="quantize"):
        simulate(g, x)
    with pytest.raises(ShapeError, match=r"\(N,\) \+ \(6, 6, 4\)"):
        simulate(q, x[:, :5])
    with pytest.raises(ShapeError, match="outside"):
        simulate(q, np.full((1, 6, 6, 4), 300, np.int32))
    with pytest.raises(ShapeError, match="NaN"):
        simulate(q, np.full((1, 6, 6, 4), np.nan))
    q.node("conv1").kernel = None
    with pytest.raises(UnsupportedOpError, match="layer 'conv1' has no kernel"):
        simulate(q, x)


def test_kernel_call_fields():
    seq = Sequential((6, 6, 4), "k").conv(4, 3).relu().fc(3)
    g, q, x = _setup(seq)
    c = kernel_call(q, q.node("conv1"))
    assert (c.c_name, c.in_arg, c.out_arg, c.in_place) == ("arm_convolve_HWC_q7_fast", "Im_in",
                                                          "Im_out", False)
    assert list(c.args) == ["dim_im_in", "ch_im_in", "wt", "ch_im_out", "dim_kernel", "padding",
                            "stride", "bias", "bias_shift", "out_shift", "dim_im_out"]
    r = kernel_call(q, q.node("relu1"))
    assert (r.c_name, r.in_arg, r.out_arg, r.in_place, r.args) == ("arm_relu_q7", "data", None,
                                                                   True, {"size": 64})
    f = kernel_call(q, q.node("fc1"))
    assert np.array_equal(f.args["pM"], INTERLEAVE["arm_fully_connected_q7_opt"](weight_int(q.node("fc1"))))
    assert f.args["pM"].dtype == np.int8 and (f.args["dim_vec"], f.args["num_of_rows"]) == (64, 3)


def test_saved_quantized_graph_simulates_the_same(tmp_path):
    seq = Sequential((6, 6, 4), "io").conv(4, 3).relu().fc(3).softmax()
    g, q, x = _setup(seq)
    q.save(tmp_path / "m")
    assert_bit_exact(simulate(Graph.load(tmp_path / "m"), x), simulate(q, x), "reloaded")


@pytest.mark.parametrize("scheme, path", [("q7", "ref"), ("q15", "ref"), ("q7", "dsp"),
                                          ("q7q15", "ref")])
def test_kws_end_to_end(scheme, path):
    g = Sequential.from_dict(KWS_SPEC).build(seed=0)
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, (700, 49, 10, 1)).astype(np.float32)
    cal = calibrate(g, x[:300], stats=("minmax", "log2hist"))
    q = _quiet(quantize, g, cal, scheme=scheme, path=path)
    tr = _quiet(simulate, q, x[300:], trace=True)
    ref = float_exec.run(g, x[300:], trace=True)["fc3"]
    agree = np.mean(np.argmax(ref, 1) == np.argmax(tr["fc3"], 1))
    sqnr = _sqnr(ref, dequantize(q, tr["fc3"], "fc3"))
    assert agree > (0.99 if scheme == "q15" else 0.9)
    assert sqnr > (40 if scheme == "q15" else 18)
    assert tr["softmax1"].shape == (400, 3)


def test_q15_dsp_odd_width_is_refused():
    """KWS itself is quantized with H and W swapped (tests/test_transpose_hw.py); output 7x7
    stays odd either way."""
    g = Sequential((9, 10, 1), "odd").conv(4, (3, 4)).relu().fc(2).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (20, 9, 10, 1)).astype(np.float32)
    with pytest.raises(UnsupportedOpError, match="layer 'conv1'.*even output width"):
        quantize(g, calibrate(g, x), scheme="q15", path="dsp")
