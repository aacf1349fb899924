"""Before / after of the simulator in one process: an older commit's qsim next to this tree's.

    python bench/ab_simulate.py [--base a2f5317] [--net kws] [--scheme q7 q15] [--n 4096] [--repeat 3]

The `qsim/` folder of --base is extracted with `git archive` into a temporary directory and
imported as `qsim_base` (the simulate path uses relative imports only), both build the same
random He net (seed 0), calibrate and quantize it, and then: the outputs of both on all --n
items are compared (they must be identical: the simulator is bit-exact), and each engine is
timed at 1 and 2 threads with the engines alternated within every round (best of --repeat,
batches of 1024), plus inferences per CPU-second and batch-1 latency (200 calls, alternated).
On a shared machine read the 1-thread and per-CPU-second columns.
"""
import argparse
import importlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import numba  # noqa: E402
from bench_network import SPECS, machine_info, net_inputs  # noqa: E402


def extract_base(ref, dest):
    blob = subprocess.run(["git", "-C", ROOT, "archive", ref, "qsim"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    os.rename(os.path.join(dest, "qsim"), os.path.join(dest, "qsim_base"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="a2f5317", help="git commit of the 'before' code")
    ap.add_argument("--net", choices=sorted(SPECS), default="kws")
    ap.add_argument("--scheme", nargs="+", default=["q7"])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print("\n".join(machine_info()))
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="ab_simulate_") as tmp:
        extract_base(args.base, tmp)
        sys.path.insert(0, tmp)
        engines = {}
        rng = np.random.default_rng(0)
        x = None
        for pkg, label in (("qsim_base", f"before ({args.base})"), ("qsim", "after")):
            spec = importlib.import_module(pkg + ".importers.spec")
            g = spec.Sequential.from_dict(SPECS[args.net]).build(seed=0)
            if x is None:
                x = net_inputs(rng, args.net, g, args.n)
            cal = importlib.import_module(pkg + ".calibrate").calibrate(g, x[:1024])
            quantize = importlib.import_module(pkg + ".quantize").quantize
            simulate = importlib.import_module(pkg + ".simulate").simulate
            for s in args.scheme:
                q = quantize(g, cal, scheme=s)
                simulate(q, x[:8])
                engines[f"{label} {s}"] = (simulate, q)
        for s in args.scheme:
            outs = [fn(q, x) for name, (fn, q) in engines.items() if name.endswith(" " + s)]
            print(f"{args.net} {s}: before and after identical on {args.n} items: "
                  f"{np.array_equal(outs[0], outs[1])}")
        best = {}
        for _ in range(args.repeat):
            for th in (1, 2):
                numba.set_num_threads(th)
                for name, (fn, q) in engines.items():
                    c0, t0 = time.process_time(), time.perf_counter()
                    for i in range(0, args.n, 1024):
                        fn(q, x[i:i + 1024])
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    w, c = best.get((name, th), (1e9, 1e9))
                    best[(name, th)] = (min(w, wall), min(c, cpu))
        numba.set_num_threads(2)
        lat = {name: [] for name in engines}
        for i in range(200):
            for name, (fn, q) in engines.items():
                t0 = time.perf_counter()
                fn(q, x[i % args.n:i % args.n + 1])
                lat[name].append(time.perf_counter() - t0)
    print(f"\n{args.net}, inferences/s, best of {args.repeat}; load avg at end "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("| engine | 1 thread | 2 threads | per CPU-s (1 thr) | 2 thr / 1 thr | batch-1 best / median ms |")
    print("|---|---|---|---|---|---|")
    for name in engines:
        (w1, c1), (w2, _) = best[(name, 1)], best[(name, 2)]
        print(f"| {name} | {args.n / w1:,.0f} | {args.n / w2:,.0f} | {args.n / c1:,.0f} | "
              f"{w1 / w2:.2f} | {min(lat[name]) * 1e3:.2f} / {np.median(lat[name]) * 1e3:.2f} |")


if __name__ == "__main__":
    main()
