"""Engine shared by the six fully connected kernels (semantics doc §2) and the `_opt` interleavings.

All six compute, per output row i (doc §0.4):
    out[i] = sat_bits( wrap32( (int32(bias[i]) << bias_shift) + NN_ROUND(out_shift)
                               + sum_j pV[j] * W[i, j] ) >> out_shift )
and differ only in dtypes and in how W is stored. Every pairing (q7 x q7, q15 x q15, q15 x q7)
fits int16 x int16, so the dot products run through `_simd.direct_madd` (`fc_direct`) on int16
copies of the input rows, or for q7 x q7 on AVX-512 VNNI hosts on uint8 x + 128 copies as u8 x s8
quads (init then holds -128 * sum(w)), exactly modulo 2**32 (the same engine as the convolutions:
a batch item is one "pixel" whose column is its input vector; `fc_tiles` is the older im2col-style
loop, kept for tests and `exact_dot`); layers of <= NARROW_ROWS rows use plain int32 dot
products instead, as a tile would be mostly padding. No BLAS: float products were exact only
below 2**24 per partial sum, and OpenBLAS's spinning threads fought numba's for the 2 cores
(prange regions right after a threaded BLAS call measured 10-100x slower). Calls with little
work run a serial twin of each loop (see `_simd.parallel_worth_it`).
"""
from functools import lru_cache

import numpy as np
from numba import njit, prange, uint64

from ..errors import ShapeError
from ..fixedpoint import bias_init, round_constant, ssat, wrap_i32
from . import _simd
from ._simd import (TILE_P, direct_madd, madd, memo, pack_groups, pack_pairs, parallel_worth_it,
                    requant_rows, worth_threads)

CHUNK_TILES = 16     # tiles per parallel work item
DIRECT = True        # False: the gather + madd_tile loop (tests compare both)
NARROW_ROWS = 3      # up to this many rows, plain dot products beat a padded tile (fc 128->3: 16 vs 20 us)


@njit(inline="always")
def requant_tile(acc, m, init, o0, out_shift, bits, out, q0):
    """out[q0 + p, o0 + j] = ssat(wrap32(init[o0 + j] + acc[p, j]) >> out_shift, bits), p < m (§0.4).

    int8 / int16 outputs (bits = their width) run `_simd.requant_rows` (int32 vectors, masked
    stores); bits > 16 (exact_dot, int64 out) keeps the wrapped sums. init is int32 with one value
    per acc lane of every group (`padded_init`).
    """
    ncol = out.shape[1]
    nj = min(acc.shape[1], ncol - o0)
    if bits > 16:
        for p in range(m):
            for j in range(nj):
                out[q0 + p, o0 + j] = wrap_i32(init[o0 + j] + np.int64(acc[p, j])) >> out_shift
        return
    requant_rows(acc, init, o0, out_shift, out.reshape(-1), q0 * ncol + o0, ncol, m, nj)


def padded_init(init, lanes):
    """init (one int32 value per output, any int dtype) as int32, padded with zeros to whole
    groups of `lanes` (requant_tile)."""
    out = np.zeros(-(-len(init) // lanes) * lanes, np.int32)
    out[:len(init)] = init
    return out


@njit(cache=True, nogil=True)
def init_values(bias, bias_shift, rnd):
    """init[o] = wrap32((int32(bias[o]) << bias_shift) + rnd) as int64 (doc §0.4)."""
    init = np.empty(bias.shape[0], np.int64)
    for o in range(bias.shape[0]):
        init[o] = wrap_i32(bias_init(np.int64(bias[o]), bias_shift) + rnd)
    return init


def _fc_tiles(vec, wpair, init, out_shift, bits, out):
    """out[n, i] = ssat(wrap32(init[i] + <vec[n], W[i]>) >> out_shift, bits), W packed by pack_pairs.

    Compiled twice: `fc_tiles` (parallel over tiles of items) and `fc_tiles_serial`.
    """
    n_items, dim_vec = vec.shape
    groups, n2, lanes = wpair.shape
    ntiles = (n_items + TILE_P - 1) // TILE_P
    nchunks = (ntiles + CHUNK_TILES - 1) // CHUNK_TILES
    for chunk in prange(nchunks):
        col16 = np.zeros((TILE_P, 2 * n2), np.int16)
        cols = col16.view(np.int32)
        acc = np.empty((TILE_P, lanes), np.int32)
        for tile in range(chunk * CHUNK_TILES, min(ntiles, (chunk + 1) * CHUNK_TILES)):
            q0 = tile * TILE_P
            m = min(TILE_P, n_items - q0)
            for p in range(m):
                for j in range(uint64(dim_vec)):
                    col16[p, j] = vec[q0 + p, j]
            for g in range(groups):
                madd(cols, wpair[g], acc)
                requant_tile(acc, m, init, g * lanes, out_shift, bits, out, q0)


fc_tiles = njit(cache=True, parallel=True, nogil=True)(_fc_tiles)
fc_tiles_serial = njit(cache=True, nogil=True)(_fc_tiles)


def _fc_direct(vec, u8, wpack, init, out_shift, bits, out):
    """Same result as _fc_tiles through `_simd.direct_madd`: each tile's input rows are copied once
    into a buffer of rows padded to whole tap groups (zeros; x + 128 as uint8 when u8, then
    `init` already holds -128 * sum(w), exact modulo 2**32). Compiled twice like _fc_tiles."""
    n_items, dim_vec = vec.shape
    groups, n4, lanes = wpack.shape
    stride = 4 * n4                           # bytes per padded row (whole groups of 4 bytes)
    ntiles = (n_items + TILE_P - 1) // TILE_P
    nchunks = (ntiles + CHUNK_TILES - 1) // CHUNK_TILES
    for chunk in prange(nchunks):
        buf = np.zeros(TILE_P * stride // 2, np.int16)
        b8 = buf.view(np.uint8)
        if u8:
            b8[:] = 128
        bases = np.arange(TILE_P) * stride
        offs = np.arange(n4) * 4
        acc = np.empty((TILE_P, lanes), np.int32)
        for tile in range(chunk * CHUNK_TILES, min(ntiles, (chunk + 1) * CHUNK_TILES)):
            q0 = tile * TILE_P
            m = min(TILE_P, n_items - q0)
            for p in range(m):
                x = vec[q0 + p]
                if u8:
                    d8 = b8[p * stride:]
                    for j in range(uint64(dim_vec)):
                        d8[j] = np.uint8(np.int16(x[j]) + 128)
                else:
                    d16 = buf[p * stride // 2:]
                    for j in range(uint64(dim_vec)):
                        d16[j] = x[j]
            for g in range(groups):
                direct_madd(buf, u8, bases, offs, wpack[g], acc)
                requant_tile(acc, m, init, g * lanes, out_shift, bits, out, q0)


fc_direct = njit(cache=True, parallel=True, nogil=True)(_fc_direct)
fc_direct_serial = njit(cache=True, nogil=True)(_fc_direct)


def _fc_rows(vec, mat, init, out_shift, bits, out):
    """Same result as _fc_tiles, one int32 dot product per (item, row): faster when a layer has
    only NARROW_ROWS rows or fewer (a tile would be mostly padding). Compiled twice like it."""
    n_items, dim_vec = vec.shape
    for n in prange(n_items):
        x = vec[n]
        for i in range(mat.shape[0]):
            w = mat[i]
            acc = np.int32(0)
            for j in range(uint64(dim_vec)):
                acc = np.int32(acc + np.int32(x[j]) * np.int32(w[j]))
            out[n, i] = ssat(wrap_i32(init[i] + np.int64(acc)) >> out_shift, bits)


fc_rows = njit(cache=True, parallel=True, nogil=True)(_fc_rows)
fc_rows_serial = njit(cache=True, nogil=True)(_fc_rows)


def fully_connected(b, mat, bits, out_dtype):
    """Run §2 for a bound call `b`; `mat` is the logical (num_of_rows, dim_vec) weight matrix."""
    return fc_layer(b, mat, bits, out_dtype)(b["pV"])


def fc_layer(b, mat, bits, out_dtype):
    """Prepare §2 for a bound call `b` (logical weights `mat`): init vector and packed weights,
    once. Returns run(vec) for vec (N, dim_vec) C-contiguous of b's pV dtype, any N ->
    (N, num_of_rows); run only allocates the output and calls the numba loop."""
    tail = tuple(b.out_shape)
    shift = b["out_shift"]
    if not int(np.prod(tail)):
        return lambda vec: np.empty((len(vec),) + tail, out_dtype)
    rnd = round_constant(shift, b.truncate, b.release)
    init = init_values(b["bias"], b["bias_shift"], rnd)
    if mat.shape[0] <= NARROW_ROWS:
        mat = np.ascontiguousarray(mat)

        def run_rows(vec):
            out = np.empty((len(vec),) + tail, out_dtype)
            fn = fc_rows if worth_threads(vec.size * mat.shape[0]) else fc_rows_serial
            fn(vec, mat, init, shift, bits, out.reshape(len(vec), -1))
            return out
        return run_rows
    if DIRECT:
        u8 = b["pV"].dtype == np.int8 and mat.dtype == np.int8 and _simd.VNNI
        wpack, wsum = pack_groups(mat, 1, mat.shape[1], 4 if u8 else 2)
        if u8:
            init = (init - 128 * wsum + (1 << 31)) % (1 << 32) - (1 << 31)
        init = padded_init(init, wpack.shape[2])

        def run_direct(vec):
            out = np.empty((len(vec),) + tail, out_dtype)
            fn = fc_direct if parallel_worth_it(len(vec), wpack) else fc_direct_serial
            fn(vec, u8, wpack, init, shift, bits, out.reshape(len(vec), -1))
            return out
        return run_direct
    wpair = pack_pairs(mat)
    init = padded_init(init, wpair.shape[2])

    def run_tiles(vec):
        out = np.empty((len(vec),) + tail, out_dtype)
        fn = fc_tiles if parallel_worth_it(len(vec), wpair) else fc_tiles_serial
        fn(vec, wpair, init, shift, bits, out.reshape(len(vec), -1))
        return out
    return run_tiles


def fc_prepare(fn, bits, out_dtype, kind=None):
    """The PREPARE entry of fully connected function `fn`: b -> run(pV). kind: the `_opt`
    storage order of pM (PATTERNS), deinterleaved once here; None for row-major pM."""
    def prepare(b):
        rows, dim = b["num_of_rows"], b["dim_vec"]
        mat = (b["pM"].reshape(rows, dim) if kind is None else
               deinterleave(kind, b["pM"], rows, dim, fn, copy=False))
        return fc_layer(b, mat, bits, out_dtype)
    prepare.__doc__ = f"{fn} for a bound call: the logical weights, then `fc_layer` (run(pV) -> output)."
    return prepare


def exact_dot(vec, mat):
    """vec @ mat.T for int8/int16 arrays, modulo 2**32 (int64 holding int32 values), via madd_tile."""
    vec = np.ascontiguousarray(vec)
    out = np.empty((vec.shape[0], mat.shape[0]), np.int64)
    wpair = pack_pairs(np.asarray(mat))
    fc_tiles_serial(vec, wpair, np.zeros(wpair.shape[0] * wpair.shape[2], np.int32), 0, 33, out)
    return out


# Storage orders of the _opt kernels (doc §2.1-2.3). Inside each block of 4 rows, every group of
# `group` columns is emitted as len(pattern) (row offset, column offset) pairs; the dim_vec % group
# tail columns follow as (r0, r1, r2, r3) each; rows beyond the last full block stay row-major.
PATTERNS = {
    "q7": (4, (0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3),
              (0, 0, 2, 2, 0, 0, 2, 2, 1, 1, 3, 3, 1, 1, 3, 3)),
    "q15": (2, (0, 0, 1, 1, 2, 2, 3, 3), (0, 1, 0, 1, 0, 1, 0, 1)),
    "mat_q7_vec_q15": (2, (0, 1, 0, 1, 2, 3, 2, 3), (0, 0, 1, 1, 0, 0, 1, 1)),
}


@lru_cache(maxsize=64)
def interleave_index(kind, num_of_rows, dim_vec):
    """idx with stored[k] = W.ravel()[idx[k]] for the `kind` layout (read-only int64 array)."""
    group, row_pat, col_pat = PATTERNS[kind]
    nb, ng = num_of_rows // 4, dim_vec // group
    base = (4 * dim_vec * np.arange(nb))[:, None, None]
    body = base + (np.array(row_pat) * dim_vec + np.array(col_pat)
                   + group * np.arange(ng)[:, None])[None]
    tail_cols = np.arange(group * ng, dim_vec)
    tail = base + (np.arange(4) * dim_vec + tail_cols[:, None])[None]
    blocks = np.concatenate([body.reshape(nb, ng * len(row_pat)), tail.reshape(nb, 4 * len(tail_cols))],
                            axis=1)
    idx = np.concatenate([blocks.ravel(), np.arange(4 * nb * dim_vec, num_of_rows * dim_vec)])
    idx = idx.astype(np.int64)
    idx.flags.writeable = False
    return idx


def interleave(kind, mat, fn):
    mat = np.asarray(mat)
    if mat.ndim != 2:
        raise ShapeError(f"{fn}: expected the logical (num_of_rows, dim_vec) weight matrix, got shape "
                         f"{mat.shape}. help: reshape row-major weights to (num_of_rows, dim_vec) first.")
    return mat.reshape(-1)[interleave_index(kind, *mat.shape)]


def deinterleave(kind, stored, num_of_rows, dim_vec, fn, copy=True):
    """The logical (num_of_rows, dim_vec) matrix of a stored `kind` array; copy=False (kernels)
    returns the remembered read-only array itself, so that `pack_groups` finds it again."""
    stored = np.asarray(stored)
    if stored.size != num_of_rows * dim_vec:
        raise ShapeError(f"{fn}: the stored array has {stored.size} values, expected num_of_rows * "
                         f"dim_vec = {num_of_rows * dim_vec}.")
    mat = memo(("deinterleave", kind, num_of_rows, dim_vec), stored,
               lambda a: _deinterleave(kind, a, num_of_rows, dim_vec))
    return mat.copy() if copy else mat


def _deinterleave(kind, stored, num_of_rows, dim_vec):
    out = np.empty(num_of_rows * dim_vec, stored.dtype)
    out[interleave_index(kind, num_of_rows, dim_vec)] = stored.reshape(-1)
    out.flags.writeable = False
    return out.reshape(num_of_rows, dim_vec)
