"""Mirror of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_mat_q7_vec_q15_opt.c (5.7.0, 5.9.0).

Same arithmetic as arm_fully_connected_mat_q7_vec_q15; weights in the order of doc §2.3.
"""
import numpy as np

from ..kernel_args import bind
from ._fc import deinterleave, fc_prepare, interleave


def interleave_mat_q7_vec_q15_opt(mat):
    """Logical (num_of_rows, dim_vec) q7 weights -> the flat array the mat_q7_vec_q15_opt kernel reads.

    Per block of 4 rows and column pair (c, c+1) (doc §2.3): r0c r1c r0c+1 r1c+1 r2c r3c r2c+1 r3c+1
    (rows alternate first, unlike §2.2); an odd last column as (r0, r1, r2, r3); leftover rows
    row-major.
    """
    return interleave("mat_q7_vec_q15", mat, "interleave_mat_q7_vec_q15_opt")


def deinterleave_mat_q7_vec_q15_opt(stored, num_of_rows, dim_vec):
    """Inverse of interleave_mat_q7_vec_q15_opt."""
    return deinterleave("mat_q7_vec_q15", stored, num_of_rows, dim_vec, "deinterleave_mat_q7_vec_q15_opt")


def arm_fully_connected_mat_q7_vec_q15_opt(pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
                                           path, release, truncate=False):
    """q15-input, q7-weight fully connected layer with interleaved weights; batched over `pV`.

    Arithmetic: exactly arm_fully_connected_mat_q7_vec_q15 on W = deinterleave_mat_q7_vec_q15_opt(pM).

    Parameters
    ----------
    pV : (N, dim_vec) int16
    pM : (num_of_rows * dim_vec,) int8 in the §2.3 order (use interleave_mat_q7_vec_q15_opt)
    bias : (num_of_rows,) int8
    bias_shift, out_shift : 0..31

    Returns
    -------
    (N, num_of_rows) int16
    """
    b = bind("arm_fully_connected_mat_q7_vec_q15_opt",
             (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias), {},
             path=path, release=release, truncate=truncate)
    return prepare_arm_fully_connected_mat_q7_vec_q15_opt(b)(b["pV"])


# PREPARE (qsim.kernels): b -> run(pV)
prepare_arm_fully_connected_mat_q7_vec_q15_opt = fc_prepare("arm_fully_connected_mat_q7_vec_q15_opt", 16,
                                                            np.int16, "mat_q7_vec_q15")
