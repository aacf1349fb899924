"""Mirror of CMSIS/NN/Source/ActivationFunctions/arm_relu_q7.c (CMSIS_5 5.7.0, 5.9.0).

No numba loop: the result is a plain element-wise max, which numpy does exactly.
"""
import numpy as np

from ..kernel_args import bind


def arm_relu_q7(data, size, *, path, release, truncate=False):
    """ReLU on q7 data (in place in C), batched over `data`: negative values become 0 (doc §5.1).

    The DSP path's sign-mask trick gives the same bytes.

    Parameters
    ----------
    data : (N, size) int8
    size : 0..65535

    Returns
    -------
    (N, size) int8, the new data; the caller's array is not modified.
    """
    b = bind("arm_relu_q7", (data, size), {}, path=path, release=release, truncate=truncate)
    return np.maximum(b["data"], np.int8(0))
