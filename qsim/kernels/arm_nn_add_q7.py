"""Mirror of CMSIS/NN/Source/NNSupportFunctions/arm_nn_add_q7.c (CMSIS_5 5.7.0, 5.9.0)."""
import numpy as np
from numba import njit, prange

from ..fixedpoint import wrap_i32
from ..kernel_args import bind, out_array


@njit(cache=True, nogil=True, parallel=True)
def _add_rows(data, out):
    """out[n] = wrap32(sum of data[n])."""
    for n in prange(data.shape[0]):
        total = 0
        for k in range(data.shape[1]):
            total += np.int64(data[n, k])
        out[n] = wrap_i32(total)


def arm_nn_add_q7(input, block_size, *, path, release, truncate=False):
    """Sum of a q7 vector into one q31 (doc §7.2), batched over `input`.

    Arithmetic: output = wrap32(sum_k input[k]) (overwrites, does not accumulate). Wrap-around
    needs more than 2**24 elements. Same on both paths.

    Parameters
    ----------
    input : (N, block_size) int8

    Returns
    -------
    (N,) int32
    """
    b = bind("arm_nn_add_q7", (input, block_size), {}, path=path, release=release, truncate=truncate)
    out = out_array(b, np.int32)
    _add_rows(b["input"], out)
    return out
