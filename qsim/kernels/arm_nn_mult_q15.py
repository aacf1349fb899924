"""Mirror of CMSIS/NN/Source/NNSupportFunctions/arm_nn_mult_q15.c (CMSIS_5 5.7.0, 5.9.0)."""
import numpy as np

from ..kernel_args import bind, out_array
from ._mult import mult_options, mult_rows


def arm_nn_mult_q15(pSrcA, pSrcB, out_shift, blockSize, *, path, release, truncate=False):
    """Element-wise q15 product with rounding shift and saturation, batched over pSrcA / pSrcB.

    Arithmetic (doc §7.1, §10), p = a * b, R = NN_ROUND(out_shift):
        5.7.0: u = (p + R) mod 2**32 as unsigned; out = sat16(int32(u >> out_shift))
               -> when p + R < 0 and out_shift >= 1 the result saturates to +32767 (the bug)
        5.9.0: out = sat16(wrap32(p + R) >> out_shift), R signed (-2**30 at out_shift 31)
        -DARM_NN_TRUNCATE (both): out = sat16(p >> out_shift)
    Same on both paths.

    Parameters
    ----------
    pSrcA, pSrcB : (N, blockSize) int16
    out_shift : 0..31

    Returns
    -------
    (N, blockSize) int16
    """
    b = bind("arm_nn_mult_q15", (pSrcA, pSrcB, out_shift, blockSize), {}, path=path, release=release,
             truncate=truncate)
    out = out_array(b, np.int16)
    mult_rows(b["pSrcA"], b["pSrcB"], out_shift, *mult_options(b), 32, 16, out)
    return out
