"""Fit qsim's instruction cost model (qsim/costmodel.py) from QEMU runs of single kernel calls.

    python bench/fit_cost_model.py --cmsis ~/cmsis-5.9.0 --cmsis ~/cmsis-5.7.0 [--cases 64]
        [--target cortex-m4 --target cortex-m3] [--only FUNCTION ...] [-o qsim/data/costmodel.json]
    python bench/fit_cost_model.py --report      # the stored fit quality as a markdown table

For each CMSIS checkout (its release) and each target (cortex-m4: DSP path, cortex-m3: REF path),
every legacy CMSIS-NN function, every qsim companion kernel and the generated code's own moves
("layer" overhead, "memcpy", "transpose_hw", "widen_input") is run alone under QEMU
(harness/kernel_cost.py) on --cases random argument sets of the sizes small CMSIS-NN networks use
(images up to ~50 pixels a side, 1..64 channels, kernels 1..10, strides 1..3, legal for the path
per qsim.constraints), with random data. A non-negative least-squares fit on relative error (relative to count + 200) over
the function's loop counts (qsim.costmodel.features) gives its coefficients; a quarter of the cases
is held out first to report the error on cases the fit did not see, then the fit is redone on all.
The companion kernels and the moves do not depend on the release: they are measured once per
target and stored under each release. Only numbers are written (no CMSIS code), merged into the
output file (other releases/targets kept). Prints one line per function: cases, in-sample and
held-out mean / max relative error.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from scipy.optimize import nnls

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cmsis_nn.locate import find_cmsis  # noqa: E402
from harness.kernel_cost import MAX_CASES, measure  # noqa: E402
from qsim.cmsis_signatures import SIGNATURES  # noqa: E402
from qsim.companion_signatures import COMPANION_SIGNATURES  # noqa: E402
from qsim.constraints import REFUSED, constraints  # noqa: E402
from qsim.costmodel import DATA_FILE, PSEUDO, TARGET_PATH, features  # noqa: E402
from qsim.ops import ConvGeometry  # noqa: E402

MAX_MACS = 1_500_000          # keeps one program's QEMU run to seconds
MAX_BYTES = 200_000           # per buffer
SOFT = 200                    # the fit weighs errors relative to (instructions + SOFT): a few
                              # instructions more or less on a 50-instruction call do not matter


def _axis(rng, lo, hi, kmax, smax=2):
    d = int(rng.integers(lo, hi + 1))
    k = int(rng.integers(1, min(kmax, d) + 1))
    s = int(rng.integers(1, smax + 1)) if rng.random() < 0.5 else 1
    p = int(rng.integers(0, k // 2 + 1)) if rng.random() < 0.6 else 0
    o = (d + 2 * p - k) // s + 1
    return d, k, p, s, o


def _ch(rng, lo=1, hi=64, mult=1):
    c = int(rng.integers(lo, hi + 1))
    return max(mult, c // mult * mult) if rng.random() < 0.8 else c


def _window(fn, rng, path, release):
    """Scalar args of a legal, realistic call of a window function (conv, depthwise, pool)."""
    square = fn in SIGNATURES and SIGNATURES[fn].square
    pool = "pool" in fn
    q15 = "q15" in fn
    for _ in range(1000):
        if square:
            y = x = _axis(rng, 2, 32, 5 if not pool else 3)
        else:
            y, x = _axis(rng, 1, 50, 10), _axis(rng, 1, 24, 5)
        mult = 4 if "q7_fast" in fn or "1x1" in fn else 2
        if fn.endswith("RGB"):
            cin = 3
        elif not ("depthwise" in fn or pool) and rng.random() < 0.25:
            # first layers: 1..3 input channels (MFCC, RGB)
            cin = int(rng.integers(1, 4))
        else:
            cin = _ch(rng, 1, 64, mult)
        cout = cin if ("depthwise" in fn or pool) else _ch(rng, 1, 64, 2)
        if "1x1" in fn:
            y, x = (y[0], 1, 0, 1, y[0]), (x[0], 1, 0, 1, x[0])
        (dy, ky, py, sy, oy), (dx, kx, px, sx, ox) = y, x
        a = {}
        if square:
            a.update(dim_im_in=dy, ch_im_in=cin, dim_kernel=ky, padding=py, stride=sy, dim_im_out=oy)
        else:
            a.update(dim_im_in_x=dx, dim_im_in_y=dy, ch_im_in=cin, dim_kernel_x=kx, dim_kernel_y=ky,
                     padding_x=px, padding_y=py, stride_x=sx, stride_y=sy, dim_im_out_x=ox,
                     dim_im_out_y=oy)
        if not pool:
            col = kx * ky * cin
            a.update(ch_im_out=cout, bias_shift=int(rng.integers(0, 4)),
                     out_shift=int(min(31, (7 if not q15 else 15) + np.log2(max(col, 1)) / 2 + 1)))
        elif fn.startswith("qsim_avepool"):
            a.update(count_include_pad=int(rng.integers(0, 2)), rounding=int(rng.integers(0, 2)),
                     out_lshift=int(rng.integers(0, 2)))
        f = features(fn, a)
        macs = f["MAC"] if not pool else f["KP_cin"]
        if macs > MAX_MACS or dy * dx * max(cin, cout) * 2 > MAX_BYTES or oy < 1 or ox < 1:
            continue
        if fn in SIGNATURES:
            reasons = constraints(fn, ConvGeometry.from_args(a), path, release)
            if any(r.kind in REFUSED or r.kind == "form" for r in reasons):
                continue
        return a
    raise RuntimeError(f"no legal case for {fn}")


def case(fn, rng, path, release):
    """Scalar args of one random call of `fn` (a C function or a pseudo-function)."""
    r = lambda lo, hi: int(rng.integers(lo, hi + 1))
    size = lambda: r(1, 64) if rng.random() < 0.3 else r(64, 12000)
    if fn.startswith(("arm_convolve", "arm_depthwise", "qsim_depthwise")) or "pool_q" in fn and \
            not fn.startswith("qsim_global"):
        return _window(fn, rng, path, release)
    if fn.startswith("arm_fully_connected"):
        while True:
            d, rows = (r(1, 64) if rng.random() < 0.3 else r(64, 2048)), r(1, 128)
            if d * rows <= 120_000:
                return dict(dim_vec=d, num_of_rows=rows, bias_shift=r(0, 3),
                            out_shift=int(min(31, (7 if fn == "arm_fully_connected_q7" or
                                                   fn == "arm_fully_connected_q7_opt" else 15)
                                              + np.log2(d) / 2)))
    if fn.startswith("qsim_global_avepool"):
        return dict(dim_im_in_x=r(1, 16), dim_im_in_y=r(1, 16), ch_im_in=r(1, 64), out_lshift=r(0, 2))
    if fn.startswith("qsim_concat"):
        ch = r(1, 64)
        off = r(0, 32)
        return dict(num_pixels=r(1, 600), ch_im_in=ch, ch_im_out=ch + off + r(0, 32), ch_offset=off)
    if fn == "arm_softmax_with_batch_q7":
        return dict(nb_batches=r(1, 60), dim_vec=r(1, 64))
    if fn.startswith("arm_softmax"):
        return dict(dim_vec=r(1, 20) if rng.random() < 0.5 else r(20, 1000))
    if fn.startswith("arm_nn_activations"):
        return dict(size=size(), int_width=r(0, 3), type=r(0, 1))
    if fn.startswith("qsim_add"):
        return dict(lshift_a=r(0, 3), lshift_b=r(0, 3), out_shift=r(0, 4), block_size=size())
    if fn.startswith("qsim_clip"):
        hi = 127 if fn.endswith("q7") else 32767
        return dict(size=size(), min_val=r(0, 10), max_val=r(hi // 4, hi))
    if fn.startswith("qsim_requantize"):
        shift = r(0, 8)
        up = rng.random() < 0.5
        return dict(lshift=shift if up else 0, rshift=0 if up else shift, block_size=size())
    if fn.startswith("arm_nn_mult"):
        return dict(out_shift=r(0, 8), blockSize=size())
    if fn in ("arm_relu_q7", "arm_relu_q15"):
        return dict(size=size())
    if fn in ("arm_nn_add_q7", "arm_nn_accumulate_q7_to_q15"):
        return dict(block_size=size())
    if fn == "arm_q7_to_q15_no_shift":
        return dict(blockSize=size())
    if fn == "layer":
        return {}
    if fn == "memcpy":
        return dict(nbytes=size() * r(1, 2))
    if fn == "transpose_hw":
        return dict(h=r(1, 50), w=r(1, 20), c=r(1, 64), bytes=r(1, 2))
    if fn == "widen_input":
        ch = r(1, 8)
        return dict(pixels=r(1, 1024), ch=ch, stored=ch + r(1, 4), bytes=r(1, 2))
    raise KeyError(fn)


def fit(fn, cases, counts, rng):
    """(feature names, coefficients, quality dict): NNLS on relative error, 25% held out first."""
    names = [k for k in features(fn, cases[0][1])]
    X = np.array([[features(fn, a)[k] for k in names] for _, a in cases], float)
    y = np.asarray(counts, float)
    keep = X.std(axis=0) > 0
    keep[names.index("one")] = True
    names = [n for n, k in zip(names, keep) if k]
    X = X[:, keep]

    w = 1.0 / (y + SOFT)

    def solve(idx):
        A = X[idx] * w[idx, None]
        scale = np.maximum(np.abs(A).max(axis=0), 1e-12)
        c, _ = nnls(A / scale, y[idx] * w[idx], maxiter=50 * A.shape[1] + 1000)
        return c / scale

    rel = lambda c, idx: np.abs(X[idx] @ c - y[idx]) / y[idx]
    n = len(y)
    order = rng.permutation(n)
    hold, train = order[: n // 4], order[n // 4:]
    quality = {"cases": n}
    if len(hold) and len(train) > len(names) // 2:
        c = solve(train)
        e = rel(c, hold)
        quality.update(holdout_mean_rel=float(e.mean()), holdout_max_rel=float(e.max()))
    c = solve(np.arange(n))
    e = rel(c, np.arange(n))
    quality.update(mean_rel=float(e.mean()), max_rel=float(e.max()),
                   min_insns=int(y.min()), max_insns=int(y.max()))
    used = c > 0
    return [n for n, u in zip(names, used) if u], [float(v) for v in c[used]], quality


def functions(only):
    fns = list(SIGNATURES) + list(COMPANION_SIGNATURES) + list(PSEUDO)
    return [f for f in fns if not only or f in only]


def run(checkout, target, fns, n_cases, seed, cache):
    """{fn: (cases, counts)} measured on `target` (companion/pseudo results reused via `cache`)."""
    path = TARGET_PATH[target]
    out = {}
    for fn in fns:
        release_free = fn not in SIGNATURES
        key = (target, fn)
        if release_free and key in cache:
            out[fn] = cache[key]
            continue
        rng = np.random.default_rng([seed, sum(map(ord, fn)), len(fn)])
        cases = [(fn, case(fn, rng, path, checkout.version)) for _ in range(n_cases)]
        counts = []
        for i in range(0, len(cases), MAX_CASES):
            counts += measure(cases[i:i + MAX_CASES], target, checkout)
        out[fn] = (cases, counts)
        if release_free:
            cache[key] = out[fn]
    return out


def report(path):
    """Markdown table of the stored fit quality: held-out mean / max relative error per function
    and (release, target)."""
    models = json.loads(open(path).read())["models"]
    cols = [(r, t) for r in sorted(models) for t in sorted(models[r])]
    print("| function | " + " | ".join(f"{r} {t}" for r, t in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    fns = sorted({f for r, t in cols for f in models[r][t]},
                 key=lambda f: (f in PSEUDO, not f.startswith("arm_"), f))
    for fn in fns:
        cells = []
        for r, t in cols:
            q = models[r][t].get(fn, {}).get("fit", {})
            cells.append(f"{100 * q['holdout_mean_rel']:.2f} / {100 * q['holdout_max_rel']:.1f}"
                         if "holdout_mean_rel" in q else "-")
        print(f"| {fn} | " + " | ".join(cells) + " |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cmsis", action="append", help="CMSIS_5 checkout (repeat)")
    ap.add_argument("--report", action="store_true",
                    help="print the stored fit quality as a markdown table and exit")
    ap.add_argument("--target", action="append", choices=sorted(TARGET_PATH))
    ap.add_argument("--only", nargs="*", help="fit only these functions (others kept)")
    ap.add_argument("--cases", type=int, default=64, help="random calls per function (default 64)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", default=str(DATA_FILE))
    args = ap.parse_args(argv)
    if args.report:
        return report(args.output)
    if not args.cmsis:
        ap.error("--cmsis is required (a CMSIS_5 checkout; repeat for several releases)")
    targets = args.target or ["cortex-m4", "cortex-m3"]
    try:
        doc = json.loads(open(args.output).read())
    except (OSError, ValueError):
        doc = {}
    doc.setdefault("models", {})
    doc["about"] = ("qsim instruction cost model: per (CMSIS release, target, C function) a linear "
                    "model coef . features(args) of QEMU-counted instructions; fitted by "
                    "bench/fit_cost_model.py from single-call runs (harness/kernel_cost.py). "
                    "Numbers only.")
    cache = {}
    fns = functions(args.only)
    for path in args.cmsis:
        checkout = find_cmsis(os.path.expanduser(path))
        for target in targets:
            t = time.time()
            data = run(checkout, target, fns, args.cases, args.seed, cache)
            table = doc["models"].setdefault(checkout.version, {}).setdefault(target, {})
            print(f"== CMSIS {checkout.version} {target} ({TARGET_PATH[target]} path): "
                  f"{len(fns)} functions measured in {time.time() - t:.0f} s", flush=True)
            print(f"{'function':44} {'cases':>5} {'mean%':>6} {'max%':>6} {'hold mean%':>10} "
                  f"{'hold max%':>9} {'insns range':>20}")
            for fn, (cases, counts) in data.items():
                names, coef, q = fit(fn, cases, counts, np.random.default_rng(args.seed))
                table[fn] = {"features": names, "coef": coef, "fit": q}
                print(f"{fn:44} {q['cases']:5d} {100 * q['mean_rel']:6.2f} {100 * q['max_rel']:6.2f} "
                      f"{100 * q.get('holdout_mean_rel', float('nan')):10.2f} "
                      f"{100 * q.get('holdout_max_rel', float('nan')):9.2f} "
                      f"{q['min_insns']:>9}..{q['max_insns']:<10}", flush=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
