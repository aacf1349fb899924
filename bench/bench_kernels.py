"""Per-kernel throughput on the seed's KWS layer shapes: numba simulator vs kernels_ref vs real C.

    python bench/bench_kernels.py [--cmsis PATH] [--batch 1000]

Prints MAC/s per column and the ratios simulator/C and simulator/kernels_ref measured in this run,
plus numba JIT time on first use (cold cache) and start-up with a warm cache. The real C column
needs a CMSIS_5 checkout (CMSIS_PATH or --cmsis); it is the REF build at -O3, called one image at a time
from a C loop (bench/c_loop.py), as a device would.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

# (label, C function, args builder, MACs per item)
def kws_layers(rng):
    q7 = lambda *s: rng.integers(-128, 128, size=s).astype(np.int8)
    return [
        ("conv1 49x10x1 k10x4 ->28", "arm_convolve_HWC_q7_basic_nonsquare",
         lambda n: (q7(n, 49, 10, 1), 10, 49, 1, q7(28, 10, 4, 1), 28, 4, 10, 0, 0, 1, 1,
                    q7(28), 0, 7, 7, 40), 40 * 7 * 28 * 40),
        ("conv2 40x7x28 k10x4 s(2,1) ->30", "arm_convolve_HWC_q7_fast_nonsquare",
         lambda n: (q7(n, 40, 7, 28), 7, 40, 28, q7(30, 10, 4, 28), 30, 4, 10, 0, 0, 1, 2,
                    q7(30), 0, 9, 4, 16), 16 * 4 * 30 * 10 * 4 * 28),
        ("fc 1920->58", "arm_fully_connected_q7",
         lambda n: (q7(n, 1920), q7(58, 1920), 1920, 58, 0, 7, q7(58)), 1920 * 58),
        ("fc 58->128", "arm_fully_connected_q7",
         lambda n: (q7(n, 58), q7(128, 58), 58, 128, 0, 7, q7(128)), 58 * 128),
        ("fc 128->3", "arm_fully_connected_q7",
         lambda n: (q7(n, 128), q7(3, 128), 128, 3, 0, 7, q7(3)), 128 * 3),
    ]


def best_time(fn, repeat=7):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def jit_times():
    """Seconds for import + first call with an empty numba cache, then with the warm cache."""
    code = ("import time,numpy as np;t=time.perf_counter();from qsim.kernels import KERNELS;"
            "KERNELS['arm_fully_connected_q7'](np.zeros((1,8),np.int8),np.zeros((2,8),np.int8),8,2,0,1,"
            "np.zeros(2,np.int8),path='ref',release='5.9.0');print(time.perf_counter()-t)")
    out = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                               cwd=os.path.join(os.path.dirname(__file__), ".."), check=True)
            out.append(float(r.stdout.strip()))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cmsis", default=os.environ.get("CMSIS_PATH"))
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--ref-batch", type=int, default=2, help="items for the slow kernels_ref column")
    args = ap.parse_args()

    from kernels_ref import KERNELS_REF
    from qsim.kernels import KERNELS

    lib = None
    if args.cmsis:
        from cmsis_nn.locate import find_cmsis
        from harness.cmsis_call import CmsisLibrary

        from c_loop import CLoop
        checkout = find_cmsis(args.cmsis)
        lib = CLoop(CmsisLibrary(checkout, path="ref", opt="-O3").build)
        print(f"real C: CMSIS_5 {checkout.version} REF build -O3")
    opt = dict(path="ref", release=checkout.version if lib else "5.9.0")   # the REF build timed
    rng = np.random.default_rng(0)
    print(f"batch {args.batch}; MAC/s (higher is better)")
    print(f"{'layer':34s} {'simulator':>12s} {'kernels_ref':>12s} {'real C':>12s} {'sim/C':>7s} {'sim/ref':>8s}")
    for label, fn, make, macs in kws_layers(rng):
        a = make(args.batch)
        KERNELS[fn](*make(2), **opt)  # compile outside the timing
        t_sim = best_time(lambda: KERNELS[fn](*a, **opt))
        a_ref = make(args.ref_batch)
        t_ref = best_time(lambda: KERNELS_REF[fn](*a_ref, **opt), repeat=1) * args.batch / args.ref_batch
        t_c = lib.time(fn, a) if lib else float("nan")
        m = macs * args.batch
        print(f"{label:34s} {m / t_sim:12.3e} {m / t_ref:12.3e} {m / t_c:12.3e} "
              f"{t_c / t_sim:7.1f} {t_ref / t_sim:8.0f}")
    cold, warm = jit_times()
    print(f"import + first call: cold numba cache {cold:.2f} s, warm cache {warm:.2f} s")


if __name__ == "__main__":
    main()
