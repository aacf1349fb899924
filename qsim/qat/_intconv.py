"""The QAT conv forward on integers: the simulator's exact int16 tile engine (qsim.kernels._conv)
with the §0.4 requantization writing the dequantized output and the saturation mask of the STE.

Per output pixel the (ky, kx, c) taps are gathered into an int16 column (zeros for padding, the
kernels' `gather` with the true, quirk-free indices), `_simd.madd` multiplies 8 columns with 8, 16
or 32 weight rows at a time modulo 2**32, and per output element
    v = asr(wrap32(init[o] + acc), out_shift);  out = ssat(v, bits) * step;  mask = (v == ssat(v))
exactly as qsim.qat.ste.requantize_ste does from the float accumulator (the same integers: the
float product is exact, the tile exact modulo 2**32, which is all wrap32 keeps). With ``relu``
(a ReLU node that only reads this conv, fused by qsim.qat.net) the epilogue also applies it:
    out = max(ssat(v), 0) * step;  mask = (v == ssat(v)) and ssat(v) > 0
the ReLU's output and the product of both gradient masks, in one pass over the output. About
3-5x faster than im2col + a float BLAS product on the KWS convs, and no im2col buffer in the
forward pass. The tile loop repeats qsim.kernels._conv's with another epilogue: numba cannot
take the epilogue as an argument and still inline it into the vectorised channel loop. The
signed-char quirk is off because choose_kernels never picks a conv whose 5.7.0 REF quirk would
fire. conv_forward runs the serial, GIL-free loop on batch slices in qsim.train.workers' threads.
"""
import numpy as np
from numba import njit, uint64

from ..fixedpoint import asr, ssat, wrap_i32
from ..kernels._conv import CHUNK_TILES, gather
from ..kernels._simd import TILE_P, madd, pack_pairs
from ..train.workers import over_batch


def _conv_ste(im, wpair, offs, init, geo, out_shift, bits, step, floor, out, mask):
    """out[q, o] (float) and mask[q, o] for every output pixel q = (n, oy, ox) of the batch;
    floor: 0 to apply a ReLU, below -2**31 for none (max(s, floor) = s, s > floor always)."""
    out_y, out_x = geo[9], geo[10]
    groups, n2, lanes = wpair.shape
    co = out.shape[1]
    npix = out_y * out_x
    total = out.shape[0]
    ntiles = (total + TILE_P - 1) // TILE_P
    nchunks = (ntiles + CHUNK_TILES - 1) // CHUNK_TILES
    for chunk in range(nchunks):
        col16 = np.zeros((TILE_P, 2 * n2), np.int16)
        cols = col16.view(np.int32)
        acc = np.empty((TILE_P, lanes), np.int32)
        for tile in range(chunk * CHUNK_TILES, min(ntiles, (chunk + 1) * CHUNK_TILES)):
            q0 = tile * TILE_P
            m = min(TILE_P, total - q0)
            for p in range(m):
                n, pix = divmod(q0 + p, npix)
                gather(im, n, pix // out_x, pix % out_x, geo, False, offs, col16[p])
            for g in range(groups):
                madd(cols, wpair[g], acc)
                o0 = uint64(g * lanes)          # uint64 indices: the channel loop vectorises
                nj = uint64(min(lanes, co - g * lanes))
                for p in range(m):
                    a = acc[p]
                    dst = out[q0 + p]
                    msk = mask[q0 + p]
                    for j in range(nj):
                        v = asr(wrap_i32(init[o0 + j] + np.int64(a[j])), out_shift)
                        s = ssat(v, bits)
                        dst[o0 + j] = max(s, floor) * step
                        msk[o0 + j] = (v == s) & (s > floor)


# Serial and GIL-free: conv_forward runs it on batch slices in qsim.train.workers' threads.
conv_ste = njit(cache=True, nogil=True)(_conv_ste)


NO_RELU = -(1 << 40)


def conv_forward(x_int, w_int, init, stride, padding, out_shift, out_q, relu=False):
    """(N, H, W, C) ints, OHWI ints -> (dequantized output float32, bool mask), (N, Ho, Wo, C_out);
    ``relu``: the ReLU fused into the epilogue (see the module docstring)."""
    n, h, w, ci = x_int.shape
    co, ky, kx, _ = w_int.shape
    (sy, sx), (py, px) = stride, padding
    ho, wo = (h + 2 * py - ky) // sy + 1, (w + 2 * px - kx) // sx + 1
    out = np.empty((n, ho, wo, co), np.float32)
    mask = np.empty(out.shape, np.bool_)
    if out.size:
        wpair = pack_pairs(w_int.reshape(co, -1))
        y, xx, c = np.meshgrid(np.arange(ky), np.arange(kx), np.arange(ci), indexing="ij")
        offs = ((y * w + xx) * ci + c).astype(np.uint64).ravel()
        geo = (h, w, ci, ky, kx, py, px, sy, sx, ho, wo)
        im = np.ascontiguousarray(x_int).reshape(n, -1)
        init = np.asarray(init, np.int64)

        floor = 0 if relu else NO_RELU

        def part(lo, hi):
            conv_ste(im[lo:hi], wpair, offs, init, geo, out_shift, out_q.bits, out_q.step, floor,
                     out[lo:hi].reshape(-1, co), mask[lo:hi].reshape(-1, co))

        over_batch(part, n)
    return out, mask


