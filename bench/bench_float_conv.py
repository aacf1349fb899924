"""The float conv forward on the KWS, CIFAR-10 and DS-CNN nets' conv shapes: each candidate's time.

    python bench/bench_float_conv.py [--batch 256] [--repeats 15] [--impl a b ...]

Candidates (--impl; the default is every one in IMPLS):
    train      qsim.train.conv2d.conv_forward: in float32 (this bench) register tiles reading
               the windows in place (qsim.train._ftile), batch slices on qsim.train.workers'
               threads (until issue 16's training round: numba im2col into a 1 MB chunk, one
               BLAS product per chunk)
    banded     the KY row matmuls against a banded weight matrix that float_exec used for narrow
               images (W <= 3 * KX), else numpy im2col in 64 MB chunks and one threaded BLAS call
Each is timed twice: with BLAS at its default thread count (float_exec.run, calibration) and
inside qsim.train.workers.single_blas() (the training loops). float32, random inputs; both
candidates' outputs are checked to agree first. The machine is shared: the min of --repeats is
the figure to compare, the median shows the contention.
"""
import argparse
import os
import statistics
import sys
import time
from contextlib import nullcontext

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from qsim.ops import out_dim  # noqa: E402
from qsim.train.conv2d import conv_forward  # noqa: E402
from qsim.train.workers import single_blas  # noqa: E402

# (net, layer, input HWC, ch_out, kernel, stride, pad)
SHAPES = [
    ("kws", "conv1", (49, 10, 1), 28, (10, 4), (1, 1), (0, 0)),
    ("kws", "conv2", (40, 7, 28), 30, (10, 4), (2, 1), (0, 0)),
    ("cifar10", "conv1", (32, 32, 3), 32, (5, 5), (1, 1), (2, 2)),
    ("cifar10", "conv2", (16, 16, 32), 16, (5, 5), (1, 1), (2, 2)),
    ("cifar10", "conv3", (8, 8, 16), 32, (5, 5), (1, 1), (2, 2)),
    ("ds_cnn", "conv1", (32, 32, 1), 32, (5, 5), (2, 2), (2, 2)),
    ("ds_cnn", "pw1", (16, 16, 32), 32, (1, 1), (1, 1), (0, 0)),
]

_CHUNK_BYTES = 64 << 20


def _im2col(xp, ky, kx, sy, sx, ho, wo):
    cols = np.empty((xp.shape[0], ho, wo, ky, kx, xp.shape[3]), xp.dtype)
    for i in range(ky):
        for j in range(kx):
            cols[:, :, :, i, j] = xp[:, i:i + sy * (ho - 1) + 1:sy, j:j + sx * (wo - 1) + 1:sx]
    return cols


def _conv_rows(xp, w, sy, sx, ho, wo):
    n, _, wp, ci = xp.shape
    co, ky, kx, _ = w.shape
    band = np.zeros((ky, wp, ci, wo, co), xp.dtype)
    for ox in range(wo):
        band[:, ox * sx:ox * sx + kx, :, ox, :] = w.transpose(1, 2, 3, 0)
    band = band.reshape(ky, wp * ci, wo * co)
    rows = xp.reshape(n, xp.shape[1], wp * ci)
    out = rows[:, 0:sy * (ho - 1) + 1:sy] @ band[0]
    for i in range(1, ky):
        out += rows[:, i:i + sy * (ho - 1) + 1:sy] @ band[i]
    return out.reshape(n, ho, wo, co)


def banded(x, w, b, stride, padding):
    """float_exec's former conv (before the float forward was shared with training)."""
    co, ky, kx, ci = w.shape
    (sy, sx), (py, px) = stride, padding
    xp = x if py == px == 0 else np.pad(x, ((0, 0), (py, py), (px, px), (0, 0)))
    ho = (xp.shape[1] - ky) // sy + 1
    wo = (xp.shape[2] - kx) // sx + 1
    if xp.shape[2] <= 3 * kx and kx > 1:
        return _conv_rows(xp, w, sy, sx, ho, wo) + b
    wm = w.reshape(co, ky * kx * ci).T
    n = x.shape[0]
    out = np.empty((n, ho, wo, co), x.dtype)
    step = max(1, _CHUNK_BYTES // max(1, ho * wo * ky * kx * ci * x.itemsize))
    for s in range(0, n, step):
        cols = _im2col(xp[s:s + step], ky, kx, sy, sx, ho, wo)
        out[s:s + step] = (cols.reshape(-1, ky * kx * ci) @ wm).reshape(-1, ho, wo, co)
    out += b
    return out


IMPLS = {"train": conv_forward, "banded": banded}


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--impl", nargs="+", default=list(IMPLS), choices=list(IMPLS))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"batch {args.batch}, float32, ms per call: min (median) of {args.repeats}")
    head = "".join(f"{f'{i} {m}':>22}" for m in ("default", "1-blas") for i in args.impl)
    print(f"{'shape':44}{head}")
    for net, layer, shape, co, k, s, p in SHAPES:
        x = rng.standard_normal((args.batch,) + shape).astype(np.float32)
        w = (rng.standard_normal((co,) + k + shape[-1:]) * 0.1).astype(np.float32)
        b = rng.standard_normal(co).astype(np.float32)
        ref = conv_forward(x, w, b, s, p)
        cells = []
        for mode in ("default", "1-blas"):
            for name in args.impl:
                fn = IMPLS[name]
                with single_blas() if mode == "1-blas" else nullcontext():
                    np.testing.assert_allclose(fn(x, w, b, s, p), ref, rtol=1e-4, atol=1e-4)
                    lo, med = best(lambda: fn(x, w, b, s, p), args.repeats)
                cells.append(f"{lo * 1e3:9.2f} ({med * 1e3:7.2f})   ")
        ho, wo = (out_dim(*a) for a in zip(shape[:2], k, s, p))
        label = f"{net} {layer} {shape}->{(ho, wo, co)} k{k} s{s} p{p}"
        print(f"{label:44}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
