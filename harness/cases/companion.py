"""Randomized argument generators for qsim's companion kernels: COMPANION_CASES[name](rng) -> args.

Shared by the kernel tests (numba == kernels_ref) and the companion parity runs (numba == qsim's
own C on the host and under QEMU). Every case is legal (the Python kernels would accept it) and
mixes in the hard ones: asymmetric geometry with top/left padding and explicit output sizes
(TensorFlow "SAME" with even kernels), windows of padding only, count_include_pad both ways, both
roundings, out_lshift at its int32 bound, extreme values, shifts 0 and 31, int32 wrap-around in the
depthwise accumulator, odd channel counts, requantize shifts at their int32 bounds. The signature `(rng, path=None, version=None)` matches
the CMSIS generators; companion kernels ignore path and version.
"""
import numpy as np

from ._util import ints


def _batch(rng):
    return int(rng.integers(1, 4))


def _axis(rng):
    """(dim_in, kernel, top/left padding, stride, dim_out) of one spatial axis."""
    k, s = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    d = int(rng.choice([int(rng.integers(1, 10)), int(rng.integers(1, 30)), 49]))
    mode = rng.random()
    if mode < 0.3:           # TF "SAME": out = ceil(d / s), the smaller half of the padding first
        out = -(-d // s)
        total = max((out - 1) * s + k - d, 0)
        pad = total // 2
    elif mode < 0.8:         # symmetric padding, natural (floor) output size
        pad = int(rng.integers(0, k))
        out = max((d + 2 * pad - k) // s + 1, 1)
    else:                    # anything: padding beyond the kernel, extra or missing outputs
        pad = int(rng.integers(0, 7))
        out = int(rng.integers(1, 9))
    return d, k, pad, s, out


def _geometry(rng):
    (dx, kx, px, sx, ox), (dy, ky, py, sy, oy) = _axis(rng), _axis(rng)
    ch = int(rng.choice([1, 2, 3, 4, 5, 7, 8, 13, int(rng.integers(1, 40))]))
    return dict(in_x=dx, in_y=dy, ch=ch, kx=kx, ky=ky, px=px, py=py, sx=sx, sy=sy, ox=ox, oy=oy)


def _pool(bits, average):
    def gen(rng, path=None, version=None):
        g = _geometry(rng)
        im = ints(rng, (_batch(rng), g["in_y"], g["in_x"], g["ch"]), bits)
        head = (im, g["in_x"], g["in_y"], g["ch"], g["kx"], g["ky"], g["px"], g["py"], g["sx"], g["sy"])
        tail = (g["ox"], g["oy"])
        if not average:
            return head + tail
        room = 30 - (bits - 1) - int(np.ceil(np.log2(g["kx"] * g["ky"])))   # largest legal out_lshift
        lshift = int(rng.choice([0, room, int(rng.integers(0, room + 1))]))
        return head + (int(rng.integers(0, 2)), int(rng.integers(0, 2)), lshift) + tail
    return gen


def _global(bits):
    def gen(rng, path=None, version=None):
        dx, dy = int(rng.choice([1, 5, int(rng.integers(1, 30))])), int(rng.choice([1, 25, int(rng.integers(1, 30))]))
        ch = int(rng.choice([1, 3, 8, int(rng.integers(1, 70))]))
        room = 30 - (bits - 1) - int(np.ceil(np.log2(dx * dy)))
        lshift = int(rng.choice([0, room, int(rng.integers(0, room + 1))]))
        return ints(rng, (_batch(rng), dy, dx, ch), bits), dx, dy, ch, lshift
    return gen


def _add(bits):
    def gen(rng, path=None, version=None):
        size, n = int(rng.choice([0, 1, 7, int(rng.integers(1, 200))])), _batch(rng)
        top = 30 - bits
        la, lb = (int(rng.choice([0, top, int(rng.integers(0, 8))])) for _ in range(2))
        if rng.random() < 0.5:
            la = 0 if rng.random() < 0.5 else la
            lb = 0 if la else lb
        out_shift = int(rng.choice([0, 1, 31, int(rng.integers(0, 32)), max(la, lb)]))
        return ints(rng, (n, size), bits), la, ints(rng, (n, size), bits), lb, out_shift, size
    return gen


def _clip(bits):
    def gen(rng, path=None, version=None):
        size = int(rng.choice([0, 1, int(rng.integers(1, 150))]))
        hi = (1 << (bits - 1)) - 1
        if rng.random() < 0.5:                 # ReLU6 in a random format
            frac = int(rng.integers(0, bits))
            lo, top = 0, min(6 << frac, hi)
        else:
            lo, top = sorted(int(v) for v in rng.integers(-32768, 32768, 2))
        return ints(rng, (_batch(rng), size), bits), size, lo, top
    return gen


def _requantize(bits):
    def gen(rng, path=None, version=None):
        size, n = int(rng.choice([0, 1, 7, int(rng.integers(1, 200))])), _batch(rng)
        top = 30 - bits
        mode = rng.random()
        if mode < 0.3:                          # widen / narrow by the width difference
            ls, rs = (8, 0) if bits == 8 else (0, 8)
        else:
            ls = int(rng.choice([0, top, int(rng.integers(0, 10))]))
            rs = int(rng.choice([0, 1, 31, int(rng.integers(0, 32))]))
            if rng.random() < 0.6:
                ls, rs = (ls, 0) if rng.random() < 0.5 else (0, rs)
        return ints(rng, (n, size), bits), ls, rs, size
    return gen


def _concat(bits):
    def gen(rng, path=None, version=None):
        pixels, ch_in = int(rng.integers(1, 60)), int(rng.integers(1, 20))
        ch_out = ch_in + int(rng.integers(0, 20))
        off = int(rng.integers(0, ch_out - ch_in + 1))
        n = _batch(rng)
        return (ints(rng, (n, pixels * ch_in), bits), pixels, ch_in, ints(rng, (n, pixels * ch_out), bits),
                ch_out, off)
    return gen


def depthwise_q15(rng, path=None, version=None):
    g = _geometry(rng)
    mode = "extreme" if rng.random() < 0.3 else None     # extreme q15 products wrap int32
    bias_shift = int(rng.choice([0, int(rng.integers(0, 32)), int(rng.integers(0, 12))]))
    out_shift = int(rng.choice([0, 31, int(rng.integers(0, 32)), int(rng.integers(10, 20))]))
    return (ints(rng, (_batch(rng), g["in_y"], g["in_x"], g["ch"]), 16, mode), g["in_x"], g["in_y"], g["ch"],
            ints(rng, (g["ky"], g["kx"], g["ch"]), 16, mode), g["ch"], g["kx"], g["ky"], g["px"], g["py"],
            g["sx"], g["sy"], ints(rng, (g["ch"],), 16), bias_shift, out_shift, g["ox"], g["oy"])


COMPANION_CASES = {
    "qsim_maxpool_q7_HWC_nonsquare": _pool(8, False),
    "qsim_maxpool_q15_HWC_nonsquare": _pool(16, False),
    "qsim_avepool_q7_HWC_nonsquare": _pool(8, True),
    "qsim_avepool_q15_HWC_nonsquare": _pool(16, True),
    "qsim_global_avepool_q7_HWC": _global(8),
    "qsim_global_avepool_q15_HWC": _global(16),
    "qsim_add_q7": _add(8),
    "qsim_add_q15": _add(16),
    "qsim_clip_q7": _clip(8),
    "qsim_clip_q15": _clip(16),
    "qsim_requantize_q7_q15": _requantize(8),
    "qsim_requantize_q15_q7": _requantize(16),
    "qsim_depthwise_conv_HWC_q15_nonsquare": depthwise_q15,
    "qsim_concat_channels_q7": _concat(8),
    "qsim_concat_channels_q15": _concat(16),
}
