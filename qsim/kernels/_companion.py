"""Small helpers shared by the companion kernels (qsim_*.py): argument refusals and the average.

The arithmetic itself is documented in codegen/companion/qsim_companion.h and in each kernel's
docstring; this module holds the one numba implementation of the pooling average and the checks
every companion wrapper makes before a loop runs.
"""
import numpy as np
from numba import njit, uint64

from ..errors import KernelArgumentError

ROUND_HALF_UP, ROUND_TOWARD_ZERO = 0, 1
SUM_LIMIT = 1 << 30        # |sum * 2**out_lshift| must stay below this (int32 in the C)
BLOCK = 1 << 16            # elements per parallel block of the flat element-wise kernels (add, clip):
#                            64 KiB of q7, large enough to amortise a thread hand-off, small
#                            enough to balance two threads on one batch


def refuse(fn, ok, why, fix):
    """Raise KernelArgumentError naming the function, the reason and the fix, unless ok."""
    if not ok:
        raise KernelArgumentError(f"{fn}: {why}. help: {fix}")


def check_sum_range(fn, taps, bits, out_lshift):
    """The average's int32 bound: taps * 2**(bits-1) * 2**out_lshift <= 2**30 (qsim_companion.h)."""
    refuse(fn, taps * (1 << (bits - 1)) << out_lshift <= SUM_LIMIT,
           f"{taps} taps of q{bits - 1} values shifted left by out_lshift={out_lshift} can overflow "
           "the int32 sum", "lower out_lshift (fewer output fractional bits) or pool a smaller window")


def check_window(fn, b):
    for name in ("dim_kernel_x", "dim_kernel_y", "stride_x", "stride_y"):
        refuse(fn, b[name] >= 1, f"{name}={b[name]}; kernel sizes and strides start at 1",
               "give the pooling window and stride in pixels (>= 1)")


@njit("i8(i8, i8, i8, i8, b1)", cache=True, nogil=True)
def average(total, count, out_lshift, rounding, truncate):
    """sum * 2**out_lshift / count in the output format: round half up (floor under truncate) or,
    with rounding == 1, C division toward zero; 0 when count is 0.

    The divide is a float64 division (several times faster than an int64 one): exact here, because
    IEEE division is correctly rounded, so an integer quotient comes out exact, and any other
    quotient is at least 1/count from an integer while the error is below |n|/count * 2**-53,
    which is less than 1/count for |n| < 2**53 (here |n| <= 2**31).
    """
    if count <= 0:
        return 0
    v = total << out_lshift
    if rounding == ROUND_TOWARD_ZERO:
        return np.int64(np.trunc(np.float64(v) / np.float64(count)))
    if not truncate:
        v += count // 2
    return np.int64(np.floor(np.float64(v) / np.float64(count)))


@njit(cache=True, nogil=True)
def finish_window(acc, count, out_lshift, rounding, truncate, lo, hi, dst, d0):
    """dst[d0 + c] = clamp(average(acc[c], count, out_lshift, rounding, truncate), lo, hi) for
    every channel c: `average` with the window's constants hoisted out of one channel loop that
    LLVM vectorises (8 float64 divides per AVX-512 instruction instead of one)."""
    nch = uint64(acc.shape[0])
    if count <= 0:
        for c in range(nch):
            dst[d0 + c] = 0
        return
    cnt = np.float64(count)
    if rounding == ROUND_TOWARD_ZERO:
        for c in range(nch):
            q = np.int64(np.trunc(np.float64(np.int64(acc[c]) << out_lshift) / cnt))
            dst[d0 + c] = min(max(q, lo), hi)
    else:
        half = 0 if truncate else count // 2
        for c in range(nch):
            q = np.int64(np.floor(np.float64((np.int64(acc[c]) << out_lshift) + half) / cnt))
            dst[d0 + c] = min(max(q, lo), hi)
