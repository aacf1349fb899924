"""Mirror of CMSIS/NN/Source/NNSupportFunctions/arm_nn_accumulate_q7_to_q15.c (CMSIS_5 5.7.0, 5.9.0)."""
import numpy as np
from numba import njit, prange

from ..fixedpoint import ssat, wrap_i16
from ..kernel_args import bind, out_array


@njit(cache=True, nogil=True, parallel=True)
def _accumulate(dst, src, sat_len, out):
    """out = sat16(dst + src) for k < sat_len, int16(dst + src) (wrapping) after."""
    for n in prange(dst.shape[0]):
        for k in range(dst.shape[1]):
            v = np.int64(dst[n, k]) + np.int64(src[n, k])
            out[n, k] = ssat(v, 16) if k < sat_len else wrap_i16(v)


def arm_nn_accumulate_q7_to_q15(dst, src, block_size, *, path, release, truncate=False):
    """dst += src with q7 src and q15 dst (in place in C), batched over dst / src (doc §7.3).

    Arithmetic: the first 4 * (block_size // 4) elements add with saturation (QADD16), the last
    block_size % 4 wrap (C int16 narrowing). 5.7.0 compiles the SIMD code on every build; 5.9.0
    keeps it only with ARM_MATH_DSP, so release="5.9.0", path="ref" wraps every element
    (Release.accumulate_saturates).

    Parameters
    ----------
    dst : (N, block_size) int16
    src : (N, block_size) int8

    Returns
    -------
    (N, block_size) int16, the new dst; the caller's array is not modified.
    """
    b = bind("arm_nn_accumulate_q7_to_q15", (dst, src, block_size), {}, path=path, release=release,
             truncate=truncate)
    sat_len = 4 * (block_size // 4) if b.release.accumulate_saturates(path) else 0
    out = out_array(b, np.int16)
    _accumulate(b["dst"], b["src"], sat_len, out)
    return out
