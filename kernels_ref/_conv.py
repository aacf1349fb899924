"""Readable twin of the legacy convolution loops (the #else / REF branches of ConvolutionFunctions/*.c).

Slow on purpose: Python ints, one output value at a time, written like the C's plain loops. The
DSP branches compute the same mathematics without the REF signed-char quirk, so path="dsp" runs
these loops with quirk=False, after refusing the geometries the DSP code gets wrong (doc §1, §8).

Geometry comes as a qsim.ops.ConvGeometry (named fields only). The rules themselves (size checks,
DSP refusals, `fast_geometry`, the signed-char condition in each function) are spelled out here
again on purpose, independently of qsim.constraints, which the numba kernels and kernel choice
share: this is the spec they are tested against.
"""
import numpy as np

from qsim.errors import KernelArgumentError

from ._fixed import i8, nn_round_release, sat, wrap32


def size_check(fn, ok, what):
    if not ok:
        raise KernelArgumentError(f"{fn}: ARM_MATH_SIZE_MISMATCH: needs {what}. help: see the "
                                  "function's constraints (semantics doc §1.13).")


def dsp_check(fn, b, ok, what):
    if b.path == "dsp" and not ok:
        raise KernelArgumentError(f"{fn}: path='dsp' cannot run this geometry: {what}. help: use path='ref'.")


def dsp_limits(fn, b, g):
    taps = g.ch_in * g.k_y * g.k_x
    dsp_check(fn, b, 1 <= taps <= 65535, "ch_im_in*kernel size outside 1..65535")
    for a in ("y", "x"):
        reach = getattr(g, "in_" + a)
        if getattr(g, "out_" + a):
            reach = max(reach, (getattr(g, "out_" + a) - 1) * getattr(g, "stride_" + a) + getattr(g, "k_" + a))
        dsp_check(fn, b, reach < 32768, f"{a} coordinates reach {reach} (int16_t)")


def fast_geometry(fn, b, g):
    """q7_fast DSP: rows (and, inside them, columns) away from the border are read unchecked."""
    middle = True
    for a in ("y", "x"):
        d_in, k, p, s, d_out = (getattr(g, f) for f in ("in_" + a, "k_" + a, "pad_" + a, "stride_" + a, "out_" + a))
        dsp_check(fn, b, p <= d_out, f"padding_{a} > dim_im_out_{a}")
        middle = middle and d_out - 2 * p > 0
        if middle:
            dsp_check(fn, b, p * s >= p and (d_out - p - 1) * s - p + k <= d_in,
                      f"the middle region reads outside the image along {a}")


def requant(acc, bias, b, bits):
    """§0.4: sat(asr(wrap32((bias << bias_shift) + NN_ROUND + acc), out_shift)), NN_ROUND of the release."""
    rnd = nn_round_release(b["out_shift"], b.version, b.truncate)
    total = wrap32(wrap32(int(bias) << b["bias_shift"]) + rnd + int(acc))
    return sat(total >> b["out_shift"], bits)


def conv(b, g, bits, quirk):
    """The REF loops: for o, oy, ox: sum over ky, kx (bounds-tested, optionally via a signed char), c."""
    in_y, in_x, ch_in, k_y, k_x = g.in_y, g.in_x, g.ch_in, g.k_y, g.k_x
    out = np.zeros((b.n, g.out_y, g.out_x, g.ch_out), np.int8 if bits == 8 else np.int16)
    wt = b["wt"].astype(np.int64).reshape(g.ch_out, k_y, k_x, ch_in)
    for n in range(b.n):
        im = b["Im_in"][n].astype(np.int64).reshape(in_y, in_x, ch_in)
        for o in range(g.ch_out):
            for oy in range(g.out_y):
                for ox in range(g.out_x):
                    acc = 0
                    for ky in range(k_y):
                        for kx in range(k_x):
                            row = oy * g.stride_y + ky - g.pad_y
                            col = ox * g.stride_x + kx - g.pad_x
                            if quirk:            # `signed char in_row, in_col;` in the 5.7.0 C
                                row, col = i8(row), i8(col)
                            if 0 <= row < in_y and 0 <= col < in_x:
                                acc += int(np.dot(im[row, col], wt[o, ky, kx]))
                    out[n, oy, ox, o] = requant(acc, b["bias"][o], b, bits)
    return out


def depthwise(b, g):
    """§1.10 REF loops: one tap per channel, int indices."""
    in_y, in_x, ch = g.in_y, g.in_x, g.ch_in
    out = np.zeros((b.n, g.out_y, g.out_x, g.ch_out), np.int8)
    wt = b["wt"].astype(np.int64).reshape(g.k_y, g.k_x, ch)
    for n in range(b.n):
        im = b["Im_in"][n].astype(np.int64).reshape(in_y, in_x, ch)
        for oy in range(g.out_y):
            for ox in range(g.out_x):
                for c in range(ch):
                    acc = 0
                    for ky in range(g.k_y):
                        for kx in range(g.k_x):
                            row = oy * g.stride_y + ky - g.pad_y
                            col = ox * g.stride_x + kx - g.pad_x
                            if 0 <= row < in_y and 0 <= col < in_x:
                                acc += int(im[row, col, c]) * int(wt[ky, kx, c])
                    out[n, oy, ox, c] = requant(acc, b["bias"][c], b, 8)
    return out
