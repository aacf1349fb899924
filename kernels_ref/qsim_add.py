"""Readable twin of codegen/companion/qsim_add.c (qsim's own C): requantizing element-wise add."""
import numpy as np

from qsim.errors import KernelArgumentError
from qsim.kernel_args import bind

from ._fixed import sat


def _add(fn, bits, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    la, lb, s = b["lshift_a"], b["lshift_b"], b["out_shift"]
    if max(la, lb) > 30 - bits or s > 31:
        raise KernelArgumentError(f"{fn}: shifts out of range")
    rnd = 0 if truncate or s == 0 else 2**(s - 1)        # NN_ROUND
    out = np.empty_like(b["pSrcA"])
    for n in range(b.n):
        for i in range(b["block_size"]):
            v = int(b["pSrcA"][n, i]) * 2**la + int(b["pSrcB"][n, i]) * 2**lb + rnd
            out[n, i] = sat(v >> s, bits)                 # Python >> is arithmetic
    return out


def qsim_add_q7(pSrcA, lshift_a, pSrcB, lshift_b, out_shift, block_size, *, truncate=False):
    return _add("qsim_add_q7", 8, (pSrcA, lshift_a, pSrcB, lshift_b, out_shift, block_size), truncate)


def qsim_add_q15(pSrcA, lshift_a, pSrcB, lshift_b, out_shift, block_size, *, truncate=False):
    return _add("qsim_add_q15", 16, (pSrcA, lshift_a, pSrcB, lshift_b, out_shift, block_size), truncate)
