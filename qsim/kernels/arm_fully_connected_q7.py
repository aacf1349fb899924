"""Mirror of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_q7.c (CMSIS_5 5.7.0, 5.9.0)."""
import numpy as np
from numba import njit, prange

from ..fixedpoint import bias_init, requantize
from ..kernel_args import bind, out_array


@njit(cache=True, parallel=True)
def fc_rows(vec, mat, bias, bias_shift, out_shift, bits, truncate, out):
    """out[n, i] = requantize(sum_j vec[n, j] * mat[i, j]) for row-major mat; exact int64 sums."""
    rows, dim = mat.shape
    for n in prange(vec.shape[0]):
        for i in range(rows):
            acc = 0
            for j in range(dim):
                acc += np.int64(vec[n, j]) * np.int64(mat[i, j])
            out[n, i] = requantize(acc, bias_init(np.int64(bias[i]), bias_shift), out_shift, bits, truncate)


def arm_fully_connected_q7(pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
                           path="ref", version="5.7.0", truncate=False):
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
    path, version : identical results on both paths and in both releases.
    truncate : model a build with -DARM_NN_TRUNCATE (NN_ROUND = 0).

    Returns
    -------
    (N, num_of_rows) int8

    Buffers: vec_buffer of dim_vec q15_t (DSP path).
    """
    b = bind("arm_fully_connected_q7", (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias), {},
             path=path, version=version, truncate=truncate)
    out = out_array(b, np.int8)
    fc_rows(b["pV"], b["pM"].reshape(num_of_rows, dim_vec), b["bias"], bias_shift, out_shift, 8,
            b.truncate, out)
    return out
