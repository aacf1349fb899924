"""Readable helpers for the fully connected twins: the row loop and the `_opt` storage walk (doc §2).

Each `_opt` order is written as the list of (row offset, column offset) pairs the C reads for one
block of 4 rows and one group of columns, straight from the doc's pseudo-code.
"""
import numpy as np

from qsim.kernel_args import out_array

from ._fixed import requant

ORDERS = {
    # §2.1: r0c r1c r0c+2 r1c+2 | r2c r3c r2c+2 r3c+2 | r0c+1 r1c+1 r0c+3 r1c+3 | r2c+1 r3c+1 r2c+3 r3c+3
    "q7": (4, [(0, 0), (1, 0), (0, 2), (1, 2), (2, 0), (3, 0), (2, 2), (3, 2),
               (0, 1), (1, 1), (0, 3), (1, 3), (2, 1), (3, 1), (2, 3), (3, 3)]),
    # §2.2: r0c r0c+1 r1c r1c+1 r2c r2c+1 r3c r3c+1
    "q15": (2, [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]),
    # §2.3: r0c r1c r0c+1 r1c+1 r2c r3c r2c+1 r3c+1
    "mat_q7_vec_q15": (2, [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (3, 0), (2, 1), (3, 1)]),
}


def interleave(kind, mat):
    """The doc's append loop: logical (rows, dim_vec) matrix -> flat stored list as an array."""
    group, order = ORDERS[kind]
    rows, dim = mat.shape
    stored = []
    for r in range(0, rows - rows % 4, 4):
        for c in range(0, dim - dim % group, group):
            stored += [mat[r + dr, c + dc] for dr, dc in order]
        for c in range(dim - dim % group, dim):
            stored += [mat[r + dr, c] for dr in range(4)]
    for r in range(rows - rows % 4, rows):
        stored += list(mat[r])
    return np.array(stored, mat.dtype)


def opt_sums(kind, vec, stored, rows, dim):
    """Dot products of `vec` with every row, reading `stored` strictly in order, as the C does."""
    group, order = ORDERS[kind]
    w = iter(int(x) for x in stored)
    sums = []
    for _ in range(rows // 4):
        acc = [0, 0, 0, 0]
        for c in range(0, dim - dim % group, group):
            for dr, dc in order:
                acc[dr] += int(vec[c + dc]) * next(w)
        for c in range(dim - dim % group, dim):
            for dr in range(4):
                acc[dr] += int(vec[c]) * next(w)
        sums += acc
    for _ in range(rows % 4):
        sums.append(sum(int(vec[c]) * next(w) for c in range(dim)))
    return sums


def plain_sums(vec, mat_flat, rows, dim):
    return [sum(int(vec[j]) * int(mat_flat[i * dim + j]) for j in range(dim)) for i in range(rows)]


def run(b, kind, bits, dtype):
    """The §0.4 output step for every item of a bound call; kind None = row-major weights."""
    out = out_array(b, dtype)
    rows, dim = b["num_of_rows"], b["dim_vec"]
    for n in range(b.n):
        if kind is None:
            sums = plain_sums(b["pV"][n], b["pM"], rows, dim)
        else:
            sums = opt_sums(kind, b["pV"][n], b["pM"], rows, dim)
        for i in range(rows):
            out[n, i] = requant(sums[i], b["bias"][i], b["bias_shift"], b["out_shift"], bits,
                                b.truncate, b.version)
    return out
