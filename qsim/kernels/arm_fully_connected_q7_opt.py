"""Mirror of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_q7_opt.c (CMSIS_5 5.7.0, 5.9.0).

Same arithmetic as arm_fully_connected_q7; the weights must be stored in the interleaved order of
doc §2.1, which both C paths read (the REF branch walks the same order).
"""
import numpy as np

from ..kernel_args import bind
from ._fc import deinterleave, fc_prepare, interleave


def interleave_q7_opt(mat):
    """Logical (num_of_rows, dim_vec) q7 weights -> the flat array arm_fully_connected_q7_opt reads.

    Per block of 4 rows r0..r3 and group of 4 columns c..c+3 (doc §2.1):
    r0c r1c r0c+2 r1c+2 | r2c r3c r2c+2 r3c+2 | r0c+1 r1c+1 r0c+3 r1c+3 | r2c+1 r3c+1 r2c+3 r3c+3;
    then the dim_vec % 4 tail columns as (r0, r1, r2, r3) each; num_of_rows % 4 rows row-major.
    """
    return interleave("q7", mat, "interleave_q7_opt")


def deinterleave_q7_opt(stored, num_of_rows, dim_vec):
    """Inverse of interleave_q7_opt: the stored array -> the logical (num_of_rows, dim_vec) matrix."""
    return deinterleave("q7", stored, num_of_rows, dim_vec, "deinterleave_q7_opt")


def arm_fully_connected_q7_opt(pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
                               path, release, truncate=False):
    """Q7 fully connected layer with interleaved weights, batched over the leading axis of `pV`.

    Arithmetic: exactly arm_fully_connected_q7 on the logical matrix W = deinterleave_q7_opt(pM).

    Parameters
    ----------
    pV : (N, dim_vec) int8
    pM : (num_of_rows * dim_vec,) int8 in the §2.1 order (use interleave_q7_opt); row-major weights
        give garbage, as in C.
    bias : (num_of_rows,) int8
    bias_shift, out_shift : 0..31

    Returns
    -------
    (N, num_of_rows) int8

    Buffers: vec_buffer of dim_vec q15_t (DSP path).
    """
    b = bind("arm_fully_connected_q7_opt", (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias),
             {}, path=path, release=release, truncate=truncate)
    return prepare_arm_fully_connected_q7_opt(b)(b["pV"])


# PREPARE (qsim.kernels): b -> run(pV)
prepare_arm_fully_connected_q7_opt = fc_prepare("arm_fully_connected_q7_opt", 8, np.int8, "q7")
