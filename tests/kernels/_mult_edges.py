"""Shared checks for arm_nn_mult_q7 / arm_nn_mult_q15 (doc §7.1, §10)."""
import numpy as np

from kernels_ref import KERNELS_REF
from qsim.kernels import KERNELS

from ._compare import assert_bit_exact


def mult(fn, a, b, out_shift, path="ref", release="5.7.0", **kw):
    kw.update(path=path, release=release)
    dtype = np.int8 if fn.endswith("q7") else np.int16
    a, b = np.asarray(a, dtype).reshape(1, -1), np.asarray(b, dtype).reshape(1, -1)
    got = KERNELS[fn](a, b, out_shift, a.shape[1], **kw)
    assert_bit_exact(got, KERNELS_REF[fn](a, b, out_shift, a.shape[1], **kw), f"{fn} twin")
    return got[0].tolist()


def check_all_shifts_against_formula(fn, bits, rng):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    a = np.concatenate([[lo, lo, hi, -1, 0, 3, -3], rng.integers(lo, hi + 1, 57)])
    b = np.concatenate([[lo, hi, hi, 1, -5, -1, 1], rng.integers(lo, hi + 1, 57)])
    p = a.astype(np.int64) * b
    sat = lambda v: np.clip(v, lo, hi).tolist()
    for s in range(32):
        r57 = 0 if s == 0 else 1 << (s - 1)
        r59 = -(1 << 30) if s == 31 else r57
        u = ((p + r57) % 2**32) >> s
        assert mult(fn, a, b, s, release="5.7.0") == sat(np.where(u >= 2**31, u - 2**32, u)), s
        narrow = (lambda v: (v + 2**15) % 2**16 - 2**15) if bits == 8 else \
            (lambda v: (v + 2**31) % 2**32 - 2**31)
        assert mult(fn, a, b, s, release="5.9.0") == sat(narrow(p + r59) >> s), s
        for version in ("5.7.0", "5.9.0"):
            assert mult(fn, a, b, s, release=version, truncate=True) == sat(p >> s), s
