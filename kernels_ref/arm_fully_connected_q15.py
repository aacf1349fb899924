"""Readable twin of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_q15.c (REF branch)."""
import numpy as np

from qsim.kernel_args import bind

from ._fc import run


def arm_fully_connected_q15(
        pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
        path, release, truncate=False):
    b = bind("arm_fully_connected_q15",
             (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias), {},
             path=path, release=release, truncate=truncate)
    return run(b, None, 16, np.int16)
