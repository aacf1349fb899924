"""Bit-exact numba mirrors of the legacy CMSIS-NN q7/q15 functions: KERNELS maps C name -> callable.

One module per CMSIS source file, named after it; every public function takes the C arguments in
C order minus outputs and scratch buffers, with a leading batch axis on data inputs, plus the
keyword options path="ref"|"dsp", version="5.7.0"|"5.9.0" and truncate (ARM_NN_TRUNCATE).
"""
from ..registry import collect

KERNELS = collect(__name__)
