"""Readable twin of CMSIS/NN/Source/NNSupportFunctions/arm_nn_add_q7.c."""
import numpy as np

from qsim.kernel_args import bind, out_array

from ._fixed import wrap32


def arm_nn_add_q7(input, block_size, *, path, release, truncate=False):
    b = bind("arm_nn_add_q7", (input, block_size), {}, path=path, release=release, truncate=truncate)
    out = out_array(b, np.int32)
    for n in range(b.n):
        result = 0
        for k in range(block_size):
            result = wrap32(result + int(b["input"][n, k]))
        out[n] = result
    return out
