"""Slow, readable numpy twins of qsim.kernels: the executable spec.

Same module, function and argument names as qsim/kernels. Written like the C's plain branch (and,
for path="dsp", like the DSP branch where the bytes differ), with Python ints. Never imports numba
or qsim.kernels.
"""
from qsim.registry import collect, collect_companion

KERNELS_REF = collect(__name__)
COMPANION_REF = collect_companion(__name__)
