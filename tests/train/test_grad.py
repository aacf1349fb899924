"""Finite-difference gradient checks (float64) and naive-loop forward checks of every layer."""
import numpy as np
import pytest

from qsim.train.layers import (AvgPool, Conv, DepthwiseConv, FC, Flatten, MaxPool, ReLU, Reshape,
                               Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh,
                               Transpose)

EPS = 1e-6
# Central differences in float64: truncation ~EPS**2, round-off ~1e-16 * |loss| / EPS ~ 1e-8 for the
# O(100) sums here; ATOL 1e-6 covers that, and a wrong gradient is off by O(0.1) or more.
RTOL, ATOL = 1e-5, 1e-6


def numeric_grad(f, a, n_probe=60, rng=None):
    """Central-difference d f / d a at up to n_probe entries of a (a is perturbed in place)."""
    flat = a.reshape(-1)
    idx = (np.arange(flat.size) if flat.size <= n_probe
           else rng.choice(flat.size, n_probe, replace=False))
    g = np.zeros(flat.size)
    for i in idx:
        old = flat[i]
        flat[i] = old + EPS
        up = f()
        flat[i] = old - EPS
        down = f()
        flat[i] = old
        g[i] = (up - down) / (2 * EPS)
    return idx, g


def check_layer(layer, x, params, rng):
    y = layer.forward(x, params)
    g_out = rng.standard_normal(y.shape)
    grad_in, grads = layer.backward(g_out)
    loss = lambda: float((layer.forward(x, params) * g_out).sum())
    idx, num = numeric_grad(loss, x, rng=rng)
    np.testing.assert_allclose(grad_in.reshape(-1)[idx], num[idx], rtol=RTOL, atol=ATOL,
                               err_msg=f"{layer}: grad_in")
    assert set(grads) == set(params)
    for name, p in params.items():
        idx, num = numeric_grad(loss, p, rng=rng)
        np.testing.assert_allclose(grads[name].reshape(-1)[idx], num[idx], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{layer}: grad {name}")
    return y


def naive_conv(x, w, b, stride, padding):
    """OHWI convolution with plain loops, the independent forward reference."""
    n, h, wd, ci = x.shape
    co, kh, kw, _ = w.shape
    (sy, sx), (py, px) = stride, padding
    ho, wo = (h + 2 * py - kh) // sy + 1, (wd + 2 * px - kw) // sx + 1
    y = np.zeros((n, ho, wo, co))
    for i in range(ho):
        for j in range(wo):
            for ky in range(kh):
                for kx in range(kw):
                    r, c = i * sy - py + ky, j * sx - px + kx
                    if 0 <= r < h and 0 <= c < wd:
                        y[:, i, j] += x[:, r, c] @ w[:, ky, kx].T
    return y + b


def naive_pool(x, kernel, stride, padding, reduce):
    n, h, wd, c = x.shape
    (kh, kw), (sy, sx), (py, px) = kernel, stride, padding
    ho, wo = (h + 2 * py - kh) // sy + 1, (wd + 2 * px - kw) // sx + 1
    y = np.zeros((n, ho, wo, c))
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * sy - py, j * sx - px
            win = x[:, max(r0, 0):r0 + kh, max(c0, 0):c0 + kw]
            y[:, i, j] = reduce(win, axis=(1, 2))
    return y


CONV_CASES = [  # (H, W, Ci, Co, KY, KX, stride, padding)
    (5, 5, 1, 2, 3, 3, (1, 1), (0, 0)),
    (7, 6, 3, 4, 3, 2, (2, 1), (1, 0)),
    (9, 5, 2, 3, 4, 3, (2, 2), (2, 1)),
    (6, 4, 4, 2, 1, 1, (1, 2), (0, 1)),
]


@pytest.mark.parametrize("h,w,ci,co,kh,kw,stride,padding", CONV_CASES)
def test_conv(h, w, ci, co, kh, kw, stride, padding, rng):
    x = rng.standard_normal((2, h, w, ci))
    params = {"weight": rng.standard_normal((co, kh, kw, ci)), "bias": rng.standard_normal(co)}
    y = check_layer(Conv(strides=stride, pads=padding), x, params, rng)
    np.testing.assert_allclose(y, naive_conv(x, params["weight"], params["bias"], stride, padding),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("h,w,ci,co,kh,kw,stride,padding", CONV_CASES)
def test_depthwise(h, w, ci, co, kh, kw, stride, padding, rng):
    x = rng.standard_normal((2, h, w, ci))
    params = {"weight": rng.standard_normal((kh, kw, ci)), "bias": rng.standard_normal(ci)}
    y = check_layer(DepthwiseConv(strides=stride, pads=padding), x, params, rng)
    # A depthwise conv is a full conv whose weight is diagonal in (ch_out, ch_in).
    full = np.einsum("yxc,oc->oyxc", params["weight"], np.eye(ci))
    np.testing.assert_allclose(y, naive_conv(x, full, params["bias"], stride, padding),
                               rtol=1e-12, atol=1e-12)


def test_conv_skips_input_grad(rng):
    layer = Conv(strides=(2, 1), pads=(1, 1))
    layer.need_input_grad = False
    layer.forward(rng.standard_normal((2, 6, 5, 3)), {"weight": rng.standard_normal((4, 3, 3, 3)),
                                                       "bias": np.zeros(4)})
    grad_in, grads = layer.backward(rng.standard_normal((2, 3, 5, 4)))
    assert grad_in is None and grads["weight"].shape == (4, 3, 3, 3)


@pytest.mark.parametrize("in_shape", [(7,), (3, 2, 4)])
def test_fc(in_shape, rng):
    x = rng.standard_normal((3,) + in_shape)
    dim = int(np.prod(in_shape))
    params = {"weight": rng.standard_normal((5, dim)), "bias": rng.standard_normal(5)}
    y = check_layer(FC(), x, params, rng)
    want = x.reshape(3, -1) @ params["weight"].T + params["bias"]
    np.testing.assert_allclose(y, want, rtol=1e-12)


def away_from_zero(rng, shape, gap=1e-3):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < gap, gap * 2, x)


@pytest.mark.parametrize("cls,kw", [(ReLU, {}), (Sigmoid, {}), (Tanh, {}), (Softmax, {}),
                                    (Softmax, {"axis": 0}), (Transpose, {"perm": (2, 0, 1)})])
def test_pointwise(cls, kw, rng):
    x = away_from_zero(rng, (3, 4, 2, 5)) * 3
    check_layer(cls(**kw), x, {}, rng)


def test_sigmoid_extremes():
    y = Sigmoid().forward(np.array([-1000.0, 0.0, 1000.0]), {})
    np.testing.assert_array_equal(y, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("kernel,stride,padding", [((2, 2), (2, 2), (0, 0)),
                                                   ((3, 2), (2, 1), (1, 1)),
                                                   ((3, 3), (1, 1), (1, 0))])
@pytest.mark.parametrize("cls,reduce", [(MaxPool, np.max), (AvgPool, np.mean)])
def test_pool(cls, reduce, kernel, stride, padding, rng):
    # A permutation keeps values distinct, so max has no ties and finite differences are clean.
    x = rng.permutation(2 * 7 * 6 * 3).reshape(2, 7, 6, 3) / 10.0
    y = check_layer(cls(kernel_shape=kernel, strides=stride, pads=padding), x, {}, rng)
    np.testing.assert_allclose(y, naive_pool(x, kernel, stride, padding, reduce), rtol=1e-12)


def test_maxpool_tie_goes_to_first_tap():
    layer = MaxPool(kernel_shape=(2, 2))
    layer.forward(np.ones((1, 2, 2, 1)), {})
    grad_in, _ = layer.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(grad_in[0, :, :, 0], [[1, 0], [0, 0]])


@pytest.mark.parametrize("cls,kw", [(Flatten, {}), (Reshape, {"shape": (6, 4)})])
def test_reshape(cls, kw, rng):
    x = rng.standard_normal((2, 3, 2, 4))
    y = check_layer(cls(**kw), x, {}, rng)
    np.testing.assert_array_equal(y.reshape(-1), x.reshape(-1))  # HWC order kept


def test_softmax_cross_entropy(rng):
    logits = rng.standard_normal((6, 4)) * 3
    labels = rng.integers(0, 4, 6)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(value, -np.log(p[np.arange(6), labels]).mean(), rtol=1e-12)
    grad = loss.backward()
    idx, num = numeric_grad(lambda: SoftmaxCrossEntropy().forward(logits, labels), logits, rng=rng)
    np.testing.assert_allclose(grad.reshape(-1)[idx], num[idx], rtol=RTOL, atol=ATOL)


def test_softmax_cross_entropy_is_stable():
    loss = SoftmaxCrossEntropy()
    value = loss.forward(np.array([[1000.0, -1000.0, 0.0]]), np.array([1]))
    assert np.isfinite(value) and value == pytest.approx(2000.0)
    assert np.all(np.isfinite(loss.backward()))
