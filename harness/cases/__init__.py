"""Randomized argument generators for every legacy function: CASES[c_name](rng, path, version) -> args.

Shared by the kernel tests (numba == kernels_ref), `qsim parity-kernels` and the pytest parity
tests (numba == real CMSIS-NN). A generator returns the positional arguments of the Python
kernel (C order, outputs and scratch left out) for a geometry that is legal on `path`, and mixes
in the hard cases: shifts 0..max, out_shift 0, saturating values, int32 wrap-around, odd sizes.
"""
from . import activations, conv, fc, pool, softmax, support  # noqa: F401
from .companion import COMPANION_CASES  # noqa: F401  (qsim's own kernels, harness/cases/companion.py)

CASES = {}
for _mod in (conv, fc, pool, softmax, activations, support):
    CASES.update(getattr(_mod, "CASES", {}))
