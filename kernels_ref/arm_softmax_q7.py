"""Readable twin of CMSIS/NN/Source/SoftmaxFunctions/arm_softmax_q7.c (plain branch, 5.7.0 DSP branch)."""
import numpy as np

from qsim.errors import KernelArgumentError
from qsim.kernel_args import bind, out_array

from ._fixed import i8, sat, usat


def softmax_q7_vector(x, dsp_blocks):
    """One vector. dsp_blocks: the 5.7.0 DSP body, whose 4-byte blocks subtract bytes mod 256."""
    x = [int(v) for v in x]
    base = max([-128] + x) - 8
    blocked = len(x) - len(x) % 4 if dsp_blocks else 0
    bb = i8(base)                                            # base & 0xFF in every byte lane
    total = 0
    for i, v in enumerate(x):
        total += 1 << (usat(i8(v - bb), 3) if i < blocked else usat(v - base, 3))
    ob = (1 << 20) // total                                  # positive operands: C division
    shifts = [usat(i8(i8(13 - v) + bb), 5) if i < blocked else usat(13 + base - v, 5)
              for i, v in enumerate(x)]
    return [sat(ob >> s, 8) for s in shifts]


def refuse_dim_vec(fn, dim_vec):
    if not 1 <= dim_vec <= 32767:
        raise KernelArgumentError(f"{fn}: dim_vec={dim_vec} must be in 1..32767")


def arm_softmax_q7(vec_in, dim_vec, *, path, release, truncate=False):
    fn = "arm_softmax_q7"
    b = bind(fn, (vec_in, dim_vec), {}, path=path, release=release, truncate=truncate)
    refuse_dim_vec(fn, dim_vec)
    out = out_array(b, np.int8)
    for n in range(b.n):
        out[n] = softmax_q7_vector(b["vec_in"][n], path == "dsp" and b.version == "5.7.0")
    return out
