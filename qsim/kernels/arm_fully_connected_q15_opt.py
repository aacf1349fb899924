"""Mirror of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_q15_opt.c (CMSIS_5 5.7.0, 5.9.0).

Same arithmetic as arm_fully_connected_q15; weights in the interleaved order of doc §2.2.
"""
import numpy as np

from ..kernel_args import bind
from ._fc import deinterleave, fc_prepare, interleave


def interleave_q15_opt(mat):
    """Logical (num_of_rows, dim_vec) q15 weights -> the flat array arm_fully_connected_q15_opt reads.

    Per block of 4 rows and column pair (c, c+1) (doc §2.2): r0c r0c+1 r1c r1c+1 r2c r2c+1 r3c r3c+1;
    an odd last column as (r0, r1, r2, r3); num_of_rows % 4 rows row-major.
    """
    return interleave("q15", mat, "interleave_q15_opt")


def deinterleave_q15_opt(stored, num_of_rows, dim_vec):
    """Inverse of interleave_q15_opt: the stored array -> the logical (num_of_rows, dim_vec) matrix."""
    return deinterleave("q15", stored, num_of_rows, dim_vec, "deinterleave_q15_opt")


def arm_fully_connected_q15_opt(pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
                                path, release, truncate=False):
    """Q15 fully connected layer with interleaved weights, batched over the leading axis of `pV`.

    Arithmetic: exactly arm_fully_connected_q15 on W = deinterleave_q15_opt(pM).

    Parameters
    ----------
    pV : (N, dim_vec) int16
    pM : (num_of_rows * dim_vec,) int16 in the §2.2 order (use interleave_q15_opt)
    bias : (num_of_rows,) int16
    bias_shift, out_shift : 0..31

    Returns
    -------
    (N, num_of_rows) int16
    """
    b = bind("arm_fully_connected_q15_opt", (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias),
             {}, path=path, release=release, truncate=truncate)
    return prepare_arm_fully_connected_q15_opt(b)(b["pV"])


# PREPARE (qsim.kernels): b -> run(pV)
prepare_arm_fully_connected_q15_opt = fc_prepare("arm_fully_connected_q15_opt", 16, np.int16, "q15")
