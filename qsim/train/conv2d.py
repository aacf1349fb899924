"""The float conv's products, batch-parallel and in cache-sized chunks (qsim.train.workers).

    y = conv_forward(x, w, b, stride, padding)
    grad_w, grad_b, grad_x = conv_grads(x, w, grad_y, stride, padding, need_input_grad, mask=None)

Each worker takes a slice of the batch and walks it in chunks whose im2col windows fit in about
CHUNK_BYTES (L2-sized); per chunk: im2col, then the products, then col2im. The windows are built
again in the backward instead of being kept from the forward: rebuilding a cached chunk costs
less than streaming a whole-batch buffer (KWS conv2: 73 MB at batch 256) through memory twice.
The weight and bias gradients are summed over the workers' partial sums.
Layouts: x (N, H, W, C), w OHWI, grad_y (N, Ho, Wo, C_out); the arithmetic is in x's dtype.

float32 (training) runs the products as qsim.train._ftile's register tiles: the forward on the
windows in place (no im2col) with the bias in its epilogue, the backward on the chunk's windows
after one pass that applies the saturation mask, sums the bias gradient and lays the output
gradient out for the tiles: OpenBLAS packs the wide operand of
these thin products first and reached 48-62 GFLOP/s on a core for the KWS conv2 forward and
weight gradient, the tile 93-104. The forward sums each output in tap order with fused
multiply-adds, so an item's output does not depend on the batch slicing. Other dtypes (float64 in
the gradient checks) run one BLAS product per chunk and direction.
"""
import numpy as np
from numba import njit, uint64

from ..ops import out_dim
from ._ftile import LANES, ROWS, ftile, ftile_rows
from .convtaps import col2im, im2col, pad_hw
from .workers import over_batch, scratch

CHUNK_BYTES = 1 << 20


def _chunk_windows(x, lo, hi, kernel, stride, padding, rows, k):
    """Yield (s, e, windows (e - s, Ho, Wo, k)) over x[lo:hi] in chunks of about CHUNK_BYTES, each
    built in this thread's scratch buffer (valid until the next chunk), and that flat buffer (the
    windows at its start); rows = Ho * Wo. It has ROWS windows and ROWS values of slack past the
    windows: a tile reads whole tiles."""
    step = max(1, CHUNK_BYTES // max(1, rows * k * x.itemsize))
    for s in range(lo, hi, step):
        e = min(hi, s + step)
        buf = scratch("cols", (e - s) * rows * k + ROWS * (k + 1), x.dtype)
        yield s, e, im2col(x[s:e], kernel, stride, padding, buf), buf


def _tiled(x, w):
    return x.dtype == np.float32 and w.dtype == np.float32


def pack_columns(w2):
    """(C_out, K) -> (groups, K, LANES) float32: group g holds output channels g*LANES.. as
    columns, zero past C_out (the tiles' forward operand)."""
    co, k = w2.shape
    groups = -(-co // LANES)
    wp = np.zeros((groups * LANES, k), np.float32)
    wp[:co] = w2
    return np.ascontiguousarray(wp.reshape(groups, LANES, k).transpose(0, 2, 1))


@njit(cache=True, nogil=True)
def _forward_windows(xp, ch, sy, sx, ky_n, run, wpack, bias, out):
    """out[n, i, j, o] = sum over the window at (i*sy, j*sx) of the padded xp (N, Hp, Wp*ch) times
    w[o] (tap order ky, kx, c) + bias[o] (bias may be empty): the tiles read the windows in place,
    ROWS output pixels at a time, one row of KX*ch taps per kernel row."""
    n, hp, rowlen = xp.shape
    ho, wo, co = out.shape[1], out.shape[2], out.shape[3]
    total = n * ho * wo
    out2 = out.reshape(total, co)
    xf = xp.ravel()
    wf = wpack.ravel()
    groups = wpack.shape[0]
    k = ky_n * run
    nb = bias.shape[0]
    offs = np.empty(ROWS, np.int64)
    acc = np.empty(ROWS * LANES, np.float32)
    for p0 in range(0, total, ROWS):
        m = min(ROWS, total - p0)
        for i in range(ROWS):
            q, j = divmod(p0 + min(i, m - 1), wo)       # a short tile repeats its last window
            b_, r = divmod(q, ho)
            offs[i] = (b_ * hp + r * sy) * rowlen + j * sx * ch
        for g in range(groups):
            ftile_rows(xf, offs, rowlen, wf, g * k * LANES, run * LANES, ky_n, run, acc, 0, LANES,
                       0)
            o0 = g * LANES
            nj = uint64(min(LANES, co - o0))
            for i in range(m):
                dst = out2[p0 + i, o0:]
                src = acc[i * LANES:]
                if nb:
                    bb = bias[o0:]
                    for j in range(nj):
                        dst[j] = src[j] + bb[j]
                else:
                    for j in range(nj):
                        dst[j] = src[j]


@njit(cache=True, nogil=True)
def _grad_layout(g, mask, gp, gb):
    """gp[p, :co] = g[p] (times mask[p] if mask is not empty), zeros in the other lanes and rows;
    gb[o] += sum_p of it (float64)."""
    rows, co = g.shape
    cp = gp.shape[1]
    use_mask = mask.shape[0] > 0
    for p in range(rows):
        src = g[p]
        dst = gp[p]
        for o in range(co):
            v = src[o] * mask[p, o] if use_mask else src[o]
            dst[o] = v
            gb[o] += v
        for o in range(co, cp):
            dst[o] = 0
    for p in range(rows, gp.shape[0]):
        for o in range(cp):
            gp[p, o] = 0


@njit(cache=True, nogil=True)
def _grad_tiles(cols, rows, k, gp, gwt, wk, dx_cols):
    """gwt[t, o] += sum_p cols[p*k + t] * gp[p, o]; then, if dx_cols: cols[p*k + t] =
    sum_o gp[p, o] * wk[o, t] (the window gradients, over the windows, which are used up)."""
    cp = gp.shape[1]
    gf = gp.ravel()
    wf = wk.ravel()
    kp = wk.shape[1]
    co = wk.shape[0]
    gwf = gwt.ravel()
    for g in range(cp // LANES):
        for t0 in range(0, k, ROWS):
            ftile(cols, t0, 1, k, gf, g * LANES, cp, rows, gwf, t0 * cp + g * LANES, cp, 1)
    if not dx_cols:
        return
    acc = np.empty(ROWS * LANES, np.float32)
    for p0 in range(0, rows, ROWS):
        m = min(ROWS, rows - p0)
        for t0 in range(0, k, LANES):
            if m == ROWS and t0 + LANES <= k:
                ftile(gf, p0 * cp, cp, 1, wf, t0, kp, co, cols, p0 * k + t0, k, 0)
            else:
                ftile(gf, p0 * cp, cp, 1, wf, t0, kp, co, acc, 0, LANES, 0)
                nj = uint64(min(LANES, k - t0))
                for i in range(m):
                    dst = cols[(p0 + i) * k + t0:]
                    src = acc[i * LANES:]
                    for j in range(nj):
                        dst[j] = src[j]


def conv_forward(x, w, b, stride, padding):
    """(N, H, W, C_in) -> (N, Ho, Wo, C_out): sum over windows of x times w, plus b (or None)."""
    co, kernel = w.shape[0], w.shape[1:3]
    n, k = len(x), int(np.prod(w.shape[1:]))
    ho, wo = (out_dim(*a) for a in zip(x.shape[1:3], kernel, stride, padding))
    y = np.empty((n, ho, wo, co), np.result_type(x, w))
    if _tiled(x, w):
        wpack = pack_columns(w.reshape(co, k))
        bias = np.zeros(0, np.float32) if b is None else np.ascontiguousarray(b, np.float32)
        xp = np.ascontiguousarray(pad_hw(x, padding))
        xp = xp.reshape(xp.shape[:2] + (-1,))
        ch = x.shape[3]
        over_batch(lambda lo, hi: _forward_windows(xp[lo:hi], ch, stride[0], stride[1], kernel[0],
                                                   kernel[1] * ch, wpack, bias, y[lo:hi]), n)
        return y
    wt = np.ascontiguousarray(w.reshape(co, k).T)   # C order: BLAS then sums each output alike
                                                    # whatever the chunk size (not so for a .T view)

    def part(lo, hi):
        for s, e, cols, _ in _chunk_windows(x, lo, hi, kernel, stride, padding, ho * wo, k):
            np.matmul(cols.reshape(-1, k), wt, out=y[s:e].reshape(-1, co))

    over_batch(part, n)
    if b is not None:
        y += b
    return y


def conv_grads(x, w, grad_y, stride, padding, need_input_grad=True, mask=None):
    """(grad_w OHWI, grad_b (C_out,), grad_x (N, H, W, C_in) or None) of conv_forward at (x, w).

    ``mask`` (bool, grad_y's shape): multiply grad_y by it first (the QAT saturation STE).
    """
    if _tiled(x, w):
        return _tiled_grads(x, w, grad_y, stride, padding, need_input_grad, mask)
    co, kernel = w.shape[0], w.shape[1:3]
    n, k = len(x), int(np.prod(w.shape[1:]))
    wm = w.reshape(co, k)
    dt = np.result_type(x, w)         # grad_y is cast to it (the loss may hand down float64)
    grad_x = np.empty(x.shape, dt) if need_input_grad else None

    def part(lo, hi):
        gw = np.zeros((co, k), dt)
        gb = np.zeros(co, dt)
        tmp = np.empty((co, k), dt)
        rows = grad_y.shape[1] * grad_y.shape[2]
        for s, e, cols, _ in _chunk_windows(x, lo, hi, kernel, stride, padding, rows, k):
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


def _tiled_grads(x, w, grad_y, stride, padding, need_input_grad, mask):
    """conv_grads in float32 on the tiles: per chunk, the output gradient (masked) laid out in
    LANES-wide rows with the bias gradient summed on the way, the weight gradient's tiles
    (transposed: taps x channels), then the window gradients over the windows and col2im."""
    co, kernel = w.shape[0], w.shape[1:3]
    n, k = len(x), int(np.prod(w.shape[1:]))
    ho, wo = grad_y.shape[1:3]
    cp = -(-co // LANES) * LANES
    kr = -(-k // ROWS) * ROWS
    wk = np.zeros((co, -(-k // LANES) * LANES), np.float32)
    wk[:, :k] = w.reshape(co, k)
    grad_x = np.empty(x.shape, np.float32) if need_input_grad else None
    no_mask = np.zeros((0, co), np.bool_)

    def part(lo, hi):
        gwt = np.zeros((kr, cp), np.float32)
        gb = np.zeros(co, np.float64)
        for s, e, cols, buf in _chunk_windows(x, lo, hi, kernel, stride, padding, ho * wo, k):
            rows = (e - s) * ho * wo
            gp = scratch("grad_rows", -(-rows // ROWS) * ROWS * cp, np.float32).reshape(-1, cp)
            _grad_layout(grad_y[s:e].reshape(rows, co),
                         no_mask if mask is None else mask[s:e].reshape(rows, co), gp, gb)
            _grad_tiles(buf, rows, k, gp, gwt, wk, grad_x is not None)
            if grad_x is not None:
                col2im(cols, x[s:e].shape, kernel, stride, padding, out=grad_x[s:e])
        return gwt, gb

    parts = over_batch(part, n)
    gwt = parts[0][0]
    for p in parts[1:]:
        gwt += p[0]
    grad_w = np.ascontiguousarray(gwt[:k, :co].T).reshape(w.shape)
    grad_b = sum(p[1] for p in parts).astype(np.float32)
    return grad_w, grad_b, grad_x
