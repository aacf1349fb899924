"""Readable twin of CMSIS/NN/Source/NNSupportFunctions/arm_q7_to_q15_no_shift.c."""
import numpy as np

from qsim.kernel_args import bind, out_array


def arm_q7_to_q15_no_shift(pSrc, blockSize, *, path, release, truncate=False):
    b = bind("arm_q7_to_q15_no_shift", (pSrc, blockSize), {}, path=path, release=release,
             truncate=truncate)
    out = out_array(b, np.int16)
    for n in range(b.n):
        for k in range(blockSize):
            out[n, k] = int(b["pSrc"][n, k])
    return out
