"""Mirror of CMSIS/NN/Source/ActivationFunctions/arm_nn_activations_q15.c (CMSIS_5 5.7.0, 5.9.0).

5.7.0 clamps the table index (a known bug: every negative input gives T[0]); 5.8.0 fixed it, so
release="5.9.0" uses the byte-wrapped index (Release.activations_q15_clamped; doc §5.4, §10).
"""
import numpy as np
from numba import njit, prange

from ..fixedpoint import usat, wrap_i16
from ..kernel_args import bind, out_array
from ._activation_args import check_int_width
from .arm_nntables import lookup_table


@njit(cache=True, nogil=True, parallel=True)
def _direct_q15(data, sh, table, fixed, out):
    """Linear interpolation between T[i0] and T[i1], weights (F - frac, frac), F = 2**sh."""
    full = np.int64(1) << sh
    for n in prange(data.shape[0]):
        for k in range(data.shape[1]):
            x = np.int64(data[n, k])
            frac = x & (full - 1)
            h = x >> sh
            if fixed:
                i0 = h & 0xFF
                if h == 127:  # top entry: no right neighbour, no interpolation
                    out[n, k] = table[i0]
                    continue
                i1 = (i0 + 1) & 0xFF
            else:
                i0 = usat(h, 8)
                i1 = usat(h + 1, 8)
            out[n, k] = wrap_i16(((full - frac) * np.int64(table[i0]) + frac * np.int64(table[i1])) >> sh)


def arm_nn_activations_direct_q15(data, size, int_width, type, *, path, release,
                                  truncate=False):
    """Sigmoid / tanh of q15 data by table look-up with linear interpolation, batched over `data`.

    Arithmetic (doc §5.4), sh = 11 - int_width, F = 2**sh, frac = x & (F - 1), h = x >> sh:
        5.7.0: i0 = usat8(h), i1 = usat8(h + 1)                  # clamped: x < 0 -> T[0]
        5.9.0: i0 = h mod 256, i1 = (i0 + 1) mod 256; h == 127 -> out = T[i0]
        out = int16(((F - frac) * T[i0] + frac * T[i1]) >> sh)
    Input Q(int_width).(15 - int_width), output Q0.15. Same on both paths.

    Parameters
    ----------
    data : (N, size) int16
    size : 0..65535
    int_width : 0..3
    type : 0 = ARM_SIGMOID, 1 = ARM_TANH (others behave as tanh in C)

    Returns
    -------
    (N, size) int16, the new data; the caller's array is not modified.
    """
    fn = "arm_nn_activations_direct_q15"
    b = bind(fn, (data, size, int_width, type), {}, path=path, release=release, truncate=truncate)
    check_int_width(fn, int_width)
    out = out_array(b, np.int16)
    _direct_q15(b["data"], 11 - int_width, lookup_table(type, 16), not b.release.activations_q15_clamped,
                out)
    return out
