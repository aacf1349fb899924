"""Case generators for arm_maxpool_q7_HWC and arm_avepool_q7_HWC (doc §3).

Geometries mix padding < stride (DSP == REF for max pooling) and padding >= stride (the DSP x pass
reads its own results), k 1..5, stride 1..3, padding 0..3, odd channel counts. Each case is legal
for the path: DSP needs dim_im_out <= dim_im_in and no window of padding only; REF average pooling
needs no window of padding only; REF max pooling also gets such windows (they give 127).
"""
from ._util import ints


def _has_empty_window(dim, k, pad, stride, dim_out):
    return any(max(o * stride - pad, 0) >= min(o * stride - pad + k, dim) for o in range(dim_out))


def _legal(fn, path, dim, k, pad, stride, dim_out):
    empty = _has_empty_window(dim, k, pad, stride, dim_out)
    if path == "dsp":
        return dim_out <= dim and not empty
    return not (empty and fn == "arm_avepool_q7_HWC")


def _geometry(rng, fn, path):
    """(dim_im_in, ch_im_in, dim_kernel, padding, stride, dim_im_out), legal for fn on path."""
    while True:
        k = int(rng.integers(1, 6))
        stride = int(rng.integers(1, 4))
        pad = int(rng.integers(0, stride)) if rng.random() < 0.4 else int(rng.integers(0, 4))
        dim = int(rng.integers(max(1, k - 2 * pad), 13))
        ch = int(rng.choice([1, 2, 3, 4, 5, 7, 8, 9, 13, int(rng.integers(1, 40))]))
        dim_out = (dim + 2 * pad - k) // stride + 1
        tweak = rng.random()
        if tweak < 0.15:
            dim_out -= int(rng.integers(1, 3))    # the caller may ask for fewer outputs
        elif tweak < 0.25:
            dim_out += int(rng.integers(1, 3))    # or more (legal on REF max pooling only)
        if dim_out >= 1 and _legal(fn, path, dim, k, pad, stride, dim_out):
            return dim, ch, k, pad, stride, dim_out


def _case(fn):
    def gen(rng, path, version):
        dim, ch, k, pad, stride, dim_out = _geometry(rng, fn, path)
        im = ints(rng, (int(rng.integers(1, 4)), dim, dim, ch), 8)
        return im, dim, ch, k, pad, stride, dim_out
    gen.__name__ = fn
    return gen


CASES = {fn: _case(fn) for fn in ("arm_maxpool_q7_HWC", "arm_avepool_q7_HWC")}
