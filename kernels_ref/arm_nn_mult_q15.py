"""Readable twin of CMSIS/NN/Source/NNSupportFunctions/arm_nn_mult_q15.c (5.7.0 and 5.9.0)."""
import numpy as np

from qsim.kernel_args import bind, out_array

from ._fixed import nn_round_release, sat, wrap32


def mult_q15_value(a, b, out_shift, version, truncate):
    p = int(a) * int(b)
    rnd = nn_round_release(out_shift, version, truncate)
    if version == "5.7.0" and not truncate:
        return sat(wrap32(((p + rnd) % 2**32) >> out_shift), 16)   # unsigned NN_ROUND: logical shift
    return sat(wrap32(p + rnd) >> out_shift, 16)                    # 5.9.0: (q31_t)(a * b + NN_ROUND)


def arm_nn_mult_q15(pSrcA, pSrcB, out_shift, blockSize, *, path, release, truncate=False):
    b = bind("arm_nn_mult_q15", (pSrcA, pSrcB, out_shift, blockSize), {}, path=path, release=release,
             truncate=truncate)
    out = out_array(b, np.int16)
    for n in range(b.n):
        for k in range(blockSize):
            out[n, k] = mult_q15_value(b["pSrcA"][n, k], b["pSrcB"][n, k], out_shift, b.version, b.truncate)
    return out
