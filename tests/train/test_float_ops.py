"""qsim.train.float_ops, the float forward float_exec and the training layers share: pools against
a plain loop over clipped windows on random geometries (ceil_mode, padding, non-square), conv,
depthwise conv and pools against onnxruntime, and the two callers agreeing bit for bit."""
import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings, strategies as st
from onnx import TensorProto, helper, numpy_helper

from qsim import float_exec
from qsim.graph import Graph, Node
from qsim.train import float_ops as F
from qsim.train.layers import AvgPool, DepthwiseConv, MaxPool, ReLU

SETTINGS = settings(max_examples=60, deadline=None)


def out_size(n, k, s, p, ceil_mode):
    """ONNX / PyTorch output size, written out again: the ceil rule drops a last window that
    would start in the right padding."""
    span = n + 2 * p - k
    out = (span + s - 1) // s + 1 if ceil_mode else span // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def loop_pool(x, kernel, stride, padding, ceil_mode):
    """(max, mean, count) per window, each window clipped to the image."""
    n, h, w, c = x.shape
    ho, wo = (out_size(*a, ceil_mode) for a in zip((h, w), kernel, stride, padding))
    mx, mean = np.empty((n, ho, wo, c)), np.empty((n, ho, wo, c))
    count = np.empty((ho, wo, 1))
    for oy in range(ho):
        for ox in range(wo):
            y0, x0 = oy * stride[0] - padding[0], ox * stride[1] - padding[1]
            win = x[:, max(y0, 0):min(y0 + kernel[0], h), max(x0, 0):min(x0 + kernel[1], w)]
            mx[:, oy, ox] = win.max(axis=(1, 2))
            mean[:, oy, ox] = win.mean(axis=(1, 2))
            count[oy, ox] = win.shape[1] * win.shape[2]
    return mx, mean, count


@st.composite
def pool_geometry(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k - 1)) for k in kernel)   # ONNX: pad < kernel
    hw = tuple(draw(st.integers(max(1, k - 2 * p), 11)) for k, p in zip(kernel, padding))
    return hw, kernel, stride, padding, draw(st.booleans()), draw(st.integers(0, 2 ** 32 - 1))


def one_node(in_shape, op, attrs):
    g = Graph()
    g.add_input("x", in_shape)
    g.add_node(Node("n", op, ["x"], ["y"], attrs, {}))
    g.outputs = ["y"]
    return g


@SETTINGS
@given(pool_geometry())
def test_pools_match_a_loop_over_clipped_windows(geo):
    hw, kernel, stride, padding, ceil_mode, seed = geo
    x = np.random.default_rng(seed).normal(size=(2,) + hw + (3,)) - 3.0   # negative: pads show
    mx, mean, count = loop_pool(x, kernel, stride, padding, ceil_mode)
    np.testing.assert_array_equal(F.max_pool(x, kernel, stride, padding, ceil_mode), mx)
    np.testing.assert_allclose(F.avg_pool(x, kernel, stride, padding, ceil_mode), mean,
                               rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(F.valid_taps(*hw, kernel, stride, padding, ceil_mode), count)


@SETTINGS
@given(pool_geometry())
def test_float_exec_and_the_training_layers_pool_alike(geo):
    hw, kernel, stride, padding, ceil_mode, seed = geo
    x = np.random.default_rng(seed).normal(size=(2,) + hw + (3,)).astype(np.float32)
    attrs = dict(kernel_shape=kernel, strides=stride, pads=padding, ceil_mode=int(ceil_mode))
    for op, cls in (("maxpool", MaxPool), ("avgpool", AvgPool)):
        ref = float_exec.run(one_node(hw + (3,), op, attrs), x)
        np.testing.assert_array_equal(cls("p", **attrs).forward(x), ref)


def run_ort(node, x, inits):
    nchw = x.transpose(0, 3, 1, 2)
    graph = helper.make_graph(
        [node], "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(nchw.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": nchw})[0].transpose(0, 2, 3, 1)


@st.composite
def conv_geometry(draw):
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, 3)) for _ in kernel)
    hw = tuple(draw(st.integers(max(1, k - 2 * p), 12)) for k, p in zip(kernel, padding))
    return hw, kernel, stride, padding, draw(st.integers(1, 6)), draw(st.integers(0, 2 ** 32 - 1))


@settings(max_examples=40, deadline=None)
@given(conv_geometry(), st.integers(1, 7), st.booleans())
def test_conv_and_depthwise_match_onnxruntime(geo, ch_out, depthwise):
    hw, kernel, stride, padding, ch_in, seed = geo
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3,) + hw + (ch_in,)).astype(np.float32)
    attrs = dict(kernel_shape=list(kernel), strides=list(stride), pads=list(padding) * 2)
    if depthwise:
        w, b = rng.normal(size=kernel + (ch_in,)).astype(np.float32), rng.normal(size=ch_in)
        got = F.depthwise_conv(x, w, b.astype(np.float32), stride, padding)
        onnx_w = w.transpose(2, 0, 1)[:, None]                 # (C, 1, KY, KX)
        attrs["group"] = ch_in
    else:
        w = rng.normal(size=(ch_out,) + kernel + (ch_in,)).astype(np.float32)
        b = rng.normal(size=ch_out)
        got = F.conv(x, w, b.astype(np.float32), stride, padding)
        onnx_w = w.transpose(0, 3, 1, 2)                       # OHWI -> OIHW
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)
    ref = run_ort(node, x, {"w": onnx_w, "b": b})
    assert got.dtype == np.float32 and got.shape == ref.shape
    # float32 sums of up to 150 products of N(0, 1) terms, in different orders
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(pool_geometry())
def test_pools_match_onnxruntime(geo):
    hw, kernel, stride, padding, ceil_mode, seed = geo
    x = np.random.default_rng(seed).normal(size=(2,) + hw + (3,)).astype(np.float32) - 3.0
    attrs = dict(kernel_shape=list(kernel), strides=list(stride), pads=list(padding) * 2,
                 ceil_mode=int(ceil_mode))
    np.testing.assert_array_equal(F.max_pool(x, kernel, stride, padding, ceil_mode),
                                  run_ort(helper.make_node("MaxPool", ["x"], ["y"], **attrs), x, {}))
    ref = run_ort(helper.make_node("AveragePool", ["x"], ["y"], count_include_pad=0, **attrs), x, {})
    np.testing.assert_allclose(F.avg_pool(x, kernel, stride, padding, ceil_mode), ref, rtol=1e-6)


def test_depthwise_layer_is_the_shared_forward(rng):
    x = rng.normal(size=(2, 7, 6, 4))
    w, b = rng.normal(size=(3, 2, 4)), rng.normal(size=4)
    layer = DepthwiseConv("d", strides=(2, 1), pads=(1, 1))
    np.testing.assert_array_equal(layer.forward(x, {"weight": w, "bias": b}),
                                  F.depthwise_conv(x, w, b, (2, 1), (1, 1)))


def test_softmax_axis_is_the_irs_and_sigmoid_keeps_its_tails(rng):
    x = rng.normal(size=(3, 4, 5)) * 40
    for axis in (0, 1, -1):
        e = np.exp(x - x.max(axis + 1 if axis >= 0 else axis, keepdims=True))
        np.testing.assert_allclose(F.softmax(x, axis),
                                   e / e.sum(axis + 1 if axis >= 0 else axis, keepdims=True))
    t = np.array([-80.0, -30.0, 0.0, 30.0], np.float32)   # e^-80: still a normal float32
    np.testing.assert_allclose(F.sigmoid(t), 1 / (1 + np.exp(-t.astype(np.float64))), rtol=1e-6)
    assert F.sigmoid(t).dtype == np.float32


@pytest.mark.parametrize("shape, co, kernel, stride, padding", [
    ((6, 6, 4), 4, (3, 3), (1, 1), (1, 1)), ((40, 7, 28), 30, (10, 4), (2, 1), (0, 0))])
def test_conv_does_not_depend_on_the_batch_slicing(rng, shape, co, kernel, stride, padding):
    # calibration and qsim.report run float_exec in batches and compare with whole-set runs
    x = rng.normal(size=(40,) + shape).astype(np.float32)
    w = rng.normal(size=(co,) + kernel + shape[-1:]).astype(np.float32)
    whole = F.conv(x, w, None, stride, padding)
    for step in (1, 7):
        parts = [F.conv(x[i:i + step], w, None, stride, padding) for i in range(0, 40, step)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_its_gradient_are_numpys_bit_for_bit(dtype):
    """The one-pass numba ReLU forward / backward against np.maximum and np.multiply(g, y > 0),
    with the special values (NaN, signed zeros, infinities) and a non-contiguous input."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((70, 5, 4, 3)).astype(dtype)
    x.ravel()[:6] = [np.nan, -0.0, 0.0, np.inf, -np.inf, -1e-30]
    for xin in (x, x.transpose(0, 2, 1, 3)):
        y = F.relu(xin)
        assert y.dtype == dtype and y.flags.c_contiguous
        assert np.array_equal(y.view(np.uint8), np.maximum(xin, 0).view(np.uint8))
    layer = ReLU()
    y = layer.forward(x)
    g = rng.standard_normal(x.shape).astype(dtype)
    g.ravel()[3:9] = [np.inf, np.nan, -2.0, -np.inf, 5.0, -0.0]
    for gin in (g, g.astype(np.float64)):
        got, _ = layer.backward(gin)
        want = np.multiply(gin, y > 0)
        assert got.dtype == want.dtype and np.array_equal(got.view(np.uint8), want.view(np.uint8))
