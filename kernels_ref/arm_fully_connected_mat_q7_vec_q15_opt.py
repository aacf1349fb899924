"""Readable twin of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_mat_q7_vec_q15_opt.c (REF branch).

Walks the interleaved pM in storage order, as the C does."""
import numpy as np

from qsim.kernel_args import bind

from ._fc import interleave, run


def interleave_mat_q7_vec_q15_opt(mat):
    return interleave("mat_q7_vec_q15", np.asarray(mat))


def arm_fully_connected_mat_q7_vec_q15_opt(
        pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
        path, release, truncate=False):
    b = bind("arm_fully_connected_mat_q7_vec_q15_opt",
             (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias), {},
             path=path, release=release, truncate=truncate)
    return run(b, "mat_q7_vec_q15", 16, np.int16)
