"""The float conv's products, batch-parallel and in cache-sized chunks (qsim.train.workers).

    y = conv_forward(x, w, b, stride, padding)
    grad_w, grad_b, grad_x = conv_grads(x, w, grad_y, stride, padding, need_input_grad, mask=None)

Each worker takes a slice of the batch and walks it in chunks whose im2col windows fit in about
CHUNK_BYTES (L2-sized); per chunk: im2col, then one BLAS product per direction, then col2im. The
windows are built again in the backward instead of being kept from the forward: rebuilding a
cached chunk costs less than streaming a whole-batch buffer (KWS conv2: 73 MB at batch 256)
through memory twice. The weight and bias gradients are summed over the workers' partial sums.
Layouts: x (N, H, W, C), w OHWI, grad_y (N, Ho, Wo, C_out); the arithmetic is in x's dtype.
"""
import numpy as np

from ..ops import out_dim
from .convtaps import col2im, im2col
from .workers import over_batch, scratch

CHUNK_BYTES = 1 << 20


def _chunk_windows(x, lo, hi, kernel, stride, padding, rows, k):
    """Yield (s, e, windows (e - s, Ho, Wo, k)) over x[lo:hi] in chunks of about CHUNK_BYTES, each
    built in this thread's scratch buffer (valid until the next chunk); rows = Ho * Wo."""
    step = max(1, CHUNK_BYTES // max(1, rows * k * x.itemsize))
    for s in range(lo, hi, step):
        e = min(hi, s + step)
        yield s, e, im2col(x[s:e], kernel, stride, padding, scratch("cols", (e - s) * rows * k,
                                                                     x.dtype))


def conv_forward(x, w, b, stride, padding):
    """(N, H, W, C_in) -> (N, Ho, Wo, C_out): sum over windows of x times w, plus b (or None)."""
    co, kernel = w.shape[0], w.shape[1:3]
    n, k = len(x), int(np.prod(w.shape[1:]))
    ho, wo = (out_dim(*a) for a in zip(x.shape[1:3], kernel, stride, padding))
    wt = np.ascontiguousarray(w.reshape(co, k).T)   # C order: BLAS then sums each output alike
                                                    # whatever the chunk size (not so for a .T view)
    y = np.empty((n, ho, wo, co), np.result_type(x, w))

    def part(lo, hi):
        for s, e, cols in _chunk_windows(x, lo, hi, kernel, stride, padding, ho * wo, k):
            np.matmul(cols.reshape(-1, k), wt, out=y[s:e].reshape(-1, co))

    over_batch(part, n)
    if b is not None:
        y += b
    return y


def conv_grads(x, w, grad_y, stride, padding, need_input_grad=True, mask=None):
    """(grad_w OHWI, grad_b (C_out,), grad_x (N, H, W, C_in) or None) of conv_forward at (x, w).

    ``mask`` (bool, grad_y's shape): multiply grad_y by it first (the QAT saturation STE).
    """
    co, kernel = w.shape[0], w.shape[1:3]
    n, k = len(x), int(np.prod(w.shape[1:]))
    ho, wo = grad_y.shape[1:3]
    wm = w.reshape(co, k)
    dt = np.result_type(x, w)         # grad_y is cast to it (the loss may hand down float64)
    grad_x = np.empty(x.shape, dt) if need_input_grad else None

    def part(lo, hi):
        gw = np.zeros((co, k), dt)
        gb = np.zeros(co, dt)
        tmp = np.empty((co, k), dt)
        for s, e, cols in _chunk_windows(x, lo, hi, kernel, stride, padding, ho * wo, k):
            g = (grad_y[s:e].astype(dt, copy=False) if mask is None
                 else np.multiply(grad_y[s:e], mask[s:e], dtype=dt))
            g = g.reshape(-1, co)
            c2 = cols.reshape(len(g), k)
            gw += np.matmul(g.T, c2, out=tmp)
            gb += np.ones(len(g), dt) @ g      # a BLAS sum: ~5x faster than g.sum(0) here
            if grad_x is not None:
                # the windows are used up: their buffer takes the window gradients
                dcols = np.matmul(g, wm, out=c2) if c2.dtype == dt else g @ wm
                col2im(dcols.reshape(cols.shape), x[s:e].shape, kernel, stride, padding,
                       out=grad_x[s:e])
        return gw, gb

    parts = over_batch(part, n)
    grad_w = sum(p[0] for p in parts).reshape(w.shape)
    grad_b = sum(p[1] for p in parts)
    return grad_w, grad_b, grad_x
