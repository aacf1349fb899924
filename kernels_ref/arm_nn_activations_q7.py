"""Readable twin of CMSIS/NN/Source/ActivationFunctions/arm_nn_activations_q7.c."""
import numpy as np

from qsim.kernel_args import bind, out_array

from ._activation import check_int_width, pick


def arm_nn_activations_direct_q7(data, size, int_width, type, *, path, release,
                                 truncate=False):
    fn = "arm_nn_activations_direct_q7"
    b = bind(fn, (data, size, int_width, type), {}, path=path, release=release, truncate=truncate)
    check_int_width(fn, int_width)
    table = pick(type, 8)
    out = out_array(b, np.int8)
    for n in range(b.n):
        for k in range(size):
            x = int(b["data"][n, k])
            out[n, k] = table[(x >> (3 - int_width)) % 256]   # (uint8_t)(in >> shift_size)
    return out
