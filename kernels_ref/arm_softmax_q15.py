"""Readable twin of CMSIS/NN/Source/SoftmaxFunctions/arm_softmax_q15.c (single body)."""
import numpy as np

from qsim.kernel_args import bind, out_array

from ._fixed import sat, usat, wrap32
from .arm_softmax_q7 import refuse_dim_vec


def arm_softmax_q15(vec_in, dim_vec, *, path, release, truncate=False):
    fn = "arm_softmax_q15"
    b = bind(fn, (vec_in, dim_vec), {}, path=path, release=release, truncate=truncate)
    refuse_dim_vec(fn, dim_vec)
    out = out_array(b, np.int16)
    for n in range(b.n):
        x = [int(v) for v in b["vec_in"][n]]
        base = max(x) - 16                                   # elements <= base are ignored
        total = sum(1 << usat(v - base, 5) for v in x if v > base)
        ob = wrap32((1 << 32) // total)                      # int64 division, (int32_t) cast
        out[n] = [sat(ob >> usat(17 + base - v, 5), 16) if v > base else 0 for v in x]
    return out
