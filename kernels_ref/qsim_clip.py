"""Readable twin of codegen/companion/qsim_clip.c (qsim's own C): clip in place, q7 and q15."""
from qsim.errors import KernelArgumentError
from qsim.kernel_args import bind

from ._fixed import sat


def _clip(fn, bits, args, truncate):
    b = bind(fn, args, {}, truncate=truncate)
    lo, hi = b["min_val"], b["max_val"]
    if lo > hi:
        raise KernelArgumentError(f"{fn}: min_val > max_val")
    out = b["data"].copy()
    for n in range(b.n):
        for i in range(b["size"]):
            v = int(out[n, i])
            v = lo if v < lo else v
            v = hi if v > hi else v
            out[n, i] = sat(v, bits)
    return out


def qsim_clip_q7(data, size, min_val, max_val, *, truncate=False):
    return _clip("qsim_clip_q7", 8, (data, size, min_val, max_val), truncate)


def qsim_clip_q15(data, size, min_val, max_val, *, truncate=False):
    return _clip("qsim_clip_q15", 16, (data, size, min_val, max_val), truncate)
