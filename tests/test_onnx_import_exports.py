"""ONNX import of what today's exporters write, built with onnx.helper exactly as PyTorch's two
exporters write it (these always run; tests/test_onnx_import_torch.py exports the same nets with
real PyTorch where it is installed): external data files, ReduceMean as global pooling, the
constant subgraphs torch emits for F.pad / x.view / nn.GRU, Pad merged into the next conv's
padding, asymmetric padding refused, and every refused node listed in one error.

Every imported model is run by float_exec and compared with onnxruntime (atol as in
tests/test_onnx_import.py).
"""
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from qsim import float_exec
from qsim.errors import ModelFormatError, UnsupportedOpError
from qsim.importers.onnx_import import load_onnx
from tests.test_onnx_import import ATOL, _err, check_against_ort, make_model


def const(name, value):
    """A Constant node as torch's TorchScript exporter writes them (one per literal)."""
    return helper.make_node("Constant", [], [name], name=name,
                            value=numpy_helper.from_array(np.asarray(value)))


def torch_pad_chain(pads, out="pads"):
    """F.pad(x, pads) as the TorchScript exporter (opset 20) writes the Pad's pads input: the
    torch order (left, right, top, bottom) padded with zeros to 8, reversed pairwise and
    transposed into ONNX's (begin..., end...) order, all on constants."""
    return [const("c0", np.array([8 - len(pads)])), const("c1", np.array(pads)),
            helper.make_node("ConstantOfShape", ["c0"], ["zeros"], name="/ConstantOfShape",
                             value=numpy_helper.from_array(np.zeros(1, np.int64))),
            helper.make_node("Concat", ["c1", "zeros"], ["cat"], name="/Concat", axis=0),
            const("c2", np.array([-1, 2])),
            helper.make_node("Reshape", ["cat", "c2"], ["pairs"], name="/Reshape"),
            const("c3", np.array([0])), const("c4", np.array([-1])),
            const("c5", np.array([-9223372036854775807])), const("c6", np.array([-1])),
            helper.make_node("Slice", ["pairs", "c4", "c5", "c3", "c6"], ["rev"], name="/Slice"),
            helper.make_node("Transpose", ["rev"], ["tr"], name="/Transpose", perm=[1, 0]),
            const("c7", np.array([-1])),
            helper.make_node("Reshape", ["tr", "c7"], ["flat"], name="/Reshape_1"),
            helper.make_node("Cast", ["flat"], [out], name="/Cast", to=TensorProto.INT64)]


def pad_net(rng, pads, after="conv", mode="constant", value=None, opset=20):
    """x -> [relu] -> F.pad(pads) -> conv 3x3 / maxpool 2x2 / avgpool 2x2 / relu -> y."""
    w = {"wc": rng.normal(size=(4, 2, 3, 3)), "bc": rng.normal(size=4)}
    nodes = []
    x = "x"
    if after == "relu_maxpool":
        nodes.append(helper.make_node("Relu", ["x"], ["r"], name="/Relu"))
        x = "r"
    pad_inputs = [x, "pads"] + (["pv"] if value is not None else [])
    if value is not None:
        w["pv"] = np.float32(value)
    nodes += torch_pad_chain(pads)
    nodes.append(helper.make_node("Pad", pad_inputs, ["padded"], name="/Pad", mode=mode))
    if after == "conv":
        nodes.append(helper.make_node("Conv", ["padded", "wc", "bc"], ["y"], name="/c/Conv",
                                      kernel_shape=[3, 3], pads=[0, 0, 0, 0]))
    elif after in ("maxpool", "relu_maxpool"):
        nodes.append(helper.make_node("MaxPool", ["padded"], ["y"], name="/mp", kernel_shape=[3, 3],
                                      strides=[2, 2]))
    elif after == "avgpool":
        nodes.append(helper.make_node("AveragePool", ["padded"], ["y"], name="/ap",
                                      kernel_shape=[3, 3], strides=[2, 2]))
    else:
        nodes.append(helper.make_node("Relu", ["padded"], ["y"], name="/r2"))
    return make_model(nodes, (2, 7, 8), w, opset=opset, out_rank=4)


def test_torchscript_pad_chain_folds_and_merges_into_conv(rng):
    model = pad_net(rng, [1, 1, 2, 2])          # left/right 1, top/bottom 2
    g = check_against_ort(model, (2, 7, 8), rng)
    assert [n.op for n in g.nodes] == ["conv"]
    assert g.nodes[0].attrs["pads"] == (2, 1)
    model = pad_net(rng, [1, 1, 1, 1], "relu_maxpool")   # max over zeros and ReLU outputs: exact
    g = check_against_ort(model, (2, 7, 8), rng)
    assert [n.op for n in g.nodes] == ["relu", "maxpool"] and g.nodes[1].attrs["pads"] == (1, 1)


def test_asymmetric_pad_and_pad_before_avgpool_merge(rng):
    """An asymmetric F.pad merges as pads + pads_end; before an average pool without padding of
    its own it merges as count_include_pad=1 (the Pad's zeros are averaged, as in ONNX)."""
    g = check_against_ort(pad_net(rng, [0, 1, 0, 1]), (2, 7, 8), rng)
    assert g.nodes[0].attrs["pads"] == (0, 0) and g.nodes[0].attrs["pads_end"] == (1, 1)
    g = check_against_ort(pad_net(rng, [1, 1, 1, 1], "avgpool"), (2, 7, 8), rng)
    assert g.nodes[0].attrs["count_include_pad"] == 1 and g.nodes[0].attrs["pads"] == (1, 1)


def test_pad_that_cannot_merge_is_refused_naming_it(rng):
    _err(pad_net(rng, [1, 1, 1, 1], "maxpool"), UnsupportedOpError, "/Pad", "/mp", "negative")
    _err(pad_net(rng, [1, 1, 1, 1], "relu"), UnsupportedOpError, "/Pad", "/r2", "merges")
    _err(pad_net(rng, [1, 1, 1, 1], mode="reflect"), UnsupportedOpError, "/Pad", "reflect")
    _err(pad_net(rng, [1, 1, 1, 1], value=0.5), UnsupportedOpError, "/Pad", "0.5")
    _err(pad_net(rng, [3, 3, 0, 0]), UnsupportedOpError, "/c/Conv", "not smaller than the kernel")
    _err(pad_net(rng, [1, 1, 1, 1, 1, 1]), UnsupportedOpError, "/Pad", "H and W axes")


def test_pad_with_axes_input_opset18(rng):
    """Pad's optional `axes` input (opset 18): pads only for the listed axes."""
    w = {"wc": rng.normal(size=(3, 2, 3, 3)), "p": np.array([1, 2, 1, 2], np.int64),
         "ax": np.array([2, 3], np.int64)}
    nodes = [helper.make_node("Pad", ["x", "p", "", "ax"], ["pd"], name="pad"),
             helper.make_node("Conv", ["pd", "wc"], ["y"], name="conv", kernel_shape=[3, 3],
                              pads=[1, 0, 1, 0])]
    g = check_against_ort(make_model(nodes, (2, 6, 6), w, opset=18, out_rank=4), (2, 6, 6), rng)
    assert g.nodes[0].attrs["pads"] == (2, 2)          # the Pad's plus the conv's own
    nodes[1] = helper.make_node("Relu", ["x"], ["y"])
    nodes[0].output[0] = "y2"
    model = make_model(nodes, (2, 6, 6), w, opset=18, out_rank=4)
    out = helper.make_tensor_value_info("y2", TensorProto.FLOAT, ["a", 2, 8, 10])
    model.graph.output.append(out)
    _err(model, UnsupportedOpError, "'pad' (Pad)", "graph output")


@pytest.mark.parametrize("opset", [13, 17, 18, 20])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("reduce", ["ReduceMean", "ReduceMax"])
def test_reduce_over_hw_is_global_pooling(rng, opset, keepdims, reduce):
    """nn.AdaptiveAvgPool2d(1) -> ReduceMean(keepdims=1) + Reshape (dynamo); x.mean((2, 3)) ->
    ReduceMean(keepdims=0) + Gemm (both exporters); axes an attribute before opset 18."""
    w = {"wc": rng.normal(size=(5, 2, 3, 3)), "f": rng.normal(size=(3, 5)),
         "ax": np.array([2, -1], np.int64), "shape": np.array([0, 5], np.int64)}
    axes = {"axes": [2, -1]} if opset < 18 else {}
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node(reduce, ["r"] + (["ax"] if opset >= 18 else []), ["m"],
                              name="/mean", keepdims=keepdims, **axes)]
    if keepdims:
        nodes.append(helper.make_node("Reshape", ["m", "shape"], ["v"]))
    nodes.append(helper.make_node("Gemm", ["v" if keepdims else "m", "f"], ["y"], transB=1))
    g = check_against_ort(make_model(nodes, (2, 7, 9), w, opset=opset), (2, 7, 9), rng)
    pool = "avgpool" if reduce == "ReduceMean" else "maxpool"
    ops = [n.op for n in g.nodes]
    assert ops[:3] == ["conv", "relu", pool] and ops[-1] == "fc" and len(ops) <= 5
    assert g.nodes[2].attrs["kernel_shape"] == (5, 7)


def test_reduce_over_other_axes_refused(rng):
    w = {"ax": np.array([1], np.int64)}
    nodes = [helper.make_node("ReduceMean", ["x", "ax"], ["y"], name="chmean", keepdims=1)]
    _err(make_model(nodes, (2, 4, 4), w, opset=18, out_rank=4), UnsupportedOpError, "chmean",
         "axes [1]", "(2, 3)")


def test_shape_arithmetic_reshape_target_resolves(rng):
    """x.reshape(x.shape[0], -1) with Slice and Cast in the chain, and a static-batch Reshape
    target (dynamo exports fix the batch: [4, -1] for a batch-4 example input)."""
    w = {"s0": np.array([0], np.int64), "s1": np.array([1], np.int64),
         "m1": np.array([-1.0], np.float32), "f": rng.normal(size=(4, 2 * 3 * 5))}
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "s0", "s1"], ["n"]),
             helper.make_node("Cast", ["m1"], ["m1i"], to=TensorProto.INT64),
             helper.make_node("Concat", ["n", "m1i"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"]),
             helper.make_node("Gemm", ["flat", "f"], ["y"], transB=1)]
    g = check_against_ort(make_model(nodes, (2, 3, 5), w), (2, 3, 5), rng)
    assert [n.op for n in g.nodes] == ["flatten", "fc"]
    nodes = [helper.make_node("Constant", [], ["t4"], value_ints=[4, -1]),
             helper.make_node("Reshape", ["x", "t4"], ["flat"], allowzero=1), nodes[-1]]
    model = make_model(nodes, (2, 3, 5), w, in_dims=[4, 2, 3, 5], opset=20)
    g = check_against_ort(model, (2, 3, 5), rng)
    assert [n.op for n in g.nodes] == ["flatten", "fc"]


def gru_model(rng):
    """nn.GRU(10, 8) on an (N, 49, 10) input, exported as TorchScript does (opset 20): the zero
    initial state from Shape -> Gather -> Unsqueeze -> Concat -> ConstantOfShape, the batch-first
    Transposes, then fc on the last hidden state; an LRN and a LeakyRelu further on."""
    w = {"W": rng.normal(size=(1, 24, 10)), "R": rng.normal(size=(1, 24, 8)),
         "B": rng.normal(size=(1, 48)), "f": rng.normal(size=(8, 8)),
         "sq": np.array([0], np.int64)}
    nodes = [helper.make_node("Shape", ["x"], ["/g/Shape_output_0"], name="/g/Shape"),
             const("/g/c0", np.array(0)),
             helper.make_node("Gather", ["/g/Shape_output_0", "/g/c0"], ["nb"], name="/g/Gather",
                              axis=0),
             const("/g/c1", np.array([1])), const("/g/ax", np.array([0])),
             helper.make_node("Unsqueeze", ["nb", "/g/ax"], ["nbu"], name="/g/Unsqueeze"),
             const("/g/c2", np.array([8])),
             helper.make_node("Concat", ["/g/c1", "nbu", "/g/c2"], ["h0shape"], name="/g/Concat",
                              axis=0),
             helper.make_node("ConstantOfShape", ["h0shape"], ["h0"], name="/g/ConstantOfShape"),
             helper.make_node("Transpose", ["x"], ["xt"], name="/g/Transpose", perm=[1, 0, 2]),
             helper.make_node("GRU", ["xt", "W", "R", "B", "", "h0"], ["ys", "hn"], name="/g/GRU",
                              hidden_size=8, linear_before_reset=1),
             helper.make_node("Squeeze", ["hn", "sq"], ["h"], name="/Squeeze"),
             helper.make_node("Gemm", ["h", "f"], ["z"], name="/fc/Gemm", transB=1),
             helper.make_node("LeakyRelu", ["z"], ["y"], name="/act", alpha=0.1)]
    return make_model(nodes, (49, 10), w, opset=20)


def test_every_unsupported_node_in_one_error_and_gru_named(rng):
    with pytest.raises(UnsupportedOpError) as e:
        load_onnx(gru_model(rng))
    msg = str(e.value)
    for word in ("3 nodes", "'/g/Transpose' (Transpose)", "batch axis", "'/g/GRU' (GRU)",
                 "unsupported op 'GRU'", "recurrent", "'/act' (LeakyRelu)", "ReLU"):
        assert word in msg, msg
    for word in ("ConstantOfShape", "Squeeze", "Gemm'", "'/g/Gather"):
        assert word not in msg.split("qsim imports:")[0], msg
    assert "\n" not in msg                             # the CLI prints one line per error


def test_one_unsupported_op_message_is_unchanged(rng):
    w = {"wc": rng.normal(size=(4, 2, 3, 3))}
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], name="c1", kernel_shape=[3, 3]),
             helper.make_node("HardSwish", ["c"], ["y"], name="hs")]
    with pytest.raises(UnsupportedOpError) as e:
        load_onnx(make_model(nodes, (2, 6, 6), w, opset=14, out_rank=4))
    assert str(e.value).startswith("node 'hs' (HardSwish): unsupported op 'HardSwish'. help: ")
    assert "nodes qsim cannot import" not in str(e.value)


def test_asymmetric_same_padding_imports_as_pads_end(rng):
    """TF/Keras 'SAME' with an even kernel, as tf2onnx writes it (explicit pads, more at the
    bottom/right) or as auto_pad SAME_UPPER / SAME_LOWER: pads (top, left) + pads_end."""
    w = {"wc": rng.normal(size=(3, 2, 4, 4))}
    conv = helper.make_node("Conv", ["x", "wc"], ["y"], name="same4", kernel_shape=[4, 4],
                            pads=[1, 1, 2, 2])
    g = check_against_ort(make_model([conv], (2, 8, 8), w, out_rank=4), (2, 8, 8), rng)
    assert g.nodes[0].attrs["pads"] == (1, 1) and g.nodes[0].attrs["pads_end"] == (2, 2)
    for auto, want in (("SAME_UPPER", ((1, 1), (2, 2))), ("SAME_LOWER", ((2, 2), (1, 1)))):
        conv = helper.make_node("Conv", ["x", "wc"], ["y"], name="auto4", kernel_shape=[4, 4],
                                auto_pad=auto)
        g = check_against_ort(make_model([conv], (2, 8, 8), w, out_rank=4), (2, 8, 8), rng)
        assert (g.nodes[0].attrs["pads"], g.nodes[0].attrs["pads_end"]) == want


# ---- external data ------------------------------------------------------------------------

def small_net(rng, scale=1.0):
    w = {"wc": scale * rng.normal(size=(4, 2, 3, 3)), "f": scale * rng.normal(size=(3, 4 * 4 * 6))}
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Flatten", ["r"], ["fl"]),
             helper.make_node("Gemm", ["fl", "f"], ["y"], transB=1)]
    return make_model(nodes, (2, 6, 8), w, opset=18)


def save_external(model, path):
    """Save as the dynamo exporter does: weights in `<name>.onnx.data` beside the model."""
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location=path.name + ".data", size_threshold=0)


def _run(g, x):
    return float_exec.run(g, x.transpose(0, 2, 3, 1), dtype=np.float64)


def test_external_data_is_read_from_the_models_folder(tmp_path, rng, monkeypatch):
    (tmp_path / "model").mkdir()
    (tmp_path / "elsewhere").mkdir()
    path = tmp_path / "model" / "net.onnx"
    save_external(small_net(rng), path)
    save_external(small_net(rng, 2.0), tmp_path / "elsewhere" / "net.onnx")   # the decoy .data
    assert (tmp_path / "elsewhere" / "net.onnx.data").stat().st_size == \
        (tmp_path / "model" / "net.onnx.data").stat().st_size
    monkeypatch.chdir(tmp_path / "elsewhere")
    x = rng.normal(size=(3, 2, 6, 8)).astype(np.float32)
    import onnxruntime as ort
    ref = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    decoy = ort.InferenceSession(str(tmp_path / "elsewhere" / "net.onnx")).run(None, {"x": x})[0]
    assert np.abs(ref - decoy).max() > 0.1
    np.testing.assert_allclose(_run(load_onnx(path), x), ref, atol=ATOL)
    np.testing.assert_allclose(_run(load_onnx("../model/net.onnx"), x), ref, atol=ATOL)
    in_memory = onnx.load(str(path), load_external_data=False)
    _err(in_memory, ModelFormatError, "external file", "net.onnx.data", "path")


def _relocate(path, location):
    model = onnx.load(str(path), load_external_data=False)
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
    path.write_bytes(model.SerializeToString())


@pytest.mark.parametrize("location", ["../net.onnx.data", "sub/../../net.onnx.data",
                                      "..\\net.onnx.data", "/ABS"])
def test_external_data_outside_the_folder_is_refused(tmp_path, rng, location):
    (tmp_path / "model").mkdir()
    save_external(small_net(rng), tmp_path / "net.onnx")       # a real file at ../net.onnx.data
    path = tmp_path / "model" / "net.onnx"
    save_external(small_net(rng), path)
    location = location.replace("/ABS", str(tmp_path / "net.onnx.data"))
    _relocate(path, location)
    _err(path, ModelFormatError, "net.onnx", repr(location), "refuses")


def test_external_data_symlink_escape_missing_and_truncated(tmp_path, rng):
    (tmp_path / "model").mkdir()
    save_external(small_net(rng), tmp_path / "net.onnx")
    path = tmp_path / "model" / "net.onnx"
    save_external(small_net(rng), path)
    data = tmp_path / "model" / "net.onnx.data"
    good = data.read_bytes()
    data.unlink()
    _err(path, ModelFormatError, "net.onnx.data", "not found", "model")
    os.symlink(tmp_path / "net.onnx.data", data)
    _err(path, ModelFormatError, "resolves outside")
    data.unlink()
    data.write_bytes(good[: len(good) // 2])
    _err(path, ModelFormatError, "external data")


def test_cli_lists_every_refused_node_without_traceback(tmp_path, rng, capsys):
    from qsim.cli import main
    path = tmp_path / "gru.onnx"
    onnx.save(gru_model(rng), str(path))
    np.save(tmp_path / "x.npy", rng.normal(size=(4, 49, 10)).astype(np.float32))
    assert main(["calibrate", str(path), "--data", str(tmp_path / "x.npy"), "-o",
                 str(tmp_path / "calib.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qsim calibrate: error: 3 nodes qsim cannot import") and "/g/GRU" in err
    assert "Traceback" not in err and not (tmp_path / "calib.json").exists()


_SEGMENTS = ["..", ".", "", "net.onnx.data", "sub", "x\x00", "C:", "~", "net.onnx.data "]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=4),
       sep=st.sampled_from(["/", "\\"]), lead=st.sampled_from(["", "/", "\\"]))
def test_external_location_never_reads_outside_the_folder(tmp_path_factory, parts, sep, lead):
    """Any location string: either a ModelFormatError, or the data file inside the folder."""
    root = tmp_path_factory.mktemp("loc")
    (root / "model" / "sub").mkdir(parents=True)
    save_external(small_net(np.random.default_rng(0)), root / "net.onnx")    # outside copy
    path = root / "model" / "net.onnx"
    save_external(small_net(np.random.default_rng(0)), path)
    location = lead + sep.join(parts)
    _relocate(path, location)
    try:
        load_onnx(path)
    except ModelFormatError:
        return
    win = location.replace("\\", "/")
    assert (root / "model" / win).resolve() == (root / "model" / "net.onnx.data").resolve()


def test_nodes_after_a_refused_node_are_still_checked(rng):
    """Two refused HardSwish activations: the second is listed too, because the first one's
    output (shape known to onnx) stands in as an input for the rest of the check."""
    w = {f"w{i}": rng.normal(size=(4, 4, 3, 3)) for i in range(3)}
    w["f"] = rng.normal(size=(3, 4))
    conv = [helper.make_node("Conv", [x, f"w{i}"], [f"c{i}"], name=f"conv{i}", kernel_shape=[3, 3],
                             pads=[1, 1, 1, 1]) for i, x in enumerate(["x", "a1", "a2"])]
    nodes = [conv[0], helper.make_node("HardSwish", ["c0"], ["a1"], name="res1"),
             conv[1], helper.make_node("HardSwish", ["c1"], ["a2"], name="res2"), conv[2],
             helper.make_node("ReduceMean", ["c2"], ["m"], axes=[2, 3], keepdims=0),
             helper.make_node("Gemm", ["m", "f"], ["y"], transB=1)]
    _err(make_model(nodes, (4, 6, 6), w, opset=14), UnsupportedOpError, "2 nodes",
         "'res1' (HardSwish)", "'res2' (HardSwish)")


_ONNX_DIR = Path(__file__).parent / "data" / "onnx"
_INTS = st.sampled_from([-1, 0, 1, 2, 3, 7, 1000, 2 ** 31 - 1, -2 ** 31, 2 ** 40])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), name=st.sampled_from(["kws_small", "ds_net", "cifar"]))
def test_random_onnx_edits_import_or_name_the_error(data, name):
    """An ONNX file is untrusted: any node's integer attributes cut, lengthened or set to odd
    values, or an initializer shortened or given NaN: the import gives a graph that runs, or
    raises one QsimError naming the problem (found this way: a 1-long `strides` was an
    IndexError, a bias of the wrong length a numpy broadcast error)."""
    from qsim.errors import QsimError
    model = onnx.load(_ONNX_DIR / f"{name}.onnx")
    nodes = [n for n in model.graph.node if any(a.type == onnx.AttributeProto.INTS
                                                 or a.type == onnx.AttributeProto.INT
                                                 for a in n.attribute)]
    for _ in range(data.draw(st.integers(1, 2))):
        if data.draw(st.booleans()) and nodes:
            n = data.draw(st.sampled_from(nodes))
            a = data.draw(st.sampled_from([a for a in n.attribute if a.type in (
                onnx.AttributeProto.INTS, onnx.AttributeProto.INT)]))
            if a.type == onnx.AttributeProto.INT:
                a.i = data.draw(_INTS)
            else:
                values = data.draw(st.lists(_INTS, min_size=0, max_size=len(a.ints) + 1))
                del a.ints[:]
                a.ints.extend(values)
        else:
            t = data.draw(st.sampled_from(list(model.graph.initializer)))
            arr = numpy_helper.to_array(t).astype(np.float32).reshape(-1)
            if data.draw(st.booleans()):
                arr = arr[:max(0, arr.size - data.draw(st.integers(1, 3)))]
            elif arr.size:
                arr[data.draw(st.integers(0, arr.size - 1))] = np.nan
                arr = arr.reshape(numpy_helper.to_array(t).shape)
            t.CopyFrom(numpy_helper.from_array(arr, t.name))
    try:
        g = load_onnx(model)
    except QsimError:
        return
    shape = g.tensors[g.inputs[0]].shape
    float_exec.run(g, np.zeros((1,) + shape, np.float32))
