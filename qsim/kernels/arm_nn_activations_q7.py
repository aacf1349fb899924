"""Mirror of CMSIS/NN/Source/ActivationFunctions/arm_nn_activations_q7.c (CMSIS_5 5.7.0, 5.9.0)."""
import numpy as np
from numba import njit, prange

from ..kernel_args import bind, out_array
from ._activation_args import check_int_width
from .arm_nntables import lookup_table


@njit(cache=True, nogil=True, parallel=True)
def _direct_q7(data, shift, table, out):
    """out = table[(x >> shift) & 0xFF]."""
    for n in prange(data.shape[0]):
        for k in range(data.shape[1]):
            out[n, k] = table[(np.int64(data[n, k]) >> shift) & 0xFF]


def arm_nn_activations_direct_q7(data, size, int_width, type, *, path, release,
                                 truncate=False):
    """Sigmoid / tanh of q7 data by direct table look-up (in place in C), batched over `data`.

    Arithmetic (doc §5.3): out = T[uint8(x >> (3 - int_width))], arithmetic shift, T from
    arm_nntables. Input Q(int_width).(7 - int_width), output Q0.7. Same on both paths and releases.

    Parameters
    ----------
    data : (N, size) int8
    size : 0..65535
    int_width : 0..3
    type : 0 = ARM_SIGMOID, 1 = ARM_TANH (the C treats any other value as tanh)

    Returns
    -------
    (N, size) int8, the new data; the caller's array is not modified.
    """
    fn = "arm_nn_activations_direct_q7"
    b = bind(fn, (data, size, int_width, type), {}, path=path, release=release, truncate=truncate)
    check_int_width(fn, int_width)
    out = out_array(b, np.int8)
    _direct_q7(b["data"], 3 - int_width, lookup_table(type, 8), out)
    return out
