"""Readable twin of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_q7_opt.c (REF branch).

Walks the interleaved pM in storage order, as the C does."""
import numpy as np

from qsim.kernel_args import bind

from ._fc import interleave, run


def interleave_q7_opt(mat):
    return interleave("q7", np.asarray(mat))


def arm_fully_connected_q7_opt(
        pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
        path, release, truncate=False):
    b = bind("arm_fully_connected_q7_opt",
             (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias), {},
             path=path, release=release, truncate=truncate)
    return run(b, "q7", 8, np.int8)
