"""The float semantics of each graph op, once: one forward function per op on arrays, called by
qsim.float_exec (inference over a Graph, checked against onnxruntime) and by the training layers
(qsim.train.layers, whose backwards sit next to them there), so the two cannot drift apart.

    conv(x, w, b, stride, padding, pads_end)    OHWI weight, zero padding
    depthwise_conv(x, w, b, stride, padding, pads_end)   (KY, KX, C) weight, ch_out == ch_in
    fc(x, w, b)                                 (rows, dim_in) weight over the flattened HWC input
    max_pool(x, kernel, stride, padding, ceil_mode, pads_end)
    avg_pool(x, kernel, stride, padding, ceil_mode, pads_end, count_include_pad)
    relu, sigmoid, tanh, softmax(x, axis), batchnorm(x, scale, bias, mean, var, epsilon)
    clip(x, lo, hi), add(a, b), concat(xs, axis)

``padding`` is (top, left), ``pads_end`` (bottom, right) or None for symmetric padding (the IR's
`pads` / `pads_end`, TF "SAME" pads one more row at the bottom than at the top).

Layouts are the IR's with the batch axis first: activations (N, H, W, C); ``b`` may be None.
Pooling runs over the valid taps of each window only: padding never wins a max and is not
counted in an average (ONNX count_include_pad=0); with count_include_pad the divisor is the
window clipped to the padded image (ONNX's and onnxruntime's rule: the ceil_mode overhang past
the bottom/right padding is not counted). With ``ceil_mode`` the output size is the ceil
rule of qsim.ops.out_dim and the last window is clipped to the image the same way: `pool_pad`
adds the bottom/right rows that window reaches, `valid_taps` counts what is left.
Softmax is the float net's natural-exp one (CMSIS's base-2 softmax is the kernels' business).
The arithmetic runs in the inputs' dtype (float32 to train, float64 in the gradient checks).

The conv is qsim.train.conv2d's (in float32: register tiles reading the windows in place, batch
slices on worker threads; im2col in 1 MB chunks and one BLAS product per chunk in other dtypes):
bench/bench_float_conv.py measured the im2col + BLAS version 1.3-5x faster than float_exec's
former conv (KY row products against a banded weight matrix for narrow images, numpy im2col in
64 MB chunks otherwise) on every KWS, CIFAR-10 and DS-CNN conv shape, so both use it.
"""
import numpy as np
from numba import njit, uint64

from ..ops import out_dim
from .conv2d import conv_forward
from .convtaps import pad_hw, tap_slices
from .workers import over_batch


def asymmetric(padding, pads_end):
    """True if ``pads_end`` is given and differs from ``padding``."""
    return pads_end is not None and tuple(pads_end) != tuple(padding)


def conv(x, w, b, stride, padding, pads_end=None):
    """(N, H, W, C_in) -> (N, Ho, Wo, C_out): 2-D convolution with OHWI weight ``w``."""
    if asymmetric(padding, pads_end):
        x, padding = pad_hw(x, padding, 0, pads_end), (0, 0)
    return conv_forward(x, w, b, tuple(stride), tuple(padding))


def depthwise_conv(x, w, b, stride, padding, pads_end=None):
    """(N, H, W, C) -> (N, Ho, Wo, C): per channel c, a KY x KX conv with w[:, :, c]."""
    xp = pad_hw(x, padding, 0, pads_end)
    taps = tap_slices(xp.shape, w.shape[:2], stride)
    (ky, kx), sl = next(taps)
    y = xp[sl] * w[ky, kx]
    for (ky, kx), sl in taps:
        y += xp[sl] * w[ky, kx]
    if b is not None:
        y += b
    return y


def fc(x, w, b):
    """(N, ...) -> (N, rows): flatten_hwc(x) @ w.T + b; split over the batch when large."""
    x2, wt = x.reshape(len(x), -1), w.T
    y = np.empty((len(x2), w.shape[0]), np.result_type(x2, w))
    over_batch(lambda lo, hi: np.matmul(x2[lo:hi], wt, out=y[lo:hi]), len(x2), size=x2.size)
    if b is not None:
        y += b
    return y


def pool_extent(hw, kernel, stride, padding, ceil_mode, pads_end=None):
    """((top, bottom), (left, right)): the rows and columns pool_pad adds; the bottom/right is
    ``pads_end`` (default ``padding``), more with ``ceil_mode`` where the last window reaches."""
    ends = padding if pads_end is None else pads_end
    return tuple((p, max(e, (out_dim(n, k, s, p, ceil_mode, e) - 1) * s + k - n - p))
                 for n, k, s, p, e in zip(hw, kernel, stride, padding, ends))


def pool_pad(x, kernel, stride, padding, ceil_mode, value=0, pads_end=None):
    """pad_hw by ``padding`` / ``pads_end`` (filled with ``value``), plus with ``ceil_mode`` the
    bottom/right rows and columns the last window of the ceil output rule reaches."""
    ey, ex = pool_extent(x.shape[1:3], kernel, stride, padding, ceil_mode, pads_end)
    if ey == ex == (0, 0):
        return x
    return np.pad(x, ((0, 0), ey, ex, (0, 0)), constant_values=value)


def valid_taps(h, w, kernel, stride, padding, ceil_mode, dtype=np.float64, pads_end=None,
               count_include_pad=False):
    """(Ho, Wo, 1): how many taps of each pooling window fall inside the (h, w) image (with
    ``count_include_pad``: inside the image and its padding, not the ceil_mode overhang)."""
    ones = np.ones((1, h, w, 1), dtype)
    if count_include_pad:       # ones over the padded image, zeros over the ceil_mode overhang
        ends = padding if pads_end is None else pads_end
        (_, ey), (_, ex) = pool_extent((h, w), kernel, stride, padding, ceil_mode, pads_end)
        ones = np.pad(pad_hw(ones, padding, 1, pads_end),
                      ((0, 0), (0, ey - ends[0]), (0, ex - ends[1]), (0, 0)))
    else:
        ones = pool_pad(ones, kernel, stride, padding, ceil_mode, 0, pads_end)
    return _window_sum(ones, kernel, stride)[0]


def _window_sum(xp, kernel, stride):
    taps = tap_slices(xp.shape, kernel, stride)
    y = xp[next(taps)[1]].copy()
    for _, sl in taps:
        y += xp[sl]
    return y


def max_pool(x, kernel, stride, padding, ceil_mode=False, pads_end=None):
    """(N, H, W, C) -> (N, Ho, Wo, C): the max over each window's valid taps."""
    xp = pool_pad(x, kernel, stride, padding, ceil_mode, -np.inf, pads_end)
    taps = tap_slices(xp.shape, kernel, stride)
    y = xp[next(taps)[1]].copy()
    for _, sl in taps:
        np.maximum(y, xp[sl], out=y)
    return y


def avg_pool(x, kernel, stride, padding, ceil_mode=False, pads_end=None, count_include_pad=False):
    """(N, H, W, C) -> (N, Ho, Wo, C): the mean over each window's valid taps (with
    ``count_include_pad``: the window sum over the taps inside the padded image)."""
    total = _window_sum(pool_pad(x, kernel, stride, padding, ceil_mode, 0, pads_end), kernel,
                        stride)
    return total / valid_taps(x.shape[1], x.shape[2], kernel, stride, padding, ceil_mode, x.dtype,
                              pads_end, count_include_pad)


@njit(cache=True, nogil=True)
def _relu(x, y):
    """y = np.maximum(x, 0) elementwise, bit for bit (NaN stays NaN, -0.0 becomes 0.0), in one
    pass without numpy's temporaries (3.5x faster on KWS conv1's output)."""
    xf, yf = x.ravel(), y.ravel()
    for i in range(uint64(xf.shape[0])):
        v = xf[i]
        if v <= 0:
            yf[i] = 0
        else:
            yf[i] = v


@njit(cache=True, nogil=True)
def relu_grad(g, y, out):
    """out = g * (y > 0) elementwise, as np.multiply(g, y > 0) computes it (the ReLU backward)."""
    gf, yf, of = g.ravel(), y.ravel(), out.ravel()
    for i in range(uint64(gf.shape[0])):
        v = gf[i]
        if yf[i] > 0:
            of[i] = v
        else:
            of[i] = v * 0           # 0 with g's sign, NaN for an infinite or NaN g


def relu(x):
    y = np.empty(x.shape, x.dtype)
    xc = np.ascontiguousarray(x)
    over_batch(lambda lo, hi: _relu(xc[lo:hi], y[lo:hi]), len(x), size=x.size)
    return y


def sigmoid(x):
    """1 / (1 + exp(-x)) as where(x >= 0, 1, e) / (1 + e) with e = exp(-|x|): no overflow, and
    accurate in both tails (0.5 * (1 + tanh(x / 2)) is faster but loses the negative tail)."""
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)
    y = np.maximum(e, x >= 0, dtype=e.dtype)     # the where() without a branch: ~4x faster
    e += 1
    y /= e
    return y


def tanh(x):
    return np.tanh(x)


def softmax(x, axis=-1):
    """Softmax over ``axis``, the IR's axis: it does not count the batch axis."""
    axis = axis + 1 if axis >= 0 else axis
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def clip(x, lo, hi):
    """min(max(x, lo), hi) elementwise (ReLU6 = clip(x, 0, 6))."""
    return np.clip(x, x.dtype.type(lo), x.dtype.type(hi))


def add(a, b):
    """Elementwise a + b of two arrays of one shape (residual blocks)."""
    return a + b


def concat(xs, axis=-1):
    """Join arrays along ``axis``, the IR's axis: it does not count the batch axis."""
    return np.concatenate(xs, axis + 1 if axis >= 0 else axis)


def batchnorm(x, scale, bias, mean, var, epsilon):
    """Inference batch normalization over the channel (last) axis."""
    s = scale / np.sqrt(var + x.dtype.type(epsilon))
    return (x - mean) * s + bias
