"""Mirror of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_mat_q7_vec_q15.c (5.7.0, 5.9.0)."""
import numpy as np

from ..kernel_args import bind
from ._fc import fc_prepare


def arm_fully_connected_mat_q7_vec_q15(pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
                                       path, release, truncate=False):
    """Fully connected layer with q15 input, q7 weights and bias, q15 output; batched over `pV`.

    Arithmetic, per output row i (doc §0.4, §2):
        out[i] = __SSAT(wrap32((int32(bias[i]) << bias_shift) + NN_ROUND(out_shift)
                               + sum_j pV[j] * pM[i, j]) >> out_shift, 16)

    Parameters
    ----------
    pV : (N, dim_vec) int16
    pM : (num_of_rows, dim_vec) int8, row-major
    bias : (num_of_rows,) int8
    bias_shift, out_shift : 0..31 (5.9.0 differs from 5.7.0 only at out_shift == 31)

    Returns
    -------
    (N, num_of_rows) int16
    """
    b = bind("arm_fully_connected_mat_q7_vec_q15",
             (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias), {},
             path=path, release=release, truncate=truncate)
    return prepare_arm_fully_connected_mat_q7_vec_q15(b)(b["pV"])


# PREPARE (qsim.kernels): b -> run(pV)
prepare_arm_fully_connected_mat_q7_vec_q15 = fc_prepare("arm_fully_connected_mat_q7_vec_q15", 16, np.int16)
