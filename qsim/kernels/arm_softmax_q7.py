"""Mirror of CMSIS/NN/Source/SoftmaxFunctions/arm_softmax_q7.c (CMSIS_5 5.7.0, 5.9.0).

Base-2 softmax on raw q7 values (semantics doc §4.1, §4.2). Tag 5.7.0 has a DSP body that works
on 4-byte blocks with wrapping byte arithmetic and gives different bytes once an element lies 123 or
more below the maximum; 5.8.0 reverted it, so 5.9.0 runs the plain formula on both paths.
"""
import numpy as np
from numba import njit, prange

from ..errors import KernelArgumentError
from ..fixedpoint import ssat, usat, wrap_i8
from ..kernel_args import bind


@njit(cache=True, nogil=True, parallel=True)
def softmax_q7_rows(x, dsp_wrap, out):
    """Softmax of every row of x (R, dim_vec) int8 into out; dsp_wrap selects the 5.7.0 DSP blocks."""
    dim = x.shape[1]
    blocked = (dim >> 2) << 2 if dsp_wrap else 0
    for r in prange(x.shape[0]):
        top = np.int64(-128)
        for i in range(dim):
            if x[r, i] > top:
                top = np.int64(x[r, i])
        base = top - 8                        # in [-136, 119]
        bb = wrap_i8(base)                    # the byte the DSP body replicates into 4 lanes
        total = np.int64(0)
        for i in range(dim):
            v = np.int64(x[r, i])
            e = usat(wrap_i8(v - bb), 3) if i < blocked else usat(v - base, 3)
            total += np.int64(1) << e
        ob = (np.int64(1) << 20) // total     # both positive: C division
        for i in range(dim):
            v = np.int64(x[r, i])
            sh = usat(wrap_i8(wrap_i8(13 - v) + bb), 5) if i < blocked else usat(13 + base - v, 5)
            out[r, i] = ssat(ob >> sh, 8)


def check_dim_vec(fn, dim_vec):
    """The C divides by zero for dim_vec 0 and loops forever with its int16_t counter above 32767."""
    if not 1 <= dim_vec <= 32767:
        raise KernelArgumentError(
            f"{fn}: dim_vec={dim_vec} is outside 1..32767 (0 divides by zero, larger values overflow "
            "the C's int16_t loop counter). help: split longer vectors; skip empty ones.")


def arm_softmax_q7(vec_in, dim_vec, *, path, release, truncate=False):
    """Q7 base-2 softmax, batched over the leading axis of `vec_in` (doc §4.1, §4.2).

    Arithmetic (ref path; both paths in 5.9.0), with m = max(-128, max_i x_i), base = m - 8:
        sum    = sum_i 2**usat(x_i - base, 3)              # the max and m - 1 both weigh 128
        ob     = 2**20 // sum
        out[i] = __SSAT(ob >> usat(13 + base - x_i, 5), 8)
    5.7.0 dsp path: the elements of the first 4*(dim_vec // 4) use byte-wrapped terms
        bb = int8(base); term 2**usat(int8(x_i - bb), 3); shift usat(int8(int8(13 - x_i) + bb), 5)
    and the tail uses the formulas above. Example: [100, -50, 0, 0] -> ref [127, 0, 0, 0],
    5.7.0 dsp [127, 127, 0, 0].

    Parameters
    ----------
    vec_in : (N, dim_vec) int8. A 1-D vector is refused (ShapeError), never read as N vectors of
        one value: pass vec[None] for a single vector.
    dim_vec : 1..32767
    path, release : see above (Release.softmax_q7_wraps); required.
    truncate : accepted and unused (no rounding constant here).

    Returns
    -------
    (N, dim_vec) int8
    """
    b = bind("arm_softmax_q7", (vec_in, dim_vec), {}, path=path, release=release, truncate=truncate)
    return prepare_arm_softmax_q7(b)(b["vec_in"])


def prepare_arm_softmax_q7(b):
    """PREPARE (qsim.kernels): arm_softmax_q7 for a bound call -> run(vec_in (N, dim_vec)) -> output."""
    check_dim_vec("arm_softmax_q7", b["dim_vec"])
    wraps, shape = b.release.softmax_q7_wraps(b.path), b.out_shape

    def run(x):
        out = np.empty((len(x),) + shape, np.int8)
        softmax_q7_rows(x, wraps, out)
        return out
    return run
