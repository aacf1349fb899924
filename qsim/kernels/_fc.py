"""Engine shared by the six fully connected kernels (semantics doc §2) and the `_opt` interleavings.

All six compute, per output row i (doc §0.4):
    out[i] = sat_bits( wrap32( (int32(bias[i]) << bias_shift) + NN_ROUND(out_shift)
                               + sum_j pV[j] * W[i, j] ) >> out_shift )
and differ only in dtypes and in how W is stored. The dot products run as BLAS matrix products
on integer-valued floats, exact in any summation order as long as every partial sum is an integer
below the format's 2**24 (float32) or 2**53 (float64): q7 x q7 products are <= 2**14, so chunks of
1024 columns are exact in float32 and their sums exact in float64; any other pairing (products
<= 2**30, dim_vec <= 65535, sums < 2**46) runs in float64. The wrap, shift and saturation then
happen in a thin numba loop that is serial on purpose: it is O(N * rows) against the product's
O(N * rows * dim_vec), and a prange region right after a threaded BLAS call measured 10-100x
slower than the serial loop on a busy 2-core machine (threads fighting OpenBLAS's spinning ones).
"""
from functools import lru_cache

import numpy as np
from numba import njit

from ..errors import ShapeError
from ..fixedpoint import bias_init, round_constant, ssat, wrap_i32


F32_CHUNK = 1024   # 1024 * 2**14 = 2**24: largest exact float32 partial sum of q7 x q7 products


@njit(cache=True)
def requant_rows(acc, bias, bias_shift, rnd, out_shift, bits, out):
    """out[n, i] = ssat(wrap32(init(bias[i]) + acc[n, i]) >> out_shift, bits); acc holds exact sums."""
    rows = bias.shape[0]
    init = np.empty(rows, np.int64)
    for i in range(rows):
        init[i] = wrap_i32(bias_init(np.int64(bias[i]), bias_shift) + rnd)
    for n in range(acc.shape[0]):
        for i in range(rows):
            out[n, i] = ssat(wrap_i32(init[i] + np.int64(acc[n, i])) >> out_shift, bits)


def fully_connected(b, mat, bits, out_dtype):
    """Run §2 for a bound call `b`; `mat` is the logical (num_of_rows, dim_vec) weight matrix."""
    acc = exact_dot(b["pV"], mat)
    out = np.empty((b.n,) + b.out_shape, out_dtype)
    rnd = round_constant(b["out_shift"], b.truncate, b.version)
    requant_rows(acc, b["bias"], b["bias_shift"], rnd, b["out_shift"], bits, out)
    return out


def exact_dot(vec, mat):
    """vec @ mat.T for integer arrays, exactly, as float64 holding integers."""
    if vec.dtype != np.int8 or mat.dtype != np.int8:
        return vec.astype(np.float64) @ mat.astype(np.float64).T
    acc = np.zeros((vec.shape[0], mat.shape[0]), np.float64)
    for c in range(0, vec.shape[1], F32_CHUNK):
        acc += vec[:, c:c + F32_CHUNK].astype(np.float32) @ mat[:, c:c + F32_CHUNK].astype(np.float32).T
    return acc


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


def deinterleave(kind, stored, num_of_rows, dim_vec, fn):
    stored = np.asarray(stored)
    if stored.size != num_of_rows * dim_vec:
        raise ShapeError(f"{fn}: the stored array has {stored.size} values, expected num_of_rows * "
                         f"dim_vec = {num_of_rows * dim_vec}.")
    out = np.empty(num_of_rows * dim_vec, stored.dtype)
    out[interleave_index(kind, num_of_rows, dim_vec)] = stored.reshape(-1)
    return out.reshape(num_of_rows, dim_vec)
