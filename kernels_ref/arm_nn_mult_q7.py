"""Readable twin of CMSIS/NN/Source/NNSupportFunctions/arm_nn_mult_q7.c (5.7.0 and 5.9.0)."""
import numpy as np

from qsim.kernel_args import bind, out_array

from ._fixed import i16, nn_round_release, sat, wrap32


def mult_q7_value(a, b, out_shift, version, truncate):
    p = int(a) * int(b)
    rnd = nn_round_release(out_shift, version, truncate)
    if version == "5.7.0" and not truncate:
        # int + unsigned NN_ROUND is unsigned: the shift is logical, then __SSAT sees an int32.
        return sat(wrap32(((p + rnd) % 2**32) >> out_shift), 8)
    return sat(i16(p + rnd) >> out_shift, 8)         # 5.9.0: (q15_t)(a * b + NN_ROUND) >> s


def arm_nn_mult_q7(pSrcA, pSrcB, out_shift, blockSize, *, path, release, truncate=False):
    b = bind("arm_nn_mult_q7", (pSrcA, pSrcB, out_shift, blockSize), {}, path=path, release=release,
             truncate=truncate)
    out = out_array(b, np.int8)
    for n in range(b.n):
        for k in range(blockSize):
            out[n, k] = mult_q7_value(b["pSrcA"][n, k], b["pSrcB"][n, k], out_shift, b.version, b.truncate)
    return out
