"""Fixed-point helpers for the reference twins: plain Python ints, written for reading."""


def wrap32(v):
    return ((int(v) + 2**31) % 2**32) - 2**31


def i16(v):
    return ((int(v) + 2**15) % 2**16) - 2**15


def i8(v):
    return ((int(v) + 2**7) % 2**8) - 2**7


def sat(v, bits):
    return max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, int(v)))


def usat(v, bits):
    return max(0, min((1 << bits) - 1, int(v)))


def nn_round(out_shift, truncate=False):
    return 0 if truncate or out_shift == 0 else 1 << (out_shift - 1)


def tdiv(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def requant(acc, bias, bias_shift, out_shift, bits, truncate=False):
    """sat(asr(wrap32((bias << bias_shift) + NN_ROUND + acc), out_shift)); Python >> is arithmetic."""
    total = wrap32(wrap32(int(bias) << bias_shift) + nn_round(out_shift, truncate) + int(acc))
    return sat(total >> out_shift, bits)
