"""Mirror of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_q15.c (CMSIS_5 5.7.0, 5.9.0)."""
import numpy as np

from ..kernel_args import bind
from ._fc import fc_prepare


def arm_fully_connected_q15(pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
                            path, release, truncate=False):
    """Q15 fully connected layer (legacy shift API), batched over the leading axis of `pV`.

    Arithmetic, per output row i (doc §0.4, §2):
        out[i] = __SSAT(wrap32((int32(bias[i]) << bias_shift) + NN_ROUND(out_shift)
                               + sum_j pV[j] * pM[i, j]) >> out_shift, 16)
    Two products of (-32768)**2 already sum to 2**31 and wrap: real library behaviour.

    Parameters
    ----------
    pV : (N, dim_vec) int16
    pM : (num_of_rows, dim_vec) int16, row-major
    bias : (num_of_rows,) int16
    bias_shift, out_shift : 0..31 (5.9.0 differs from 5.7.0 only at out_shift == 31)

    Returns
    -------
    (N, num_of_rows) int16
    """
    b = bind("arm_fully_connected_q15", (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias), {},
             path=path, release=release, truncate=truncate)
    return prepare_arm_fully_connected_q15(b)(b["pV"])


# PREPARE (qsim.kernels): b -> run(pV)
prepare_arm_fully_connected_q15 = fc_prepare("arm_fully_connected_q15", 16, np.int16)
