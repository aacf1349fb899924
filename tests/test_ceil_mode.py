"""Pooling with the ceil output rule (qsim.ops ceil_mode), as CMSIS-NN's CIFAR-10 example pools
32 -> 16 -> 8 -> 4 with kernel 3, stride 2, pad 0: shape rule, float forward (against a plain
loop), training gradients, ONNX import, and the quantized run (simulator == stand-in C).
"""
import warnings

import numpy as np
import pytest

from harness.parity import random_inputs, run_network_parity
from qsim import float_exec
from qsim.calibrate import calibrate
from qsim.importers.spec import Sequential
from qsim.ops import out_dim
from qsim.quantize import quantize
from qsim.simulate import simulate
from qsim.train.layers import AvgPool, MaxPool
from tests.train.test_grad import check_layer


@pytest.mark.parametrize("n,k,s,p,floor,ceil", [
    (32, 3, 2, 0, 15, 16), (16, 3, 2, 0, 7, 8), (8, 3, 2, 0, 3, 4), (7, 2, 2, 0, 3, 4),
    (6, 2, 2, 0, 3, 3), (5, 3, 2, 1, 3, 3), (6, 3, 2, 1, 3, 4), (5, 2, 3, 1, 2, 2)])
def test_out_dim(n, k, s, p, floor, ceil):
    assert out_dim(n, k, s, p) == floor and out_dim(n, k, s, p, True) == ceil
    assert (ceil - 1) * s - p < n          # the last window starts inside the image


def _loop_pool(x, k, s, p, ho, op):
    n, h, w, c = x.shape
    out = np.empty((n, ho, ho, c), x.dtype)
    for oy in range(ho):
        for ox in range(ho):
            rows = slice(max(oy * s - p, 0), min(oy * s - p + k, h))
            cols = slice(max(ox * s - p, 0), min(ox * s - p + k, w))
            win = x[:, rows, cols]
            out[:, oy, ox] = win.max(axis=(1, 2)) if op == "max" else win.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("hw,k,s,p", [(9, 3, 2, 0), (8, 3, 2, 1), (7, 2, 2, 0), (10, 4, 3, 1)])
def test_float_pool_matches_loop(rng, op, hw, k, s, p):
    seq = Sequential((hw, hw, 3))
    g = (seq.maxpool if op == "max" else seq.avgpool)(k, s, pad=p, ceil_mode=True).build(seed=0)
    x = rng.standard_normal((2, hw, hw, 3)).astype(np.float32)
    ho = out_dim(hw, k, s, p, True)
    got = float_exec.run(g, x)
    assert got.shape == (2, ho, ho, 3)
    np.testing.assert_allclose(got, _loop_pool(x, k, s, p, ho, op), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls", [MaxPool, AvgPool])
def test_pool_gradients_ceil_mode(rng, cls):
    layer = cls("p", kernel_shape=(3, 3), strides=(2, 2), pads=(0, 0), ceil_mode=1)
    x = rng.standard_normal((2, 8, 8, 2))
    assert layer.forward(x).shape == (2, 4, 4, 2)
    check_layer(layer, x, {}, rng)


def test_onnx_ceil_mode_import(tmp_path):
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from qsim.importers.onnx_import import load_onnx
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                            ceil_mode=1)
    graph = helper.make_graph([node], "t", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 4, 32, 32])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["N", 4, 16, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    g = load_onnx(model)
    assert g.nodes[0].attrs["ceil_mode"] == 1 and g.tensors[g.outputs[0]].shape == (16, 16, 4)
    node = model.graph.node[0]        # ceil_mode absent: the floor rule
    node.ClearField("attribute")
    node.attribute.extend([helper.make_attribute("kernel_shape", [3, 3]),
                           helper.make_attribute("strides", [2, 2])])
    for axis in (2, 3):
        model.graph.output[0].type.tensor_type.shape.dim[axis].dim_value = 15
    g = load_onnx(model)
    assert "ceil_mode" not in g.nodes[0].attrs and g.tensors[g.outputs[0]].shape == (15, 15, 4)


def _ceil_net():
    return (Sequential((10, 10, 4), "ceil").conv(4, 3, pad=1).relu()
            .maxpool(3, 2, ceil_mode=True).avgpool(2, 2, ceil_mode=True).fc(3).build(seed=0))


@pytest.mark.parametrize("version", ["5.7.0", "5.9.0"])
def test_quantized_ceil_pools_match_standin(version):
    g = _ceil_net()
    x = np.random.default_rng(0).normal(0, 1, (32, 10, 10, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, calibrate(g, x), version=version)
    assert q.tensors["maxpool1"].shape == (5, 5, 4) and q.tensors["avgpool1"].shape == (3, 3, 4)
    report = run_network_parity(q, random_inputs(q, 6, seed=2), cmsis=None)
    assert report.mismatches == 0, "\n".join(report.lines())


def test_dsp_maxpool_equals_ref_with_ceil_windows():
    """Doc §3.1: the DSP max pool equals REF when padding < stride, clipped last window too."""
    g = Sequential((10, 10, 4)).maxpool(3, 2, ceil_mode=True).build(seed=0)
    x = np.random.default_rng(1).normal(0, 1, (16, 10, 10, 4)).astype(np.float32)
    cal = calibrate(g, x)
    ref = simulate(quantize(g, cal, path="ref"), x)
    np.testing.assert_array_equal(simulate(quantize(g, cal, path="dsp"), x), ref)
