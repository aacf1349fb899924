"""Mirror of CMSIS/NN/Source/NNSupportFunctions/arm_q7_to_q15_no_shift.c (CMSIS_5 5.7.0, 5.9.0).

No numba loop: sign extension is numpy's astype, exactly.
"""
import numpy as np

from ..kernel_args import bind


def arm_q7_to_q15_no_shift(pSrc, blockSize, *, path, release, truncate=False):
    """Widen q7 to q15 by sign extension, order preserved (doc §7.4), batched over `pSrc`.

    Parameters
    ----------
    pSrc : (N, blockSize) int8

    Returns
    -------
    (N, blockSize) int16
    """
    b = bind("arm_q7_to_q15_no_shift", (pSrc, blockSize), {}, path=path, release=release,
             truncate=truncate)
    return b["pSrc"].astype(np.int16)
