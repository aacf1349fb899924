"""Issue 13's new ops on the float side: clip, add, concat, asymmetric padding (pads_end) and
avgpool's count_include_pad.

    qsim.train.float_ops against onnxruntime on one-node ONNX models (hypothesis over geometries)
    import (ONNX -> IR) and export (IR -> ONNX) against onnxruntime, round trips
    passes: to_hwc moves a concat's axis, transpose_hw swaps pads_end and a concat's spatial axis
    training layers: finite-difference gradients, and a DAG Net (a tensor read by several nodes)

Tolerances: float_ops in float64 vs onnxruntime in float32 on float32 data: atol 1e-5 on values
of order one (ORT's float32 rounding over a few dozen terms is ~1e-6).
"""
import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from qsim import float_exec
from qsim.errors import ShapeError, UnsupportedOpError
from qsim.exporters import to_onnx
from qsim.graph import Graph, Node
from qsim.importers.onnx_import import load_onnx
from qsim.ops import out_dim
from qsim.passes.transpose_hw import swap_hw
from qsim.train import Net
from qsim.train import float_ops as F
from qsim.train.layers import Add, AvgPool, Clip, Concat, Conv, DepthwiseConv, MaxPool
from tests.test_onnx_import import _err, check_against_ort, make_model
from tests.train.test_grad import check_layer, numeric_grad

ATOL = 1e-5


def ort_run(nodes, inputs, out_shape_rank=4, weights=None, opset=17):
    """Run ONNX `nodes` on NCHW `inputs` {name: array}; output 'y'."""
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (weights or {}).items()]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape)
                                       for k, v in inputs.items()],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return ort.InferenceSession(m.SerializeToString()).run(None, inputs)[0]


def nchw(x):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def nhwc(x):
    return x.transpose(0, 2, 3, 1)


@st.composite
def pool_case(draw):
    ky, kx = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sy, sx = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pads = [draw(st.integers(0, k - 1)) for k in (ky, kx)]
    ends = [draw(st.integers(0, k - 1)) for k in (ky, kx)]
    h = draw(st.integers(max(1, ky - pads[0] - ends[0]), 9))
    w = draw(st.integers(max(1, kx - pads[1] - ends[1]), 9))
    return (h, w), (ky, kx), (sy, sx), tuple(pads), tuple(ends), draw(st.booleans()), \
        draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(pool_case())
def test_pools_with_pads_end_ceil_and_count_include_pad_match_onnxruntime(case):
    """max_pool / avg_pool with any top/left and bottom/right pads, ceil_mode, and both
    count_include_pad conventions == onnxruntime's MaxPool / AveragePool."""
    hw, k, s, p, e, ceil, include = case
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    x = rng.normal(size=(2, *hw, 3)).astype(np.float32)
    geom = dict(kernel_shape=list(k), strides=list(s), pads=[*p, *e], ceil_mode=int(ceil))
    mx = ort_run([helper.make_node("MaxPool", ["x"], ["y"], **geom)], {"x": nchw(x)})
    av = ort_run([helper.make_node("AveragePool", ["x"], ["y"], count_include_pad=int(include),
                                   **geom)], {"x": nchw(x)})
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(F.max_pool(x64, k, s, p, ceil, e), nhwc(mx))
    np.testing.assert_allclose(F.avg_pool(x64, k, s, p, ceil, e, include), nhwc(av), atol=ATOL)
    assert F.max_pool(x64, k, s, p, ceil, e).shape[1:3] == tuple(
        out_dim(n, kk, ss, pp, ceil, ee) for n, kk, ss, pp, ee in zip(hw, k, s, p, e))


@pytest.mark.parametrize("hw,k,s,p,e", [((8, 8), (4, 4), (1, 1), (1, 1), (2, 2)),
                                        ((49, 10), (10, 4), (2, 2), (4, 1), (5, 1)),
                                        ((7, 6), (2, 3), (2, 1), (0, 2), (1, 0)),
                                        ((5, 5), (3, 3), (2, 2), (0, 0), (1, 1))])
def test_conv_and_depthwise_with_pads_end_match_onnxruntime(rng, hw, k, s, p, e):
    x = rng.normal(size=(2, *hw, 3)).astype(np.float32)
    w = rng.normal(size=(4, *k, 3)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    geom = dict(kernel_shape=list(k), strides=list(s), pads=[*p, *e])
    ref = ort_run([helper.make_node("Conv", ["x", "w", "b"], ["y"], **geom)], {"x": nchw(x)},
                  weights={"w": w.transpose(0, 3, 1, 2).copy(), "b": b})
    np.testing.assert_allclose(F.conv(x.astype(np.float64), w, b, s, p, e), nhwc(ref), atol=ATOL)
    wd = rng.normal(size=(*k, 3)).astype(np.float32)
    ref = ort_run([helper.make_node("Conv", ["x", "w", "b"], ["y"], group=3, **geom)],
                  {"x": nchw(x)}, weights={"w": wd.transpose(2, 0, 1)[:, None].copy(),
                                           "b": b[:3]})
    np.testing.assert_allclose(F.depthwise_conv(x.astype(np.float64), wd, b[:3], s, p, e),
                               nhwc(ref), atol=ATOL)


def test_clip_add_concat_match_onnxruntime(rng):
    a, b = (rng.normal(0, 4, size=(2, 5, 4, 3)).astype(np.float32) for _ in range(2))
    c = rng.normal(size=(2, 5, 4, 2)).astype(np.float32)
    lo, hi = np.float32(0), np.float32(6)
    ref = ort_run([helper.make_node("Clip", ["a", "lo", "hi"], ["y"])], {"a": a},
                  weights={"lo": lo, "hi": hi})
    np.testing.assert_array_equal(F.clip(a, 0.0, 6.0), ref)
    np.testing.assert_array_equal(F.add(a, b), ort_run([helper.make_node("Add", ["a", "b"], ["y"])],
                                                       {"a": a, "b": b}))
    for axis in (0, 1, 2, -1):      # IR axes (no batch) of an HWC image
        other = {0: (2, 3, 4, 3), 1: (2, 5, 2, 3), 2: (2, 5, 4, 2), -1: (2, 5, 4, 2)}[axis]
        c = rng.normal(size=other).astype(np.float32)
        ref = ort_run([helper.make_node("Concat", ["a", "c"], ["y"], axis=axis + 1 if axis >= 0
                                        else axis)], {"a": a, "c": c})
        np.testing.assert_array_equal(F.concat([a, c], axis), ref)


# ---- import / export ----------------------------------------------------------------------

def residual_onnx(rng, concat_axis=1, opset=13, clip_attrs=False):
    """conv -> relu6 -> conv (SAME, even kernel) -> add(shortcut) -> concat with the input ->
    average pool (pads_end, count_include_pad) -> flatten -> gemm."""
    w = {"w1": rng.normal(0, 0.3, (4, 4, 3, 3)), "w2": rng.normal(0, 0.3, (4, 4, 2, 2)),
         "lo": np.float32(0), "hi": np.float32(6)}
    clip = (helper.make_node("Clip", ["c1"], ["r1"], min=0.0, max=6.0) if clip_attrs
            else helper.make_node("Clip", ["c1", "lo", "hi"], ["r1"]))
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             clip,
             helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[2, 2],
                              pads=[0, 0, 1, 1]),
             helper.make_node("Add", ["c2", "x"], ["a"], name="res"),
             helper.make_node("Concat", ["a", "r1"], ["cat"], axis=concat_axis),
             helper.make_node("AveragePool", ["cat"], ["p"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 0, 2, 1], count_include_pad=1),
             helper.make_node("Flatten", ["p"], ["f"])]
    shape = {1: (8, 6, 5), 2: (4, 12, 5), 3: (4, 6, 10)}[concat_axis]
    n_out = int(np.prod([shape[0], *(out_dim(n, 3, 2, b, False, e)
                                      for n, b, e in zip(shape[1:], (1, 0), (2, 1)))]))
    w["g"] = rng.normal(0, 0.3, (3, n_out))
    nodes.append(helper.make_node("Gemm", ["f", "g"], ["y"], transB=1))
    return make_model(nodes, (4, 6, 5), w, opset)


@pytest.mark.parametrize("axis", [1, 2, 3])
def test_import_add_clip_concat_asymmetric_pads(rng, axis):
    g = check_against_ort(residual_onnx(rng, axis), (4, 6, 5), rng)
    ops = {n.op: n for n in g.nodes}
    assert set(ops) >= {"clip", "add", "concat"}
    assert (ops["clip"].attrs["min"], ops["clip"].attrs["max"]) == (0.0, 6.0)
    assert ops["concat"].attrs["axis"] == {1: -1, 2: 0, 3: 1}[axis]       # HWC axes
    assert g.producer("c1").attrs.get("pads_end") is None
    c2 = g.producer("c2").attrs
    assert c2["pads"] == (0, 0) and c2["pads_end"] == (1, 1)
    pool = ops["avgpool"].attrs      # the right padding is never read (5 + 1 - 3): dropped
    assert (pool["pads"], pool["pads_end"], pool["count_include_pad"]) == (
        (1, 0), (2, 1 if axis == 3 else 0), 1)
    assert g.node("res").inputs == ["c2", "x"]


def test_import_clip_with_attributes_and_other_bounds(rng):
    """Clip's min/max as attributes (opset < 11, written by old exporters) read like inputs;
    any finite bounds import as clip; Add with a constant is still only an fc bias."""
    m = residual_onnx(rng, clip_attrs=True)
    m.opset_import[0].version = 10
    from qsim.importers.onnx_handlers import clip
    attrs = {"min": -1.5, "max": 2.0}

    class Ctx:
        consts = {}

        def const(self, n, i, default=None):
            return default

        def tensor(self, name, n):
            return name

        def add(self, n, op, inputs, a=None):
            self.added = (op, inputs, a)
    ctx = Ctx()
    clip(ctx, m.graph.node[1], attrs)
    assert ctx.added == ("clip", ["c1"], {"min": -1.5, "max": 2.0})
    w = {"w1": rng.normal(size=(4, 4, 3, 3)), "k": rng.normal(size=(4, 6, 5))}
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Add", ["c", "k"], ["y"], name="plusk")]
    _err(make_model(nodes, (4, 6, 5), w, out_rank=4), UnsupportedOpError, "plusk",
         "bias of a preceding MatMul")
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], kernel_shape=[3, 3]),
             helper.make_node("Add", ["c", "x"], ["y"], name="mismatch")]
    _err(make_model(nodes, (4, 6, 5), w, out_rank=4), UnsupportedOpError, "mismatch",
         "no broadcasting")
    nodes = [helper.make_node("Concat", ["x", "x"], ["y"], name="cat0", axis=0)]
    _err(make_model(nodes, (4, 6, 5), w, out_rank=4), UnsupportedOpError, "cat0",
         "non-batch axis")


def _dag_graph(rng, dtype=np.float64, concat_axis=-1):
    """input (6, 5, 2) -> conv 3x3 -> relu -+-> conv 2x2 SAME (pads_end) -> clip -> add -> concat
    -> avgpool (pads_end, count_include_pad) -> maxpool (pads_end) -> fc; the relu output is read
    by the conv, the add and the concat (three readers)."""
    g = Graph("dag")
    g.add_input("x", (6, 5, 2))

    def p(*shape):
        return rng.normal(0, 0.5, shape).astype(dtype)
    g.add_node(Node("c1", "conv", ["x"], ["c1"], {"kernel_shape": (3, 3), "pads": (1, 1)},
                    {"weight": p(4, 3, 3, 2), "bias": p(4)}))
    g.add_node(Node("r1", "relu", ["c1"], ["r1"]))
    g.add_node(Node("c2", "conv", ["r1"], ["c2"], {"kernel_shape": (2, 2), "pads": (0, 0),
                                                   "pads_end": (1, 1)},
                    {"weight": p(4, 2, 2, 4), "bias": p(4)}))
    g.add_node(Node("dw", "depthwise_conv", ["c2"], ["dw"], {"kernel_shape": (2, 3),
                                                             "pads": (1, 0), "pads_end": (0, 2),
                                                             "strides": (1, 1)},
                    {"weight": p(2, 3, 4), "bias": p(4)}))
    g.add_node(Node("cl", "clip", ["dw"], ["cl"], {"min": -0.5, "max": 0.75}))
    g.add_node(Node("a", "add", ["r1", "cl"], ["a"]))
    g.add_node(Node("cat", "concat", ["a", "r1"], ["cat"], {"axis": concat_axis}))
    g.add_node(Node("ap", "avgpool", ["cat"], ["ap"], {"kernel_shape": (3, 2), "strides": (2, 1),
                                                       "pads": (1, 0), "pads_end": (2, 1),
                                                       "count_include_pad": 1}))
    g.add_node(Node("mp", "maxpool", ["ap"], ["mp"], {"kernel_shape": (2, 2), "strides": (2, 2),
                                                      "pads": (0, 0), "pads_end": (1, 1)}))
    rows = int(np.prod(g.tensors["mp"].shape))
    g.add_node(Node("fc", "fc", ["mp"], ["y"], {}, {"weight": p(3, rows), "bias": p(3)}))
    g.outputs = ["y"]
    return g.validate()


def test_export_of_new_ops_runs_in_onnxruntime_like_float_exec(rng):
    g = _dag_graph(rng, np.float32)
    x = rng.normal(size=(3, 6, 5, 2)).astype(np.float32)
    ref = float_exec.run(g, x, dtype=np.float64)
    model = to_onnx(g)
    assert {n.op_type for n in model.graph.node} >= {"Clip", "Add", "Concat", "AveragePool"}
    y = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, ref, atol=ATOL, rtol=1e-4)
    back = load_onnx(model)                # export -> import: the same ops and attributes
    new = ("clip", "add", "concat", "avgpool", "conv", "depthwise_conv")
    assert [(n.op, n.attrs) for n in back.nodes if n.op in new] == [
        (n.op, n.attrs) for n in g.nodes if n.op in new]
    np.testing.assert_array_equal(float_exec.run(back, x, dtype=np.float64), ref)


def test_swap_hw_keeps_the_function_with_pads_end_add_concat(rng):
    g = _dag_graph(rng, concat_axis=1)        # a spatial concat too
    x = rng.normal(size=(2, 6, 5, 2))
    ref = float_exec.run(g, x, dtype=np.float64)
    s = g.copy()
    assert swap_hw(s)
    assert s.node("cat").attrs["axis"] == 0 and s.node("c2").attrs["pads_end"] == (1, 1)
    assert s.node("dw").attrs["pads"] == (0, 1) and s.node("dw").attrs["pads_end"] == (2, 0)
    np.testing.assert_allclose(float_exec.run(s, x, dtype=np.float64), ref, atol=1e-12)


def test_add_and_concat_shape_errors(rng):
    g = Graph("bad")
    g.add_input("a", (3, 4, 2))
    g.add_input("b", (3, 4, 3))
    with pytest.raises(ShapeError, match="no broadcasting"):
        g.add_node(Node("s", "add", ["a", "b"], ["s"]))
    with pytest.raises(ShapeError, match="differ outside axis"):
        g.add_node(Node("c", "concat", ["a", "b"], ["c"], {"axis": 0}))
    g.add_node(Node("c", "concat", ["a", "b"], ["c"], {"axis": -1}))
    assert g.tensors["c"].shape == (3, 4, 5)


# ---- training -----------------------------------------------------------------------------

@pytest.mark.parametrize("layer,x_shape,params", [
    (Conv("c", strides=(2, 1), pads=(1, 0), pads_end=(2, 1)), (2, 5, 4, 3), {"weight": (4, 3, 2, 3),
                                                                            "bias": (4,)}),
    (DepthwiseConv("d", strides=(1, 2), pads=(0, 1), pads_end=(1, 0)), (2, 5, 6, 3),
     {"weight": (2, 3, 3), "bias": (3,)}),
    (MaxPool("m", (3, 2), (2, 1), (1, 0), 1, pads_end=(0, 1)), (2, 6, 5, 2), {}),
    (AvgPool("a", (3, 2), (2, 1), (1, 0), 1, pads_end=(2, 1), count_include_pad=1), (2, 6, 5, 2),
     {}),
    (AvgPool("a", (2, 2), (2, 2), (0, 0), 0, pads_end=(1, 1)), (2, 5, 5, 2), {}),
    (Clip("r6", -0.5, 0.7), (2, 3, 4, 2), {}),
])
def test_layer_gradients_with_new_attributes(rng, layer, x_shape, params):
    x = rng.normal(size=x_shape)
    check_layer(layer, x, {k: rng.normal(size=s) for k, s in params.items()}, rng)


def test_add_and_concat_layer_gradients(rng):
    a, b = rng.normal(size=(2, 3, 4, 2)), rng.normal(size=(2, 3, 4, 2))
    g_out = rng.normal(size=(2, 3, 4, 2))
    ga, gb = Add("s").backward(g_out)[0] if Add("s").forward([a, b]) is not None else None
    np.testing.assert_array_equal(ga, g_out)
    np.testing.assert_array_equal(gb, g_out)
    for axis in (0, 1, -1):
        c = rng.normal(size=(2, 3, 4, 2))
        layer = Concat("c", axis)
        y = layer.forward([a, c], None)
        g_out = rng.normal(size=y.shape)
        grads, _ = layer.backward(g_out)
        for x, gx in zip((a, c), grads):
            idx, num = numeric_grad(lambda: float((layer.forward([a, c], None) * g_out).sum()),
                                    x, rng=rng)
            np.testing.assert_allclose(gx.reshape(-1)[idx], num[idx], atol=1e-6)


def test_dag_net_gradients_sum_over_readers(rng):
    """Every parameter's gradient through a DAG Net (a tensor read by three nodes, add, concat,
    clip, pads_end, count_include_pad) equals finite differences of the Net's own forward."""
    g = _dag_graph(rng)
    net = Net(g, dtype=np.float64)
    x = rng.normal(size=(2, 6, 5, 2))
    np.testing.assert_allclose(net.forward(x), float_exec.run(g, x, dtype=np.float64), atol=1e-12)
    g_out = rng.normal(size=(2, 3))
    net.forward(x)
    grads = net.backward(g_out)
    loss = lambda: float((net.forward(x) * g_out).sum())      # noqa: E731
    for key, p in net.params.items():
        idx, num = numeric_grad(loss, p, n_probe=12, rng=rng)
        np.testing.assert_allclose(grads[key].reshape(-1)[idx], num[idx], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


@pytest.mark.parametrize("name", ["dscnn", "residual", "relu6", "concat", "maxpool_time"])
def test_float_exec_and_training_net_equal_an_independent_reference(name):
    """float_exec and the training Net on net13's graphs (tests/net13/nets.py) == its plain-loop
    float reference, written apart from qsim.train.float_ops."""
    from tests.net13.nets import NETS as NET13, float_forward
    g = NET13[name]()
    x = np.random.default_rng(5).normal(size=(3,) + g.tensors[g.inputs[0]].shape)
    want = float_forward(g, x)
    got = float_exec.run(g, x, dtype=np.float64, trace=True)
    for t in want:
        np.testing.assert_allclose(got[t], want[t], atol=1e-9, err_msg=t)
    net = Net(g.copy(), dtype=np.float64)
    np.testing.assert_allclose(net.forward(x), want[net.logits], atol=1e-9)
