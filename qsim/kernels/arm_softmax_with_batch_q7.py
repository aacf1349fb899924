"""Mirror of CMSIS/NN/Source/SoftmaxFunctions/arm_softmax_with_batch_q7.c (CMSIS_5 5.7.0, 5.9.0)."""
import numpy as np

from ..kernel_args import bind, out_array
from .arm_softmax_q7 import check_dim_vec, softmax_q7_rows


def arm_softmax_with_batch_q7(vec_in, nb_batches, dim_vec, *, path, release,
                              truncate=False):
    """arm_softmax_q7 on each of nb_batches consecutive slices of dim_vec values (doc §4.5).

    Same arithmetic, and the same 5.7.0 DSP difference, as arm_softmax_q7; the 4-byte blocks
    restart at every slice.

    Parameters
    ----------
    vec_in : (N, nb_batches, dim_vec) int8 (or (N, nb_batches * dim_vec))
    nb_batches : 0..65535
    dim_vec : 1..32767
    path, release : as arm_softmax_q7; truncate is accepted and unused.

    Returns
    -------
    (N, nb_batches, dim_vec) int8
    """
    fn = "arm_softmax_with_batch_q7"
    b = bind(fn, (vec_in, nb_batches, dim_vec), {}, path=path, release=release, truncate=truncate)
    check_dim_vec(fn, dim_vec)
    out = out_array(b, np.int8)
    if out.size:
        softmax_q7_rows(b["vec_in"].reshape(-1, dim_vec), b.release.softmax_q7_wraps(path),
                        out.reshape(-1, dim_vec))
    return out
