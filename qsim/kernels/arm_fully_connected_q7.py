"""Mirror of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_q7.c (CMSIS_5 5.7.0, 5.9.0)."""
import numpy as np

from ..kernel_args import bind
from ._fc import fc_prepare


def arm_fully_connected_q7(pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
                           path, release, truncate=False):
    """Q7 fully connected layer (legacy shift API), batched over the leading axis of `pV`.

    Arithmetic, per output row i (int32, wrapping; doc §0.4, §2):
        acc    = (int32(bias[i]) << bias_shift) + NN_ROUND(out_shift)    # 2**(s-1), 0 for s == 0
        acc   += sum_j int32(pV[j]) * int32(pM[i, j])                     # mod 2**32
        out[i] = __SSAT(acc >> out_shift, 8)                              # arithmetic shift

    Parameters
    ----------
    pV : (N, dim_vec) int8
    pM : (num_of_rows, dim_vec) int8, row-major
    bias : (num_of_rows,) int8
    bias_shift, out_shift : 0..31
    path : identical results on both paths.
    release : identical except at out_shift == 31, where 5.9.0's signed NN_ROUND is -2**30.
    truncate : model a build with -DARM_NN_TRUNCATE (NN_ROUND = 0).

    Returns
    -------
    (N, num_of_rows) int8

    Buffers: vec_buffer of dim_vec q15_t (DSP path).
    """
    b = bind("arm_fully_connected_q7", (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias), {},
             path=path, release=release, truncate=truncate)
    return prepare_arm_fully_connected_q7(b)(b["pV"])


# PREPARE (qsim.kernels): b -> run(pV)
prepare_arm_fully_connected_q7 = fc_prepare("arm_fully_connected_q7", 8, np.int8)
