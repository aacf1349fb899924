"""Window helpers of the float conv and pooling layers: padding, tap slices, im2col / col2im."""
import numpy as np
from numba import njit, uint64

from ..ops import out_dim


def pad_hw(x, padding, value=0, pads_end=None):
    """Pad H and W of an (N, H, W, C) array by (py, px) at the top/left and ``pads_end`` (default
    (py, px), symmetric) at the bottom/right; no copy when all are 0."""
    py, px = padding
    ey, ex = padding if pads_end is None else pads_end
    if py == px == ey == ex == 0:
        return x
    return np.pad(x, ((0, 0), (py, ey), (px, ex), (0, 0)), constant_values=value)


def tap_slices(padded_shape, kernel, stride):
    """Yield ((ky, kx), index): padded[index] is tap (ky, kx) of every window, (N, Ho, Wo, C)."""
    ky_n, kx_n = kernel
    sy, sx = stride
    ho = (padded_shape[1] - ky_n) // sy + 1
    wo = (padded_shape[2] - kx_n) // sx + 1
    for ky in range(ky_n):
        for kx in range(kx_n):
            yield (ky, kx), (slice(None), slice(ky, ky + sy * (ho - 1) + 1, sy),
                             slice(kx, kx + sx * (wo - 1) + 1, sx), slice(None))


# In HWC a window row (ky fixed) is one contiguous run of KX*C values: the kernels copy runs.
# Row views and uint64 offsets let LLVM vectorise the run loops (numba's negative-index test on
# signed indices does not; KWS conv2 windows: im2col 7.0 -> 2.6 ms, col2im 4.3 -> 2.5 ms).
def _im2col_body(xp, sy, sx, ch, cols):
    """cols[n, i, j, ky, :] = xp[n, i*sy + ky, j*sx*ch : (j*sx + KX)*ch]."""
    n_, ho, wo, kh, run = cols.shape
    for n in range(n_):
        for i in range(ho):
            for j in range(wo):
                q0 = uint64(j * sx * ch)
                for ky in range(kh):
                    src = xp[n, i * sy + ky]
                    dst = cols[n, i, j, ky]
                    for t in range(uint64(run)):
                        dst[t] = src[q0 + t]


def _col2im_body(dcols, sy, sx, ch, dxp):
    """dxp[n, i*sy + ky, j*sx*ch + t] += dcols[n, i, j, ky, t]."""
    n_, ho, wo, kh, run = dcols.shape
    for n in range(n_):
        for i in range(ho):
            for j in range(wo):
                q0 = uint64(j * sx * ch)
                for ky in range(kh):
                    dst = dxp[n, i * sy + ky]
                    src = dcols[n, i, j, ky]
                    for t in range(uint64(run)):
                        dst[q0 + t] += src[t]


# Serial and GIL-free: the callers run them on batch slices in worker threads (qsim.train.workers).
_im2col = njit(cache=True, nogil=True)(_im2col_body)
_col2im = njit(cache=True, nogil=True)(_col2im_body)


def im2col(x, kernel, stride, padding, buffer=None):
    """(N, H, W, C) -> (N, Ho, Wo, KY*KX*C), each row one window in OHWI weight order (ky, kx, c).

    ``buffer``: a flat array of x's dtype to write into when it is large enough (the result is a
    view of its start; see qsim.train.workers.scratch).
    """
    xp = np.ascontiguousarray(pad_hw(x, padding))
    (ky_n, kx_n), (sy, sx) = kernel, stride
    ho, wo = (out_dim(*a) for a in zip(x.shape[1:3], kernel, stride, padding))
    n, c = x.shape[0], x.shape[3]
    shape = (n, ho, wo, ky_n, kx_n * c)
    size = int(np.prod(shape))
    if buffer is not None and buffer.size >= size and buffer.dtype == x.dtype:
        cols = buffer[:size].reshape(shape)
    else:
        cols = np.empty(shape, x.dtype)
    _im2col(xp.reshape(n, xp.shape[1], -1), sy, sx, c, cols)
    return cols.reshape(n, ho, wo, -1)


def col2im(dcols, x_shape, kernel, stride, padding, out=None):
    """Adjoint of im2col: scatter-add (N, Ho, Wo, KY*KX*C) window gradients onto (N, H, W, C).

    ``out``: a C-contiguous (N, H, W, C) array to write the result into (unpadded only).
    """
    n, h, w, c = x_shape
    py, px = padding
    if out is not None and py == 0 and px == 0:
        dxp = out
        dxp[...] = 0
    else:
        dxp = np.zeros((n, h + 2 * py, w + 2 * px, c), dcols.dtype)
    d5 = np.ascontiguousarray(dcols).reshape(dcols.shape[:3] + (kernel[0], kernel[1] * c))
    _col2im(d5, stride[0], stride[1], c, dxp.reshape(n, h + 2 * py, -1))
    res = dxp[:, py:py + h, px:px + w]
    if out is not None and res is not out:
        out[...] = res
        return out
    return res
