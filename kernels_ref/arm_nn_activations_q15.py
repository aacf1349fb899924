"""Readable twin of CMSIS/NN/Source/ActivationFunctions/arm_nn_activations_q15.c (5.7.0 and 5.9.0)."""
import numpy as np

from qsim.kernel_args import bind, out_array

from ._activation import check_int_width, pick
from ._fixed import i16, usat


def arm_nn_activations_direct_q15(data, size, int_width, type, *, path, release,
                                  truncate=False):
    fn = "arm_nn_activations_direct_q15"
    b = bind(fn, (data, size, int_width, type), {}, path=path, release=release, truncate=truncate)
    check_int_width(fn, int_width)
    table = pick(type, 16)
    shift_size = 8 + 3 - int_width
    bit_mask = 0x7FF >> int_width
    full_frac = bit_mask + 1
    out = out_array(b, np.int16)
    for n in range(b.n):
        for k in range(size):
            x = int(b["data"][n, k])
            frac = x & bit_mask
            h = x >> shift_size
            if b.version == "5.7.0":          # clamped indices (CMSIS_5 issue #470)
                value, value2 = int(table[usat(h, 8)]), int(table[usat(h + 1, 8)])
            elif h == 0x7F:                 # 5.8.0+: no right neighbour at the top
                out[n, k] = table[h % 256]
                continue
            else:                           # 5.8.0+: byte-wrapped indices
                value, value2 = int(table[h % 256]), int(table[(h % 256 + 1) % 256])
            out[n, k] = i16(((full_frac - frac) * value + value2 * frac) >> shift_size)
    return out
