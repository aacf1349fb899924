"""Loop shared by arm_nn_mult_q7 and arm_nn_mult_q15 (doc §7.1, §10)."""
import numpy as np
from numba import njit, prange

from ..fixedpoint import round_constant, ssat, wrap_i16, wrap_i32


@njit(cache=True, nogil=True, parallel=True)
def mult_rows(a, b, out_shift, rnd, unsigned_round, narrow_bits, bits, out):
    """out = sat_bits(asr(narrow(a*b + rnd), s)), or for 5.7.0's unsigned NN_ROUND a logical shift."""
    for n in prange(a.shape[0]):
        for k in range(a.shape[1]):
            p = np.int64(a[n, k]) * np.int64(b[n, k])
            if unsigned_round:  # (a*b + NN_ROUND) is unsigned int: logical shift, then read as int32
                v = wrap_i32(((p + rnd) & 0xFFFFFFFF) >> out_shift)
            elif narrow_bits == 16:
                v = wrap_i16(p + rnd) >> out_shift
            else:
                v = wrap_i32(p + rnd) >> out_shift
            out[n, k] = ssat(v, bits)


def mult_options(b):
    """(NN_ROUND, unsigned_round) of a bound mult call: the release's rounding constant, and True
    where the sum is unsigned (Release.mult_bug; not under ARM_NN_TRUNCATE, whose 0 is signed)."""
    return round_constant(b["out_shift"], b.truncate, b.release), b.release.mult_bug(b.truncate)
