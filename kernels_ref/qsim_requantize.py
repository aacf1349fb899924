"""Readable twin of codegen/companion/qsim_requantize.c (qsim's own C): q7 <-> q15 with a format
change, out = sat(floor((x * 2**lshift + NN_ROUND(rshift)) / 2**rshift))."""
import numpy as np

from qsim.errors import KernelArgumentError
from qsim.kernel_args import bind

from ._fixed import sat


def _requantize(fn, bits_in, bits_out, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    ls, rs = b["lshift"], b["rshift"]
    if ls > 30 - bits_in or rs > 31:
        raise KernelArgumentError(f"{fn}: lshift {ls} or rshift {rs} out of range")
    rnd = 0 if truncate or rs == 0 else 2 ** (rs - 1)
    src = b["pSrc"]
    out = np.zeros(src.shape, np.int16 if bits_out == 16 else np.int8)
    for n in range(b.n):
        for i in range(b["block_size"]):
            v = int(src[n, i]) * 2 ** ls + rnd
            out[n, i] = sat(v // 2 ** rs, bits_out)        # // is floor: an arithmetic shift
    return out


def qsim_requantize_q7_q15(pSrc, lshift, rshift, block_size, *, truncate=False):
    return _requantize("qsim_requantize_q7_q15", 8, 16, (pSrc, lshift, rshift, block_size), truncate)


def qsim_requantize_q15_q7(pSrc, lshift, rshift, block_size, *, truncate=False):
    return _requantize("qsim_requantize_q15_q7", 16, 8, (pSrc, lshift, rshift, block_size), truncate)
