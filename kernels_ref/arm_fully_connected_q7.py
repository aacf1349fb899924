"""Readable twin of CMSIS/NN/Source/FullyConnectedFunctions/arm_fully_connected_q7.c (REF branch)."""
import numpy as np

from qsim.kernel_args import bind, out_array

from ._fixed import requant


def arm_fully_connected_q7(pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias, *,
                           path="ref", version="5.7.0", truncate=False):
    b = bind("arm_fully_connected_q7", (pV, pM, dim_vec, num_of_rows, bias_shift, out_shift, bias), {},
             path=path, version=version, truncate=truncate)
    out = out_array(b, np.int8)
    mat = b["pM"].reshape(num_of_rows, dim_vec).astype(np.int64)
    for n in range(b.n):
        for i in range(num_of_rows):
            acc = int(np.dot(b["pV"][n].astype(np.int64), mat[i]))
            out[n, i] = requant(acc, b["bias"][i], bias_shift, out_shift, 8, b.truncate)
    return out
