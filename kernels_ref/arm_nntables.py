"""Twin of qsim/kernels/arm_nntables.py, computed independently: exact decimal arithmetic.

Entry i stands for t = int8(i) / 16; value = floor(f(t) * 2**B + 0.5) clamped to [-2**B, 2**B - 1],
B = 7 or 15, f = sigmoid or tanh (doc §5.2). Here f is evaluated with 50-digit decimals instead of
doubles; the rounding boundary is never close enough for the two to disagree.
"""
import decimal

import numpy as np

_CTX = decimal.Context(prec=50)


def _value(kind, i, frac_bits):
    t = decimal.Decimal(i if i < 128 else i - 256) / 16
    if kind == "sigmoid":
        f = _CTX.divide(1, _CTX.add(1, _CTX.exp(-t)))
    else:
        e = _CTX.exp(2 * t)
        f = _CTX.divide(e - 1, e + 1)
    scaled = _CTX.add(_CTX.multiply(f, 2 ** frac_bits), decimal.Decimal("0.5"))
    q = int(scaled.to_integral_value(rounding=decimal.ROUND_FLOOR))
    return max(-(1 << frac_bits), min((1 << frac_bits) - 1, q))


def table(kind, frac_bits):
    return np.array([_value(kind, i, frac_bits) for i in range(256)],
                    np.int8 if frac_bits == 7 else np.int16)


sigmoidTable_q7 = table("sigmoid", 7)
tanhTable_q7 = table("tanh", 7)
sigmoidTable_q15 = table("sigmoid", 15)
tanhTable_q15 = table("tanh", 15)
