"""Mirror of CMSIS/NN/Source/SoftmaxFunctions/arm_softmax_q15.c (CMSIS_5 5.7.0, 5.9.0; one body)."""
import numpy as np
from numba import njit, prange

from ..fixedpoint import ssat, usat, wrap_i32
from ..kernel_args import bind
from .arm_softmax_q7 import check_dim_vec


@njit(cache=True, nogil=True, parallel=True)
def softmax_q15_rows(x, out):
    """Softmax of every row of x (R, dim_vec) int16 into out (doc §4.4)."""
    dim = x.shape[1]
    for r in prange(x.shape[0]):
        top = np.int64(-0x100000)
        for i in range(dim):
            if x[r, i] > top:
                top = np.int64(x[r, i])
        base = top - 16
        total = np.int64(0)
        for i in range(dim):
            v = np.int64(x[r, i])
            if v > base:
                total += np.int64(1) << usat(v - base, 5)
        ob = wrap_i32((np.int64(1) << 32) // total)     # int64 division, then the (int32_t) cast
        for i in range(dim):
            v = np.int64(x[r, i])
            out[r, i] = ssat(ob >> usat(17 + base - v, 5), 16) if v > base else 0


def arm_softmax_q15(vec_in, dim_vec, *, path, release, truncate=False):
    """Q15 base-2 softmax, batched over the leading axis of `vec_in` (doc §4.4).

    Arithmetic (one body, all paths and releases), with m = max_i x_i and base = m - 16:
        sum    = sum over x_i > base of 2**(x_i - base)    # the max weighs 65536
        ob     = int32(2**32 // sum)
        out[i] = __SSAT(ob >> (17 + base - x_i), 16) if x_i > base else 0
    A single dominant element gives 65536 >> 1 = 32768, saturated to 32767.

    Parameters
    ----------
    vec_in : (N, dim_vec) int16
    dim_vec : 1..32767
    path, release, truncate : accepted for a uniform call; results do not depend on them.

    Returns
    -------
    (N, dim_vec) int16
    """
    b = bind("arm_softmax_q15", (vec_in, dim_vec), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_softmax_q15(b)(b["vec_in"])


def prepare_arm_softmax_q15(b):
    """PREPARE (qsim.kernels): arm_softmax_q15 for a bound call -> run(vec_in (N, dim_vec)) -> output."""
    check_dim_vec("arm_softmax_q15", b["dim_vec"])
    shape = b.out_shape

    def run(x):
        out = np.empty((len(x),) + shape, np.int16)
        softmax_q15_rows(x, out)
        return out
    return run
