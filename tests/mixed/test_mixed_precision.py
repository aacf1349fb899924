"""qsim.quantize(..., layer_bits=...): per-layer q7/q15 widths, the requantize layers between them,
kernel choice per layer, simulate against the readable twins and an independent numpy
requantization, the all-8 / all-16 regression against schemes q7 / q15, save/load, the CLI."""
import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels_ref import COMPANION_REF, KERNELS_REF
from qsim.cli import main
from qsim.errors import ModelFormatError, QuantizationError, ShapeError, UnsupportedOpError
from qsim.graph import Graph
from qsim.importers.spec import Sequential
from qsim.kws.net import kws_spec
from qsim.lower import data_move, kernel_call, stored_shape
from qsim.passes.precision import _computes
from qsim.quantize import describe
from qsim.simulate import simulate
from tests.kernels._compare import assert_bit_exact

from ._nets import CASES, float_case, inputs, quantized


def _sim(q, x, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simulate(q, x, **kw)


@pytest.mark.parametrize("case", sorted(CASES))
def test_widths_follow_layer_bits(case):
    q = quantized(case)
    _, scheme, lb = CASES[case]
    default = 8 if scheme == "q7" else 16
    for n in q.nodes:
        b = q.output_q(n).bits
        if n.op == "requantize":
            assert b == n.attrs["bits"] != q.input_q(n).bits, n.name
        elif _computes(n):
            assert b == lb.get(n.name, default), n.name
            assert {q.tensors[t].qformat.bits for t in n.inputs} == {b}, n.name
        else:                           # keeps its producer's format and width
            assert q.input_q(n).bits == b, n.name
        if n.op in ("conv", "depthwise_conv", "fc"):
            wb = 8 if b == 8 or (scheme == "q7q15" and n.op == "fc") else 16
            assert n.weight_q.bits == wb, n.name
    assert q.meta["quantize"]["layer_bits"] == lb
    assert any(n.op == "requantize" for n in q.nodes)


def _twin(q, call, env, n):
    """One KernelCall through the readable twins (kernels_ref) on the stored tensors in env."""
    if call.parts:
        info = dict(call.args)
        y = np.zeros((n, info["num_pixels"] * info["ch_im_out"]), env[call.input].dtype)
        for t, part in call.parts:
            y = COMPANION_REF[call.c_name](Im_in=env[t].reshape(n, -1), Im_out=y, **info,
                                           **part).reshape(n, -1)
        return y
    ins = {a: call.kernel_input(env[t], a) for a, t in zip(call.in_args, call.inputs)}
    if call.companion:
        return COMPANION_REF[call.c_name](**ins, **call.args)
    return KERNELS_REF[call.c_name](**ins, **call.args, path=q.quant.path,
                                    release=q.quant.version)


@pytest.mark.parametrize("case,path", [("kws_conv2_fc1_16", "ref"), ("kws_q15_ends_8", "dsp"),
                                       ("kws_q7q15_fc_16", "ref"), ("act_tanh_sigmoid_16", "dsp"),
                                       ("kws_pool_concat_16", "ref"), ("padded_q15_conv2_8", "dsp")])
def test_simulate_equals_the_twins_layer_by_layer(case, path):
    q = quantized(case, "5.7.0", path)
    x = inputs(q, 1)
    tr = _sim(q, x, trace=True)
    t0 = q.inputs[0]
    pad = stored_shape(q, t0)[-1] - q.tensors[t0].shape[-1]
    env = {t0: np.pad(tr[t0], ((0, 0),) * (tr[t0].ndim - 1) + ((0, pad),))}
    for node in q.nodes:
        call = kernel_call(q, node)
        shape = (1,) + stored_shape(q, node.output)
        if call is None:
            env[node.output] = data_move(node, env[node.input], shape[1:])
            continue
        env[node.output] = _twin(q, call, env, 1).reshape(shape)
        c = q.tensors[node.output].shape[-1]
        assert_bit_exact(tr[node.output], env[node.output][..., :c], f"{case} {node.name}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_requantize_is_round_half_up_and_saturation(case):
    """Each requantize output against numpy on the real values: the input value in the output
    format, rounded half up, saturated; a widening loses nothing."""
    q = quantized(case)
    tr = _sim(q, inputs(q, 3), trace=True)
    for n in (n for n in q.nodes if n.op == "requantize"):
        qi, qo = q.input_q(n), q.output_q(n)
        src = tr[n.input].astype(np.float64) * 2.0 ** -qi.frac_bits
        want = np.clip(np.floor(src * 2.0 ** qo.frac_bits + 0.5), qo.qmin, qo.qmax)
        assert_bit_exact(tr[n.output], want.astype(tr[n.output].dtype), n.name)
        if qo.bits > qi.bits and qo.frac_bits >= qi.frac_bits:
            assert np.array_equal(tr[n.output] * 2.0 ** -qo.frac_bits, src), n.name


ALL_NETS = {"kws": lambda: Sequential.from_dict(kws_spec()).build(seed=0),
            "cifar": lambda: float_case("cifar_conv2_16")[0],
            "resnet8": lambda: float_case("resnet8_add_16")[0],
            "kws_pool_concat": lambda: float_case("kws_pool_concat_16")[0]}


@pytest.mark.parametrize("net", sorted(ALL_NETS))
@pytest.mark.parametrize("width,scheme,other", [(8, "q15", "q7"), (16, "q7", "q15"),
                                                (16, "q15", "q15"), (8, "q7q15", "q7")])
def test_all_one_width_is_the_plain_scheme(net, width, scheme, other):
    """layer_bits naming every layer at one width == the scheme of that width, exactly."""
    from qsim.calibrate import calibrate
    from qsim.quantize import quantize
    g = ALL_NETS[net]()
    x = np.random.default_rng(5).normal(0, 1, (6,) + g.tensors[g.inputs[0]].shape).astype(np.float32)
    cal = calibrate(g, x)
    lb = {n.name: width for n in g.nodes if _computes(n)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = quantize(g, cal, scheme=scheme, layer_bits=lb, path="dsp", version="5.7.0")
        b = quantize(g, cal, scheme=other, path="dsp", version="5.7.0")
    assert [n.name for n in a.nodes] == [n.name for n in b.nodes]
    for na, nb in zip(a.nodes, b.nodes):
        for f in ("kernel", "weight_q", "bias_q", "bias_shift", "out_shift", "pad_ch_in", "pad_ch_out"):
            assert getattr(na, f) == getattr(nb, f), (na.name, f)
    assert {t: i.qformat for t, i in a.tensors.items()} == {t: i.qformat for t, i in b.tensors.items()}
    ta, tb = _sim(a, x, trace=True), _sim(b, x, trace=True)
    for t in tb:
        assert_bit_exact(ta[t], tb[t], t)


def test_padding_channels_travel_through_a_conversion():
    q = quantized("padded_q15_conv2_8")
    pads = {n.name: (n.pad_ch_in, n.pad_ch_out) for n in q.nodes}
    assert pads["maxpool1_to_q7"] == (2, 2) and pads["relu2_to_q15"] == (1, 1)
    assert q.node("conv2").kernel == "arm_convolve_HWC_q7_fast"


def test_input_width_and_kernel_rules_per_layer():
    g, cal, _ = float_case("act_tanh_sigmoid_16")
    q = quantized("act_tanh_sigmoid_16")
    assert q.tensors["input"].qformat.bits == 8
    assert q.node("avgpool1").kernel == "qsim_avepool_q15_HWC_nonsquare"   # no q15 CMSIS pool
    assert q.node("tanh1").kernel == "arm_nn_activations_direct_q15"
    assert 12 <= q.input_q(q.node("tanh1")).frac_bits <= 15                 # int_width 0..3
    q = quantized("act_tanh_sigmoid_16", layer_bits={"input": 16})         # input named
    assert q.tensors["input"].qformat.bits == 16 and q.node("input_to_q7").kernel == \
        "qsim_requantize_q15_q7"
    q = quantized("mobilenet_dw_16")
    assert q.node("conv4").kernel == "qsim_depthwise_conv_HWC_q15_nonsquare"
    assert q.node("clip6").kernel in ("qsim_clip_q15", "arm_relu_q15")
    text = describe(q)
    assert "layer_bits conv4=16, conv7=16" in text and "clip3_to_q15" in text
    assert "arm_q7_to_q15_no_shift" in text and "qsim_requantize_q15_q7" in text


def test_a_layer_without_a_16_bit_kernel_is_named():
    g = Sequential((4, 4, 3), "s").conv(4, 3, pad=1).relu().softmax().build(seed=0)
    from qsim.calibrate import calibrate
    from qsim.quantize import quantize
    cal = calibrate(g, np.random.default_rng(0).normal(size=(4, 4, 4, 3)).astype(np.float32))
    with pytest.raises(UnsupportedOpError, match="layer 'softmax1': q15 softmax takes one vector"):
        quantize(g, cal, scheme="q7", layer_bits={"softmax1": 16})


@pytest.mark.parametrize("lb,match", [
    ({"nope": 16}, r"no layer 'nope' in graph 'kws'.*conv1"),
    ({"relu1": 16}, r"layer 'relu1' \(relu\) keeps its input's format"),
    ({"conv1": 12}, "must be 8 or 16"),
    ({"conv1": True}, "must be 8 or 16"),
    ({"conv1": 16.0}, "must be 8 or 16"),
    (["conv1"], "must be a dict"),
])
def test_bad_layer_bits_are_refused_by_name(lb, match):
    g, cal, _ = float_case("kws_conv2_fc1_16")
    from qsim.quantize import quantize
    with pytest.raises(QuantizationError, match=match):
        quantize(g, cal, scheme="q7", layer_bits=lb)


def test_save_load_round_trip(tmp_path):
    q = quantized("resnet8_add_16")
    q.save(tmp_path / "m")
    r = Graph.load(tmp_path / "m")
    assert r.meta["quantize"]["layer_bits"] == {"conv4": 16, "add9": 16}
    assert [(n.name, n.op, n.attrs, n.kernel) for n in r.nodes] == \
        [(n.name, n.op, n.attrs, n.kernel) for n in q.nodes]
    x = inputs(q, 2)
    assert_bit_exact(_sim(r, x), _sim(q, x), "reloaded")


@pytest.mark.parametrize("edit,match", [
    (lambda m: m["tensors"][[t["name"] for t in m["tensors"]].index("relu1_to_q15")]
     ["qformat"].update(bits=8), "requantize"),
    (lambda m: m["meta"]["quantize"].update(layer_bits={"conv2": 12}), "layer_bits"),
    (lambda m: next(n for n in m["nodes"] if n["name"] == "relu3_to_q7")
     .update(kernel="arm_q7_to_q15_no_shift"), "relu3_to_q7"),
    (lambda m: m["tensors"][[t["name"] for t in m["tensors"]].index("conv2")]
     ["qformat"].update(bits=8), "conv2"),
    (lambda m: m["tensors"][[t["name"] for t in m["tensors"]].index("relu1_to_q15")]
     ["qformat"].update(frac_bits=6), "only sign-extends"),
    (lambda m: next(n for n in m["nodes"] if n["name"] == "relu1_to_q15")["attrs"]
     .update(bits=12), "bits must be 8 or 16"),
])
def test_an_edited_mixed_model_is_refused(tmp_path, edit, match):
    q = quantized("kws_conv2_fc1_16")
    q.save(tmp_path / "m")
    mj = tmp_path / "m" / "model.json"
    m = json.loads(mj.read_text())
    edit(m)
    mj.write_text(json.dumps(m))
    with pytest.raises((ModelFormatError, ShapeError), match=match):   # attributes: ShapeError
        Graph.load(tmp_path / "m")


@pytest.mark.parametrize("case,path", [("kws_conv2_fc1_16", "dsp"), ("act_tanh_sigmoid_16", "ref"),
                                       ("kws_pool_concat_16", "ref"), ("mobilenet_dw_16", "dsp")])
def test_qat_forward_equals_simulate(case, path):
    from qsim.qat import QatNet
    q = quantized(case, "5.7.0", path)
    x = inputs(q, 4)
    want = _sim(q, x, trace=True)
    qnet = QatNet(q.copy())
    got = qnet.trace(qnet.quantize_input(x))
    assert set(got) == set(want)
    for t in want:
        assert_bit_exact(got[t], want[t], t)


def test_qat_finetune_keeps_the_widths():
    from qsim.qat import QatNet
    from qsim.qat.train import finetune
    from qsim.simulate import predict
    g, _, _ = float_case("kws_conv2_fc1_16")
    q = quantized("kws_conv2_fc1_16")
    x = inputs(q, 64, seed=9)
    y = np.random.default_rng(0).integers(0, 5, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qat, hist = finetune(g, q, x, y, x[:16], y[:16], epochs=1, lr=1e-3, seed=0,
                             reselect_formats=True, patience=None)
        want = predict(qat, x[:16])
    assert qat.meta["quantize"]["layer_bits"] == {"conv2": 16, "fc1": 16}
    assert [(n.name, n.kernel) for n in qat.nodes] == [(n.name, n.kernel) for n in q.nodes]
    assert {t: i.qformat.bits for t, i in qat.tensors.items()} == \
        {t: i.qformat.bits for t, i in q.tensors.items()}
    qnet = QatNet(qat.copy())
    np.testing.assert_array_equal(qnet.predict(qnet.quantize_input(x[:16])), want)


def test_float_training_graph_has_no_requantize():
    g, _, _ = float_case("kws_conv2_fc1_16")
    assert not any(n.op == "requantize" for n in g.nodes)       # converts are quantize's own


def _cli_setup(tmp_path):
    g, _, x = float_case("kws_conv2_fc1_16")
    g.save(tmp_path / "model")
    np.save(tmp_path / "x.npy", x)
    assert main(["calibrate", str(tmp_path / "model"), "--data", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "cal.json")]) == 0
    return ["quantize", str(tmp_path / "model"), "--calib", str(tmp_path / "cal.json")]


def test_cli_layer_bits(tmp_path, capsys):
    base = _cli_setup(tmp_path)
    assert main(base + ["--layer-bits", "conv2=16,fc1=16", "-o", str(tmp_path / "q1")]) == 0
    out = capsys.readouterr().out
    assert "relu1_to_q15" in out and "qsim_requantize_q15_q7" in out
    (tmp_path / "lb.json").write_text(json.dumps({"conv2": 16, "fc1": 16}))
    assert main(base + ["--layer-bits", str(tmp_path / "lb.json"), "-o", str(tmp_path / "q2")]) == 0
    a, b = Graph.load(tmp_path / "q1"), Graph.load(tmp_path / "q2")
    assert a.meta["quantize"]["layer_bits"] == b.meta["quantize"]["layer_bits"] == {"conv2": 16, "fc1": 16}
    x = inputs(a, 2)
    assert_bit_exact(_sim(a, x), _sim(b, x), "same model")
    assert main(["report", str(tmp_path / "q1"), "--float", str(tmp_path / "model"), "--data",
                 str(tmp_path / "x.npy"), "-o", str(tmp_path / "rep")]) == 0
    assert "relu3_to_q7" in (tmp_path / "rep" / "report.txt").read_text()


@pytest.mark.parametrize("arg,match", [
    ("conv9=16", r"no layer 'conv9'.*help: name one of \['conv1', 'conv2'"),
    ("conv2=12", "is not NAME=8 or NAME=16"),
    ("conv2", "is not NAME=8 or NAME=16"),
    ("conv2=16,conv2=8", "given twice"),
    ("relu1=16", "keeps its input's format"),
    ("missing.json", "no such file"),
    ("@list.json", "needs a JSON object"),
    ("@bad.json", "not JSON"),
])
def test_cli_bad_layer_bits_exit_2(tmp_path, capsys, arg, match):
    import re
    base = _cli_setup(tmp_path)
    (tmp_path / "list.json").write_text("[1]")
    (tmp_path / "bad.json").write_text("{")
    if arg.startswith("@"):
        arg = str(tmp_path / arg[1:])
    elif arg.endswith(".json"):
        arg = str(tmp_path / arg)
    capsys.readouterr()
    assert main(base + ["--layer-bits", arg, "-o", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qsim quantize: error:") and re.search(match, err), err
    assert "Traceback" not in err and not (tmp_path / "q").exists()


@pytest.mark.parametrize("case", ["kws_conv2_fc1_16", "kws_pool_concat_16"])
def test_buffer_plan_sizes_each_tensor_by_its_width(case):
    from codegen.buffer_plan import plan_buffers
    from codegen.generate import lower_graph
    q = quantized(case)
    plan = plan_buffers(q, lower_graph(q))
    for slot in plan.slots:
        for t in slot.tensors:
            want = int(np.prod(stored_shape(q, t))) * q.tensors[t].qformat.bits // 8
            assert slot.nbytes >= want, (t, slot.nbytes, want)
    for step in plan.steps:
        if step.node.op == "requantize":
            qi, qo = q.input_q(step.node), q.output_q(step.node)
            assert (step.in_ctype, step.out_ctype) == (f"q{qi.bits - 1}_t", f"q{qo.bits - 1}_t")
            assert step.out_bytes == q.tensors[step.node.output].size * qo.bits // 8
            assert step.out_slot is not step.in_slot                 # not in place


def test_diverge_reads_a_mixed_dump_and_finds_a_wrong_conversion(tmp_path):
    """A device dump (binary, each layer in its own width) of a build whose q15 -> q7 conversion
    shifts one bit less is traced to that requantize layer."""
    from qsim.diverge import diverge, read_dump, simulated_records
    q = quantized("kws_conv2_fc1_16")
    x = inputs(q, 1)[0]
    from qsim.kernels import COMPANION_KERNELS
    recs = simulated_records(q, x)
    idx = [n.name for n in q.nodes].index("relu3_to_q7")
    call = kernel_call(q, q.nodes[idx])
    src = recs[idx - 1].astype(np.int16).reshape(1, -1)
    recs[idx] = COMPANION_KERNELS[call.c_name](src, 0, call.args["rshift"] - 1, src.shape[1])[0]
    assert not np.array_equal(recs[idx], simulated_records(q, x)[idx])
    p = tmp_path / "dump.bin"
    p.write_bytes(b"".join(r.astype(np.int8 if q.tensors[n.output].qformat.bits == 8 else "<i2")
                           .tobytes() for r, n in zip(recs, q.nodes)))
    d = diverge(q, x, read_dump(p, q))
    assert d.node == "relu3_to_q7" and d.kernel == "qsim_requantize_q15_q7", d.lines()
    assert any("rshift off by one" in h for h in d.reproduced_by), d.lines()
    same = tmp_path / "same.bin"
    same.write_bytes(b"".join(r.astype(np.int8 if q.tensors[n.output].qformat.bits == 8 else "<i2")
                              .tobytes() for r, n in zip(simulated_records(q, x), q.nodes)))
    assert diverge(q, x, read_dump(same, q)).layer is None


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_cli_layer_bits_text_never_crashes(text):
    from qsim.commands.quantize import parse_layer_bits
    from qsim.errors import ArgumentError
    if text.endswith(".json") or text.strip() in ("", "."):
        return                                     # a path: the file cases are tested above
    try:
        out = parse_layer_bits(text)
    except ArgumentError:
        return
    assert all(v in (8, 16) and isinstance(k, str) and k for k, v in out.items())


@pytest.mark.parametrize("case", ["act_tanh_sigmoid_16", "kws_pool_concat_16"])
@given(data=st.data())
@settings(max_examples=12, deadline=None)
def test_any_layer_bits_quantizes_and_converts_exactly(case, data):
    """Random widths per layer: quantize succeeds (or names a layer), every layer reads its own
    width, and every conversion is the numpy round-half-up / saturation of its input."""
    g, _, _ = float_case(case)
    names = [n.name for n in g.nodes if _computes(n)]
    lb = {k: data.draw(st.sampled_from([8, 16]), label=k) for k in
          data.draw(st.lists(st.sampled_from(names), unique=True), label="layers")}
    scheme = data.draw(st.sampled_from(["q7", "q15", "q7q15"]), label="scheme")
    path = data.draw(st.sampled_from(["ref", "dsp"]), label="path")
    try:
        q = quantized(case, "5.9.0", path, layer_bits=lb, scheme=scheme)
    except (QuantizationError, UnsupportedOpError) as e:
        assert "layer '" in str(e), str(e)           # a refusal names the layer
        return
    tr = _sim(q, inputs(q, 2), trace=True)
    for n in q.nodes:
        b = q.output_q(n).bits
        if n.op != "requantize":
            assert {q.tensors[t].qformat.bits for t in n.inputs} == {b}, n.name
            continue
        qi, qo = q.input_q(n), q.output_q(n)
        want = np.clip(np.floor(tr[n.input] * 2.0 ** (qo.frac_bits - qi.frac_bits) + 0.5),
                       qo.qmin, qo.qmax)
        assert_bit_exact(tr[n.output], want.astype(tr[n.output].dtype), n.name)
