"""Readable twin of CMSIS/NN/Source/SoftmaxFunctions/arm_softmax_with_batch_q7.c."""
import numpy as np

from qsim.kernel_args import bind, out_array

from .arm_softmax_q7 import refuse_dim_vec, softmax_q7_vector


def arm_softmax_with_batch_q7(vec_in, nb_batches, dim_vec, *, path, release,
                              truncate=False):
    fn = "arm_softmax_with_batch_q7"
    b = bind(fn, (vec_in, nb_batches, dim_vec), {}, path=path, release=release, truncate=truncate)
    refuse_dim_vec(fn, dim_vec)
    out = out_array(b, np.int8)
    for n in range(b.n):
        for j in range(nb_batches):
            piece = b["vec_in"][n][j * dim_vec:(j + 1) * dim_vec]
            out[n, j] = softmax_q7_vector(piece, path == "dsp" and b.version == "5.7.0")
    return out
