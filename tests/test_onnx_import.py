"""ONNX import: results equal onnxruntime's, and every bad input gives a clear QsimError.

Tolerance: float_exec in float64 vs onnxruntime in float32 -> atol 1e-5 on outputs of order 1
(ORT's float32 rounding, accumulated over up to ~2000-term dot products, is ~1e-6).
"""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from qsim import float_exec
from qsim.errors import ModelFormatError, UnsupportedOpError
from qsim.importers.onnx_import import load_onnx

DATA = Path(__file__).parent / "data" / "onnx"
ATOL = 1e-5


def make_model(nodes, in_shape, weights, opset=13, out="y", in_dims=None, out_rank=2):
    inits = [numpy_helper.from_array(np.asarray(v, np.float32) if np.asarray(v).dtype.kind == "f"
                                     else np.asarray(v), k) for k, v in weights.items()]
    graph = helper.make_graph(
        nodes, "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_dims or ["N", *in_shape])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [f"d{i}" for i in range(out_rank)])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def check_against_ort(model, in_shape, rng, n=4):
    """Import, run both, compare. Image inputs/outputs go NCHW -> NHWC for qsim."""
    x = rng.normal(size=(n, *in_shape)).astype(np.float32)
    ref = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    g = load_onnx(model)
    xq = x.transpose(0, 2, 3, 1) if x.ndim == 4 else x
    y = float_exec.run(g, xq, dtype=np.float64)
    if ref.ndim == 4:
        ref = ref.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(y, ref, atol=ATOL)
    return g


def bn(name, c, rng, w):
    w[f"{name}_s"], w[f"{name}_b"] = rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c)
    w[f"{name}_m"], w[f"{name}_v"] = rng.normal(0, 0.2, c), rng.uniform(0.5, 1.5, c)
    return helper.make_node("BatchNormalization", [f"{name}_in", f"{name}_s", f"{name}_b",
                                                   f"{name}_m", f"{name}_v"], [f"{name}_out"],
                            name=name, epsilon=1e-3)


def kws_onnx(rng, opset=13):
    """The seed KWS net, in ONNX's NCHW, with BatchNorm, Dropout and Identity in the way."""
    w = {"w1": rng.normal(0, 0.2, (28, 1, 10, 4)), "b1": rng.normal(0, 0.1, 28),
         "w2": rng.normal(0, 0.05, (30, 28, 10, 4)), "b2": rng.normal(0, 0.1, 30),
         "f1": rng.normal(0, 0.03, (58, 1920)), "g1": rng.normal(0, 0.1, 58),
         "f2": rng.normal(0, 0.1, (128, 58)), "g2": rng.normal(0, 0.1, 128),
         "f3": rng.normal(0, 0.1, (3, 128)), "g3": rng.normal(0, 0.1, 3)}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["bn1_in"], name="conv1",
                              kernel_shape=[10, 4]),
             bn("bn1", 28, rng, w), helper.make_node("Relu", ["bn1_out"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["bn2_in"], name="conv2",
                              kernel_shape=[10, 4], strides=[2, 1]),
             bn("bn2", 30, rng, w), helper.make_node("Relu", ["bn2_out"], ["r2"]),
             helper.make_node("Flatten", ["r2"], ["flat"], axis=1),
             helper.make_node("Dropout", ["flat"], ["drop"]),
             helper.make_node("Gemm", ["drop", "f1", "g1"], ["h1"], transB=1),
             helper.make_node("Relu", ["h1"], ["r3"]),
             helper.make_node("Gemm", ["r3", "f2", "g2"], ["h2"], transB=1),
             helper.make_node("Relu", ["h2"], ["r4"]), helper.make_node("Identity", ["r4"], ["i4"]),
             helper.make_node("Gemm", ["i4", "f3", "g3"], ["h3"], transB=1),
             helper.make_node("Softmax", ["h3"], ["y"], axis=1)]
    return make_model(nodes, (1, 49, 10), w, opset)


@pytest.mark.parametrize("opset", [11, 13, 17, onnx.defs.onnx_opset_version()])
def test_kws_with_batchnorm(rng, opset):
    model = kws_onnx(rng, opset)
    g = check_against_ort(model, (1, 49, 10), rng)
    assert [n.op for n in g.nodes] == ["conv", "relu", "conv", "relu", "flatten", "fc", "relu",
                                       "fc", "relu", "fc", "softmax"]
    assert g.tensors[g.nodes[0].output].shape == (40, 7, 28)
    raw = load_onnx(model, passes=False)
    assert raw.layout == "CHW" and sum(n.op == "batchnorm" for n in raw.nodes) == 2


@pytest.mark.parametrize("name, in_shape", [("kws_small", (1, 49, 10)), ("cifar", (3, 32, 32)),
                                            ("ds_net", (3, 24, 24))])
def test_torch_exported_models(rng, name, in_shape):
    path = DATA / f"{name}.onnx"
    assert path.stat().st_size < 200 * 1024
    x = rng.normal(size=(6, *in_shape)).astype(np.float32)
    ref = ort.InferenceSession(str(path)).run(None, {"input": x})[0]
    g = load_onnx(path)
    np.testing.assert_allclose(float_exec.run(g, x.transpose(0, 2, 3, 1), dtype=np.float64), ref,
                               atol=ATOL)
    np.testing.assert_allclose(float_exec.run(g, x.transpose(0, 2, 3, 1)), ref, atol=1e-4)
    ops = {n.op for n in g.nodes}
    assert "batchnorm" not in ops
    if name == "ds_net":
        assert {"depthwise_conv", "avgpool"} <= ops


def test_matmul_add_clip_transpose_unsqueeze_reshape(rng):
    w = {"m": rng.normal(size=(3 * 4 * 5, 8)), "a": rng.normal(size=8), "lo": np.float32(0),
         "shape": np.array([0, -1], np.int64), "ax": np.array([2, 3], np.int64),
         "wc": rng.normal(size=(6, 8, 1, 1)), "bc": rng.normal(size=6)}
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),     # NHWC
             helper.make_node("Reshape", ["t", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "m"], ["mm"]),
             helper.make_node("Add", ["mm", "a"], ["ad"]),
             helper.make_node("Clip", ["ad", "lo"], ["c"]),
             helper.make_node("Unsqueeze", ["c", "ax"], ["u"]),                   # (N, 8, 1, 1)
             helper.make_node("Conv", ["u", "wc", "bc"], ["y"], kernel_shape=[1, 1])]
    g = check_against_ort(make_model(nodes, (3, 4, 5), w, out_rank=4), (3, 4, 5), rng)
    assert [n.op for n in g.nodes] == ["flatten", "fc", "relu", "reshape", "conv"]


def test_fc_columns_permuted_after_chw_flatten(rng):
    """Flatten of a (4, 3, 5) CHW tensor: qsim's fc must read the HWC-flattened vector."""
    w = {"wc": rng.normal(size=(4, 2, 3, 3)), "f": rng.normal(size=(7, 60))}
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c"], ["fl"]),
             helper.make_node("Gemm", ["fl", "f"], ["y"], transB=1, alpha=0.5)]
    g = check_against_ort(make_model(nodes, (2, 3, 5), w), (2, 3, 5), rng)
    fc = g.nodes[-1]
    assert not np.allclose(fc.params["weight"], 0.5 * w["f"])       # columns really moved


def test_same_padding_and_harmless_asymmetric_pads(rng):
    w = {"wc": rng.normal(size=(3, 2, 3, 3))}
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], kernel_shape=[3, 3], strides=[2, 2],
                              auto_pad="SAME_UPPER"),
             helper.make_node("MaxPool", ["c"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[0, 0, 1, 1])]
    g = check_against_ort(make_model(nodes, (2, 9, 9), w, out_rank=4), (2, 9, 9), rng)
    assert g.nodes[0].attrs["pads"] == (1, 1) and g.nodes[1].attrs["pads"] == (0, 0)
    nodes[1] = helper.make_node("MaxPool", ["c"], ["y"], name="mp", kernel_shape=[2, 2],
                                strides=[2, 2], pads=[0, 0, 1, 1])       # extra window: pads_end
    g = check_against_ort(make_model(nodes, (2, 9, 9), w, out_rank=4), (2, 9, 9), rng)
    assert g.nodes[1].attrs["pads"] == (0, 0) and g.nodes[1].attrs["pads_end"] == (1, 1)


def _err(model_or_path, exc, *words):
    with pytest.raises(exc) as e:
        load_onnx(model_or_path)
    for word in words:
        assert word in str(e.value), str(e.value)


def test_unsupported_ops_and_attrs(rng):
    w = {"wc": rng.normal(size=(4, 2, 3, 3)), "lo": np.float32(0), "hi": np.float32(6)}
    conv = helper.make_node("Conv", ["x", "wc"], ["c"], name="convX", kernel_shape=[3, 3])
    _err(make_model([conv, helper.make_node("LRN", ["c"], ["y"], name="lrn1", size=3)],
                    (2, 8, 8), w), UnsupportedOpError, "lrn1", "LRN", "Conv", "Gemm")
    _err(make_model([conv, helper.make_node("Clip", ["c", "lo"], ["y"], name="c0")],
                    (2, 8, 8), {**w, "lo": np.float32(1)}), UnsupportedOpError, "c0",
         "both bounds")
    bad = helper.make_node("Conv", ["x", "wc"], ["y"], name="asym", kernel_shape=[3, 3],
                           pads=[0, 0, 3, 3])
    _err(make_model([bad], (2, 8, 8), w), UnsupportedOpError, "asym", "bottom padding 3",
         "not smaller than the kernel")
    w["wg"] = rng.normal(size=(4, 1, 3, 3))
    grp = helper.make_node("Conv", ["x", "wg"], ["y"], name="g2", kernel_shape=[3, 3], group=2)
    _err(make_model([grp], (2, 8, 8), w), UnsupportedOpError, "g2", "group")
    _err(make_model([conv, helper.make_node("Relu", ["c"], ["y"])], (2, 8, 8), w,
                    in_dims=["N", 2, "H", 8]), UnsupportedOpError, "dynamic")


def test_bad_files(tmp_path, rng):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\xff this is not a protobuf " * 50)
    _err(junk, ModelFormatError, "junk.onnx")
    good = tmp_path / "kws.onnx"
    data = kws_onnx(rng).SerializeToString()
    good.write_bytes(data)
    load_onnx(good)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    _err(cut, ModelFormatError, "cut.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    _err(empty, ModelFormatError, "not an ONNX model")
    _err(tmp_path / "missing.onnx", ModelFormatError, "no such file")
    model = kws_onnx(rng)
    w = next(t for t in model.graph.initializer if t.name == "f2")
    arr = numpy_helper.to_array(w).copy()
    arr[3, 4] = np.nan
    w.CopyFrom(numpy_helper.from_array(arr, "f2"))
    _err(model, ModelFormatError, "f2", "NaN")
    _err(make_model([helper.make_node("Relu", ["x"], ["y"])], (2, 8, 8), {}, opset=10),
         ModelFormatError, "opset 10")


def test_channel_softmax_global_maxpool_and_sigmoid(rng):
    w = {"wc": rng.normal(size=(5, 2, 3, 3))}
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["c"], ["s"]),
             helper.make_node("Softmax", ["s"], ["y"], axis=1)]              # over channels
    g = check_against_ort(make_model(nodes, (2, 6, 7), w, out_rank=4), (2, 6, 7), rng)
    assert g.nodes[-1].attrs["axis"] == -1
    nodes[2] = helper.make_node("GlobalMaxPool", ["s"], ["y"])
    check_against_ort(make_model(nodes, (2, 6, 7), w, out_rank=4), (2, 6, 7), rng)


def test_unfoldable_batchnorm_and_chw_flat_output(rng):
    w = {}
    norm = bn("bn0", 2, rng, w)
    norm.input[0] = "x"
    norm.output[0] = "y"
    _err(make_model([norm], (2, 4, 4), w, out_rank=4), UnsupportedOpError, "bn0", "batch-norm")
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Flatten", ["r"], ["y"])]
    _err(make_model(nodes, (2, 4, 4), {}), UnsupportedOpError, "HWC order")


def test_torch_style_view_chain_is_folded(rng):
    """x.view(x.size(0), -1) exports as Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    w = {"i0": np.array(0, np.int64), "ax": np.array([0], np.int64),
         "m1": np.array([-1], np.int64), "f": rng.normal(size=(4, 2 * 3 * 5))}
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["nu"]),
             helper.make_node("Concat", ["nu", "m1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"]),
             helper.make_node("Gemm", ["flat", "f"], ["y"], transB=1)]
    g = check_against_ort(make_model(nodes, (2, 3, 5), w), (2, 3, 5), rng)
    assert [n.op for n in g.nodes] == ["flatten", "fc"]
