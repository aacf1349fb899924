"""The four 256-entry lookup tables of CMSIS/NN/Source/NNSupportFunctions/arm_nntables.c, generated.

Entry i stands for t = s / 16 with s = i for i < 128 and s = i - 256 otherwise (the index is the
two's-complement byte of 16 t, so t covers [-8, 8) in steps of 1/16). The value is f(t) in Q0.B,
B = 7 for q7 and 15 for q15 (doc §5.2):
    q = floor(f(t) * 2**B + 0.5), clamped to [-2**B, 2**B - 1]
with f the logistic sigmoid 1 / (1 + e**-t) or tanh written as (e**2t - 1) / (e**2t + 1), both in
IEEE double via math.exp. This reproduces the CMSIS arrays of 5.4.0 .. 5.9.0 exactly
(tests/kernels/test_arm_nntables.py compares with a checkout); no value is copied from CMSIS.
The unused two-range "H/L" q15 tables of the C file are not provided.
"""
import math

import numpy as np


def _sigmoid(t):
    return 1.0 / (1.0 + math.exp(-t))


def _tanh(t):
    e = math.exp(2.0 * t)
    return (e - 1.0) / (e + 1.0)


def make_table(f, frac_bits):
    """256-entry table of f over t = int8(i) / 16 in Q0.frac_bits (int8 for 7, int16 for 15)."""
    lo, hi = -(1 << frac_bits), (1 << frac_bits) - 1
    values = []
    for i in range(256):
        t = (i if i < 128 else i - 256) / 16.0
        values.append(min(hi, max(lo, math.floor(f(t) * 2.0 ** frac_bits + 0.5))))
    table = np.array(values, np.int8 if frac_bits == 7 else np.int16)
    table.flags.writeable = False
    return table


sigmoidTable_q7 = make_table(_sigmoid, 7)
tanhTable_q7 = make_table(_tanh, 7)
sigmoidTable_q15 = make_table(_sigmoid, 15)
tanhTable_q15 = make_table(_tanh, 15)


def lookup_table(type, bits):
    """The table the C switch picks: ARM_SIGMOID (0) -> sigmoid, anything else -> tanh."""
    if bits == 8:
        return sigmoidTable_q7 if type == 0 else tanhTable_q7
    return sigmoidTable_q15 if type == 0 else tanhTable_q15
