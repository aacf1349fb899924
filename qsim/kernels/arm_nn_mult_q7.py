"""Mirror of CMSIS/NN/Source/NNSupportFunctions/arm_nn_mult_q7.c (CMSIS_5 5.7.0, 5.9.0)."""
import numpy as np

from ..kernel_args import bind, out_array
from ._mult import mult_options, mult_rows


def arm_nn_mult_q7(pSrcA, pSrcB, out_shift, blockSize, *, path, release, truncate=False):
    """Element-wise q7 product with rounding shift and saturation, batched over pSrcA / pSrcB.

    Arithmetic (doc §7.1, §10), p = a * b, R = NN_ROUND(out_shift):
        5.7.0: u = (p + R) mod 2**32 as unsigned; out = sat8(int32(u >> out_shift))
               -> when p + R < 0 and out_shift >= 1 the result saturates to +127 (the bug)
        5.9.0: out = sat8(int16(p + R) >> out_shift), R signed (-2**30 at out_shift 31)
        -DARM_NN_TRUNCATE (both): out = sat8(p >> out_shift)
    Same on both paths.

    Parameters
    ----------
    pSrcA, pSrcB : (N, blockSize) int8
    out_shift : 0..31

    Returns
    -------
    (N, blockSize) int8
    """
    b = bind("arm_nn_mult_q7", (pSrcA, pSrcB, out_shift, blockSize), {}, path=path, release=release,
             truncate=truncate)
    out = out_array(b, np.int8)
    mult_rows(b["pSrcA"], b["pSrcB"], out_shift, *mult_options(b), 16, 8, out)
    return out
