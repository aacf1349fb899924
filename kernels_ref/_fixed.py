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


def tdiv(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def requant(acc, bias, bias_shift, out_shift, bits, truncate=False, version="5.7.0"):
    """sat(asr(wrap32((bias << bias_shift) + NN_ROUND + acc), out_shift)); Python >> is arithmetic.

    NN_ROUND is the release's constant (nn_round_release): 5.9.0 differs only at out_shift 31.
    """
    total = wrap32(wrap32(int(bias) << bias_shift) + nn_round_release(out_shift, version, truncate)
                   + int(acc))
    return sat(total >> out_shift, bits)


def nn_round_release(out_shift, version, truncate=False):
    """NN_ROUND of a release: 5.7.0 `(1u << s) >> 1` (unsigned); 5.9.0 `(1 << s) >> 1` in int32."""
    if truncate:
        return 0
    if version == "5.9.0":
        return wrap32(1 << out_shift) >> 1
    return ((1 << out_shift) % 2**32) >> 1
