"""float_exec against naive loop implementations of the ops' definitions (float64, tol 1e-10:
only summation order differs)."""
import numpy as np
import pytest

from qsim import float_exec
from qsim.errors import ShapeError
from qsim.graph import Graph, Node


def _out(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def naive_conv(x, w, b, s, p, depthwise=False):
    n, h, wd, c = x.shape
    ky, kx = (w.shape[0], w.shape[1]) if depthwise else w.shape[1:3]
    ho, wo = _out(h, ky, s[0], p[0]), _out(wd, kx, s[1], p[1])
    co = c if depthwise else w.shape[0]
    out = np.zeros((n, ho, wo, co))
    for oy in range(ho):
        for ox in range(wo):
            for i in range(ky):
                for j in range(kx):
                    r, q = oy * s[0] - p[0] + i, ox * s[1] - p[1] + j
                    if 0 <= r < h and 0 <= q < wd:
                        if depthwise:
                            out[:, oy, ox] += x[:, r, q] * w[i, j]
                        else:
                            out[:, oy, ox] += x[:, r, q] @ w[:, i, j].T
    return out + b


def naive_pool(x, k, s, p, kind):
    n, h, wd, c = x.shape
    ho, wo = _out(h, k[0], s[0], p[0]), _out(wd, k[1], s[1], p[1])
    out = np.zeros((n, ho, wo, c))
    for oy in range(ho):
        for ox in range(wo):
            taps = [x[:, r, q] for r in range(oy * s[0] - p[0], oy * s[0] - p[0] + k[0])
                    for q in range(ox * s[1] - p[1], ox * s[1] - p[1] + k[1])
                    if 0 <= r < h and 0 <= q < wd]     # valid taps only
            out[:, oy, ox] = np.max(taps, 0) if kind == "max" else np.mean(taps, 0)
    return out


def one_node(in_shape, op, attrs=None, params=None):
    g = Graph()
    g.add_input("x", in_shape)
    g.add_node(Node("n", op, ["x"], ["y"], attrs or {}, params or {}))
    g.outputs = ["y"]
    return g


GEOMS = [((3, 3), (1, 1), (1, 1)), ((10, 4), (2, 1), (0, 0)), ((2, 5), (3, 2), (1, 2)),
         ((1, 1), (1, 1), (0, 0)), ((4, 3), (2, 3), (3, 2))]


@pytest.mark.parametrize("k, s, p", GEOMS)
def test_conv_matches_naive(rng, k, s, p):
    x = rng.normal(size=(3, 12, 9, 5))
    w, b = rng.normal(size=(7, *k, 5)), rng.normal(size=7)
    g = one_node((12, 9, 5), "conv", {"kernel_shape": k, "strides": s, "pads": p},
                 {"weight": w, "bias": b})
    np.testing.assert_allclose(float_exec.run(g, x, dtype=np.float64),
                               naive_conv(x, w, b, s, p), atol=1e-10)


@pytest.mark.parametrize("k, s, p", GEOMS)
def test_depthwise_matches_naive(rng, k, s, p):
    x = rng.normal(size=(3, 12, 9, 6))
    w, b = rng.normal(size=(*k, 6)), rng.normal(size=6)
    g = one_node((12, 9, 6), "depthwise_conv", {"kernel_shape": k, "strides": s, "pads": p},
                 {"weight": w, "bias": b})
    np.testing.assert_allclose(float_exec.run(g, x, dtype=np.float64),
                               naive_conv(x, w, b, s, p, depthwise=True), atol=1e-10)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k, s, p", [((3, 3), (2, 2), (1, 1)), ((2, 2), (2, 2), (0, 0)),
                                     ((3, 2), (1, 2), (2, 1))])
def test_pools_use_valid_taps_only(rng, kind, k, s, p):
    x = rng.normal(size=(2, 7, 8, 3)) - 5.0     # all negative: zero padding would show up
    g = one_node((7, 8, 3), kind + "pool", {"kernel_shape": k, "strides": s, "pads": p})
    np.testing.assert_allclose(float_exec.run(g, x, dtype=np.float64),
                               naive_pool(x, k, s, p, kind), atol=1e-12)


def test_elementwise_softmax_fc_and_trace(rng):
    x = rng.normal(size=(5, 2, 3, 4)) * 30
    g = one_node((2, 3, 4), "sigmoid")
    np.testing.assert_allclose(float_exec.run(g, x, dtype=np.float64), 1 / (1 + np.exp(-x)),
                               rtol=1e-12)
    g = one_node((2, 3, 4), "softmax")
    y = float_exec.run(g, x, dtype=np.float64)
    np.testing.assert_allclose(y.sum(-1), 1.0)
    np.testing.assert_allclose(y, np.exp(x) / np.exp(x).sum(-1, keepdims=True), rtol=1e-10)
    w, b = rng.normal(size=(6, 24)), rng.normal(size=6)
    g = one_node((2, 3, 4), "fc", params={"weight": w, "bias": b})
    g.add_node(Node("r", "relu", ["y"], ["z"]))
    g.outputs = ["z"]
    env = float_exec.run(g, x, dtype=np.float64, trace=True)
    assert set(env) == {"x", "y", "z"}
    np.testing.assert_allclose(env["y"], x.reshape(5, -1) @ w.T + b, atol=1e-10)  # HWC flatten
    np.testing.assert_array_equal(env["z"], np.maximum(env["y"], 0))
    assert float_exec.run(g, x).dtype == np.float32


def test_wrong_input_shape_names_expected():
    g = one_node((2, 3, 4), "relu")
    with pytest.raises(ShapeError, match=r"\(N,\) \+ \(2, 3, 4\)"):
        float_exec.run(g, np.zeros((2, 3, 4)))
