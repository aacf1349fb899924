"""Case generators for the eleven legacy convolutions (semantics doc §1).

Geometries are small so the kernels_ref twins stay fast, with the hard cases mixed in: padding larger
than the kernel, strides above the kernel, output sizes other than the natural one where the path
allows it, out_shift 0, shifts up to 31 (int32 wrap of the bias term), extreme values. About one
case in five uses an image of 128..300 pixels along an axis, with a large stride so that only a few
outputs are computed: that is where the 5.7.0 REF signed-char index quirk (§1.1) shows.
Every case is legal for the given path: the DSP-only refusals (§1.3 middle region, 1x1 output
size, q15_fast odd width) are respected.
"""
from ._util import ints, shifts


def _axis(rng, big):
    """(dim_in, kernel, padding, stride, natural_out) of one spatial axis."""
    if big:
        d, k, p, s = (int(rng.integers(128, 300)), int(rng.integers(1, 4)), int(rng.integers(0, 2)),
                      int(rng.integers(35, 90)))
    else:
        d, k, p, s = (int(rng.integers(1, 9)), int(rng.integers(1, 5)), int(rng.integers(0, 3)),
                      int(rng.integers(1, 4)))
    k = min(k, d + 2 * p)
    return d, k, p, s, (d + 2 * p - k) // s + 1


def _out(rng, natural, free):
    """The output size: mostly natural; when `free` (REF, or a bounds-checked DSP body) sometimes not."""
    if free and rng.random() < 0.3:
        return max(1, natural + int(rng.integers(-1, 3)))
    return natural


def _fast_dsp_ok(axes):
    """§1.3: padding <= out per axis; the unchecked middle region must stay inside the image."""
    middle = True
    for d, k, p, s, o in axes:
        if p > o:
            return False
        middle = middle and o - 2 * p > 0
        if middle and not (p * s >= p and (o - p - 1) * s - p + k <= d):
            return False
    return True


def _geometry(rng, path, square, free_dsp=True, fast=False, even_x=False):
    """Axes (y, x) as (dim_in, kernel, padding, stride, dim_out), legal for `path`."""
    free = path == "ref" or free_dsp
    for _ in range(100):
        big_y, big_x = (rng.random() < 0.2, False) if square else (False, rng.random() < 0.25)
        y = _axis(rng, big_y)
        x = y if square else _axis(rng, big_x)
        oy = _out(rng, y[4], free)
        ox = oy if square else _out(rng, x[4], free)
        if even_x and path == "dsp" and ox % 2:
            ox = ox + 1 if ox == 1 or rng.random() < 0.5 else ox - 1
            oy = ox if square else oy
        axes = (y[:4] + (oy,), x[:4] + (ox,))
        if not fast or path == "ref" or _fast_dsp_ok(axes):
            return axes
    raise RuntimeError("no legal geometry found")  # pragma: no cover


def _args(rng, bits, axes, ch_in, ch_out, square, depthwise=False):
    (dy, ky, py, sy, oy), (dx, kx, px, sx, ox) = axes
    n = int(rng.integers(1, 4))
    im = ints(rng, (n, dy, dx, ch_in), bits)
    wt = ints(rng, (ky, kx, ch_in) if depthwise else (ch_out, ky, kx, ch_in), bits)
    bias = ints(rng, (ch_out,), bits)
    bias_shift, out_shift = shifts(rng, bits, ky * kx * ch_in)
    if square:
        return (im, dy, ch_in, wt, ch_out, ky, py, sy, bias, bias_shift, out_shift, oy)
    return (im, dx, dy, ch_in, wt, ch_out, kx, ky, px, py, sx, sy, bias, bias_shift, out_shift, ox, oy)


def _ch(rng, lo, hi, step=1):
    return step * int(rng.integers(lo, hi + 1))


def q7_basic(rng, path, version, square=True):
    return _args(rng, 8, _geometry(rng, path, square), _ch(rng, 1, 5), _ch(rng, 1, 5), square)


def q7_basic_nonsquare(rng, path, version):
    return q7_basic(rng, path, version, square=False)


def q7_fast(rng, path, version, square=True):
    axes = _geometry(rng, path, square, free_dsp=False, fast=True)
    return _args(rng, 8, axes, _ch(rng, 1, 2, 4), _ch(rng, 1, 3, 2), square)


def q7_fast_nonsquare(rng, path, version):
    return q7_fast(rng, path, version, square=False)


def q7_1x1(rng, path, version):
    dy, dx = int(rng.integers(1, 7)), int(rng.choice([1, 3, 5, int(rng.integers(128, 140))]))
    if path == "dsp":
        oy, ox = int(rng.integers(1, dy + 1)) if rng.random() < 0.3 else dy, dx
    else:
        oy, ox = dy, dx
        if rng.random() < 0.4:    # the REF loops accept any output size
            oy, ox = int(rng.integers(1, dy + 3)), int(rng.integers(1, dx + 3))
    axes = ((dy, 1, 0, 1, oy), (dx, 1, 0, 1, ox))
    return _args(rng, 8, axes, _ch(rng, 1, 3, 4), _ch(rng, 1, 3, 2), False)


def q7_rgb(rng, path, version):
    return _args(rng, 8, _geometry(rng, path, True), 3, _ch(rng, 1, 5), True)


def q15_basic(rng, path, version):
    return _args(rng, 16, _geometry(rng, path, True), _ch(rng, 1, 4), _ch(rng, 1, 4), True)


def q15_fast(rng, path, version, square=True):
    axes = _geometry(rng, path, square, even_x=True)
    return _args(rng, 16, axes, _ch(rng, 1, 2, 2), _ch(rng, 1, 2, 2), square)


def q15_fast_nonsquare(rng, path, version):
    return q15_fast(rng, path, version, square=False)


def depthwise(rng, path, version, square=True):
    ch = _ch(rng, 1, 9)
    return _args(rng, 8, _geometry(rng, path, square), ch, ch, square, depthwise=True)


def depthwise_nonsquare(rng, path, version):
    return depthwise(rng, path, version, square=False)


CASES = {
    "arm_convolve_HWC_q7_basic": q7_basic,
    "arm_convolve_HWC_q7_basic_nonsquare": q7_basic_nonsquare,
    "arm_convolve_HWC_q7_fast": q7_fast,
    "arm_convolve_HWC_q7_fast_nonsquare": q7_fast_nonsquare,
    "arm_convolve_1x1_HWC_q7_fast_nonsquare": q7_1x1,
    "arm_convolve_HWC_q7_RGB": q7_rgb,
    "arm_convolve_HWC_q15_basic": q15_basic,
    "arm_convolve_HWC_q15_fast": q15_fast,
    "arm_convolve_HWC_q15_fast_nonsquare": q15_fast_nonsquare,
    "arm_depthwise_separable_conv_HWC_q7": depthwise,
    "arm_depthwise_separable_conv_HWC_q7_nonsquare": depthwise_nonsquare,
}
