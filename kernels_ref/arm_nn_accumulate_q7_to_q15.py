"""Readable twin of CMSIS/NN/Source/NNSupportFunctions/arm_nn_accumulate_q7_to_q15.c (5.7.0, 5.9.0)."""
import numpy as np

from qsim.kernel_args import bind, out_array

from ._fixed import i16, sat


def arm_nn_accumulate_q7_to_q15(dst, src, block_size, *, path, release, truncate=False):
    b = bind("arm_nn_accumulate_q7_to_q15", (dst, src, block_size), {}, path=path, release=release,
             truncate=truncate)
    simd = b.version == "5.7.0" or path == "dsp"    # 5.9.0 guards the QADD16 loop with ARM_MATH_DSP
    groups = block_size // 4 if simd else 0
    out = out_array(b, np.int16)
    for n in range(b.n):
        for k in range(block_size):
            v = int(b["dst"][n, k]) + int(b["src"][n, k])
            out[n, k] = sat(v, 16) if k < 4 * groups else i16(v)     # QADD16 lanes, then `+=`
    return out
