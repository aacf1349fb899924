"""Shared pieces of the convolution kernel tests: an independent numpy oracle and argument builders.

The oracle is vectorised numpy (fancy-indexed patches + einsum in int64), written from the
semantics doc (§0.4, §0.5, §1.1) and sharing no code with qsim.kernels or kernels_ref.
"""
import numpy as np

from qsim.kernels import KERNELS

from ._compare import assert_bit_exact

BITS = {"q15": 16}


def bits_of(fn):
    return 16 if "q15" in fn else 8


def geo(in_y, in_x, ch_in, k_y, k_x, pad_y=0, pad_x=0, s_y=1, s_x=1, out_y=None, out_x=None, ch_out=2):
    """A geometry dict; out sizes default to the natural floor((in + 2p - k)/s) + 1."""
    out_y = (in_y + 2 * pad_y - k_y) // s_y + 1 if out_y is None else out_y
    out_x = (in_x + 2 * pad_x - k_x) // s_x + 1 if out_x is None else out_x
    return dict(in_y=in_y, in_x=in_x, ch_in=ch_in, k_y=k_y, k_x=k_x, pad_y=pad_y, pad_x=pad_x,
                s_y=s_y, s_x=s_x, out_y=out_y, out_x=out_x, ch_out=ch_out)


def square(d, ch_in, k, pad=0, s=1, out=None, ch_out=2):
    return geo(d, d, ch_in, k, k, pad, pad, s, s, out, out, ch_out)


def args(fn, g, im, wt, bias, bias_shift, out_shift):
    """Positional arguments of `fn` (square or _nonsquare) for geometry `g`."""
    if "nonsquare" in fn:
        return (im, g["in_x"], g["in_y"], g["ch_in"], wt, g["ch_out"], g["k_x"], g["k_y"], g["pad_x"],
                g["pad_y"], g["s_x"], g["s_y"], bias, bias_shift, out_shift, g["out_x"], g["out_y"])
    assert g["in_x"] == g["in_y"] and g["k_x"] == g["k_y"] and g["out_x"] == g["out_y"]
    return (im, g["in_y"], g["ch_in"], wt, g["ch_out"], g["k_y"], g["pad_y"], g["s_y"], bias,
            bias_shift, out_shift, g["out_y"])


def random_data(rng, fn, g, n=2, extreme=False):
    bits = bits_of(fn)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    dtype = np.int8 if bits == 8 else np.int16
    dw = "depthwise" in fn
    shapes = ((n, g["in_y"], g["in_x"], g["ch_in"]),
              (g["k_y"], g["k_x"], g["ch_in"]) if dw else (g["ch_out"], g["k_y"], g["k_x"], g["ch_in"]),
              (g["ch_out"],))
    if extreme:
        return tuple(rng.choice(np.array([lo, hi, lo + 1], dtype), size=s) for s in shapes)
    return tuple(rng.integers(lo, hi + 1, size=s).astype(dtype) for s in shapes)


def oracle(fn, g, im, wt, bias, bias_shift, out_shift, *, quirk=False, version="5.7.0", truncate=False):
    """Expected output: exact int64 convolution, then §0.4 (wrap32, arithmetic shift, saturate)."""
    bits = bits_of(fn)
    ry = np.arange(g["out_y"])[:, None] * g["s_y"] + np.arange(g["k_y"])[None, :] - g["pad_y"]
    rx = np.arange(g["out_x"])[:, None] * g["s_x"] + np.arange(g["k_x"])[None, :] - g["pad_x"]
    if quirk:   # the 5.7.0 REF `signed char` row/column
        ry, rx = (ry + 128) % 256 - 128, (rx + 128) % 256 - 128
    vy, vx = (ry >= 0) & (ry < g["in_y"]), (rx >= 0) & (rx < g["in_x"])
    im = np.asarray(im, np.int64).reshape(-1, g["in_y"], g["in_x"], g["ch_in"])
    patches = im[:, np.clip(ry, 0, g["in_y"] - 1)[:, :, None, None],
                 np.clip(rx, 0, g["in_x"] - 1)[None, None, :, :], :]          # (n, oy, ky, ox, kx, c)
    patches = patches * (vy[:, :, None, None] & vx[None, None, :, :])[None, :, :, :, :, None]
    w = np.asarray(wt, np.int64)
    if "depthwise" in fn:
        acc = np.einsum("nykxlc,klc->nyxc", patches, w.reshape(g["k_y"], g["k_x"], g["ch_in"]))
    else:
        acc = np.einsum("nykxlc,oklc->nyxo", patches, w.reshape(g["ch_out"], g["k_y"], g["k_x"], g["ch_in"]))
    if truncate or out_shift == 0:
        rnd = 0
    else:
        rnd = -(1 << 30) if (version == "5.9.0" and out_shift == 31) else 1 << (out_shift - 1)
    wrap = lambda v: (v + 2**31) % 2**32 - 2**31  # noqa: E731
    init = wrap((np.asarray(bias, np.int64) << bias_shift) + rnd)
    total = wrap(init + acc) >> out_shift
    return np.clip(total, -(1 << (bits - 1)), (1 << (bits - 1)) - 1).astype(np.int8 if bits == 8 else np.int16)


def check(fn, g, data, bias_shift, out_shift, path, version, truncate=False, quirk=None):
    """Kernel == oracle; `quirk` defaults to what `fn` does on (path, version) per doc §8 item 4."""
    if quirk is None:
        quirk = has_quirk(fn) and path == "ref" and version == "5.7.0"
    got = KERNELS[fn](*args(fn, g, *data, bias_shift, out_shift), path=path, release=version,
                      truncate=truncate)
    want = oracle(fn, g, *data, bias_shift, out_shift, quirk=quirk, version=version, truncate=truncate)
    assert_bit_exact(got, want, f"{fn} {g} bs={bias_shift} os={out_shift} {path} {version}")
    return got


QUIRKY = {"arm_convolve_HWC_q7_basic", "arm_convolve_HWC_q7_basic_nonsquare", "arm_convolve_HWC_q7_fast",
          "arm_convolve_HWC_q7_RGB", "arm_convolve_HWC_q15_basic", "arm_convolve_HWC_q15_fast",
          "arm_convolve_HWC_q15_fast_nonsquare"}


def has_quirk(fn):
    return fn in QUIRKY


def quirk_geometry(fn, ch_in, ch_out=2):
    """A small geometry whose input indices pass 127: 130 pixels along x (and y when square)."""
    if "nonsquare" in fn:   # natural out_x is 3; 6 outputs reach column 261, which wraps to 5
        return geo(2, 130, ch_in, 1, 3, 0, 1, 1, 52, out_y=2, out_x=6, ch_out=ch_out)
    return square(130, ch_in, 3, 1, 43, out=4, ch_out=ch_out)       # natural size; reaches 129


def check_quirk(fn, rng, ch_in, ch_out=2, dsp=True):
    """5.7.0 REF reproduces the signed-char wrap and differs from the true conv; 5.9.0 / DSP do not.

    dsp=False skips the DSP run (for a geometry that path refuses)."""
    g = quirk_geometry(fn, ch_in, ch_out)
    data = random_data(rng, fn, g, n=2)
    ref57 = check(fn, g, data, 0, 3, "ref", "5.7.0")
    ref59 = check(fn, g, data, 0, 3, "ref", "5.9.0")
    if dsp:
        for version in ("5.7.0", "5.9.0"):
            assert_bit_exact(check(fn, g, data, 0, 3, "dsp", version), ref59,
                             f"{fn}: DSP {version} computes the true convolution")
    if has_quirk(fn):
        assert not np.array_equal(ref57, ref59), f"{fn}: the 5.7.0 REF quirk should change this case"
    else:
        assert_bit_exact(ref57, ref59, f"{fn}: no signed-char quirk in this function")


SHIFTS = [(0, 0), (0, 7), (3, 1), (9, 15), (31, 31), (5, 0), (20, 31), (1, 3)]
PATHS_VERSIONS = [(p, v) for p in ("ref", "dsp") for v in ("5.7.0", "5.9.0")]


def check_random(fn, rng, geoms, path, version):
    """Kernel == oracle over `geoms` x SHIFTS (out_shift 0, 31, int32 wrap at bias_shift 20/31)."""
    for i, g in enumerate(geoms):
        for j, (bias_shift, out_shift) in enumerate(SHIFTS):
            data = random_data(rng, fn, g, extreme=(i + j) % 3 == 2)
            check(fn, g, data, bias_shift, out_shift, path, version, truncate=j % 4 == 3)


def check_bias_wrap_and_rounding(fn, g):
    """Zero input isolates init = wrap32((bias << bias_shift) + NN_ROUND), then >> and saturate."""
    bits = bits_of(fn)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    im, wt, _ = random_data(np.random.default_rng(0), fn, g, n=1)
    im = np.zeros_like(im)
    call = lambda bias, bs, os, path, version: KERNELS[fn](  # noqa: E731
        *args(fn, g, im, wt, np.full(g["ch_out"], bias, wt.dtype), bs, os), path=path, release=version)
    for path, version in PATHS_VERSIONS:
        assert np.all(call(1, 31, 0, path, version) == lo)      # 1 << 31 wraps to INT_MIN (no sat to max)
        assert np.all(call(2, 31, 0, path, version) == 0)       # 2 << 31 wraps to 0
        assert np.all(call(-1, 0, 0, path, version) == -1)      # out_shift 0: no rounding constant
        assert np.all(call(1, 0, 1, path, version) == 1)        # (1 + 1) >> 1: rounds half up
        assert np.all(call(-1, 0, 1, path, version) == 0)       # (-1 + 1) >> 1
        assert np.all(call(100, 20, 3, path, version) == hi)    # saturates
        # NN_ROUND(31): 5.7.0 unsigned (1u << 31) >> 1 = 2**30; 5.9.0 int (1 << 31) >> 1 = -2**30
        assert np.all(call(0, 0, 31, path, version) == (-1 if version == "5.9.0" else 0))


def assert_refused(fn, call_args, match, paths=("ref", "dsp")):
    import pytest

    from qsim.errors import KernelArgumentError
    for path in paths:
        with pytest.raises(KernelArgumentError, match=match):
            KERNELS[fn](*call_args, path=path, release="5.7.0")


def refuse_size(fn, g, paths=("ref", "dsp")):
    """The C's own check: ARM_MATH_SIZE_MISMATCH on both paths, with a help hint."""
    data = random_data(np.random.default_rng(1), fn, g, n=1)
    assert_refused(fn, args(fn, g, *data, 0, 0), r"ARM_MATH_SIZE_MISMATCH.*help:", paths)


def refuse_dsp(fn, g, match=r"path='dsp' cannot run"):
    """Refused on the DSP path only; the REF path computes it."""
    data = random_data(np.random.default_rng(2), fn, g, n=1)
    assert_refused(fn, args(fn, g, *data, 0, 0), match, paths=("dsp",))
    check(fn, g, data, 0, 0, "ref", "5.9.0")
