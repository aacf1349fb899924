"""Per-kernel throughput on the seed's KWS layer shapes: numba simulator vs kernels_ref vs real C.

    python bench/bench_kernels.py [--cmsis PATH] [--batch 1000]

Prints MAC/s per column and the ratios simulator/C and simulator/kernels_ref measured in this run,
plus numba JIT time on first use (cold cache) and start-up with a warm cache. The real C column
needs a CMSIS_5 checkout (CMSIS_PATH or --cmsis); it is the REF build at -O3, called one image at a time
from a C loop (bench/c_loop.py), as a device would. A second table times qsim's companion kernels
against their own C (codegen/companion, gcc -O3, bench/companion_loop.py), with numba's threads
and on one thread (CPU time), plus the bytes per second they move; --companion-only prints just
that one.
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


# qsim's companion kernels (label, function, args builder, ops per item: taps x channels x outputs
# for pooling and convolution, elements for element-wise functions, bytes per item the functional
# kernel must read + write: inputs + output, concat also the output-so-far), on DS-CNN / KWS shapes.
def companion_layers(rng):
    q7 = lambda *s: rng.integers(-128, 128, size=s).astype(np.int8)
    q15 = lambda *s: rng.integers(-32768, 32768, size=s).astype(np.int16)
    return [
        ("maxpool q7 49x10x32 k2x2 s2 SAME", "qsim_maxpool_q7_HWC_nonsquare",
         lambda n: (q7(n, 49, 10, 32), 10, 49, 32, 2, 2, 0, 0, 2, 2, 5, 25), 4 * 32 * 125, 15680 + 4000),
        ("maxpool q15 49x10x32 k2x2 s2 SAME", "qsim_maxpool_q15_HWC_nonsquare",
         lambda n: (q15(n, 49, 10, 32), 10, 49, 32, 2, 2, 0, 0, 2, 2, 5, 25), 4 * 32 * 125, 2 * (15680 + 4000)),
        ("avepool q7 49x10x32 k3x3 p1", "qsim_avepool_q7_HWC_nonsquare",
         lambda n: (q7(n, 49, 10, 32), 10, 49, 32, 3, 3, 1, 1, 1, 1, 0, 0, 2, 10, 49), 9 * 32 * 490, 2 * 15680),
        ("avepool q15 49x10x32 k3x3 p1", "qsim_avepool_q15_HWC_nonsquare",
         lambda n: (q15(n, 49, 10, 32), 10, 49, 32, 3, 3, 1, 1, 1, 1, 1, 0, 2, 10, 49), 9 * 32 * 490, 4 * 15680),
        ("global avepool q7 25x5x64", "qsim_global_avepool_q7_HWC",
         lambda n: (q7(n, 25, 5, 64), 5, 25, 64, 3), 125 * 64, 8000 + 64),
        ("global avepool q15 25x5x64", "qsim_global_avepool_q15_HWC",
         lambda n: (q15(n, 25, 5, 64), 5, 25, 64, 3), 125 * 64, 2 * (8000 + 64)),
        ("add q7 25x5x64", "qsim_add_q7", lambda n: (q7(n, 8000), 1, q7(n, 8000), 0, 1, 8000), 8000, 3 * 8000),
        ("add q15 25x5x64", "qsim_add_q15", lambda n: (q15(n, 8000), 0, q15(n, 8000), 2, 3, 8000), 8000,
         6 * 8000),
        ("clip (relu6) q7 25x5x64", "qsim_clip_q7", lambda n: (q7(n, 8000), 8000, 0, 96), 8000, 2 * 8000),
        ("depthwise q15 25x5x64 k3x3 p1", "qsim_depthwise_conv_HWC_q15_nonsquare",
         lambda n: (q15(n, 25, 5, 64), 5, 25, 64, q15(3, 3, 64), 64, 3, 3, 1, 1, 1, 1, q15(64), 0, 15, 5, 25),
         9 * 64 * 125, 4 * 8000),
        ("concat q7 25x5 32 into 64", "qsim_concat_channels_q7",
         lambda n: (q7(n, 125 * 32), 125, 32, q7(n, 125 * 64), 64, 32), 125 * 32, 4000 + 2 * 8000),
    ]


def bench_companion(batch, ref_batch, repeat=7):
    """Companion kernels: numba vs kernels_ref vs qsim's own C (gcc -O3, C loop over the batch).

    Two comparisons: wall time with numba's threads (as the CMSIS table above), and CPU time on
    one thread against the C's CPU time (what the simulator's engine runs: its worker threads
    call single-threaded kernels; CPU time is also the figure a loaded machine disturbs least).
    `bytes` = what the kernel must read and write per item; GB/s = that over the 1-thread time."""
    import numba

    from kernels_ref import COMPANION_REF
    from qsim.kernels import COMPANION_KERNELS

    from companion_loop import CompanionLoop
    loop = CompanionLoop()
    rng = np.random.default_rng(1)
    threads = numba.get_num_threads()
    print(f"\nqsim companion kernels, batch {batch}; ops/s (taps x channels x outputs, or elements); "
          f"best of {repeat}")
    print(f"{'layer':34s} {'simulator':>10s} {'own C':>10s} {'sim/C':>6s}   {'1 thread':>10s} {'C (CPU)':>10s} "
          f"{'sim/C':>6s} {'GB/s':>5s}   {'kernels_ref':>11s} {'sim/ref':>7s}")
    for label, fn, make, ops, nbytes in companion_layers(rng):
        a = make(batch)
        COMPANION_KERNELS[fn](*make(2))
        t_sim = best_time(lambda: COMPANION_KERNELS[fn](*a), repeat)
        numba.set_num_threads(1)
        try:
            t_one = best_time(lambda: COMPANION_KERNELS[fn](*a), repeat, time.process_time)
        finally:
            numba.set_num_threads(threads)
        a_ref = make(ref_batch)
        t_ref = best_time(lambda: COMPANION_REF[fn](*a_ref), repeat=1) * batch / ref_batch
        t_c = loop.time(fn, a, repeat)
        t_c_cpu = loop.time(fn, a, repeat, time.process_time)
        m = ops * batch
        print(f"{label:34s} {m / t_sim:10.3e} {m / t_c:10.3e} {t_c / t_sim:6.1f}   {m / t_one:10.3e} "
              f"{m / t_c_cpu:10.3e} {t_c_cpu / t_one:6.1f} {nbytes * batch / t_one / 1e9:5.1f}   "
              f"{m / t_ref:11.3e} {t_ref / t_sim:7.0f}")
    bandwidth(repeat)


def bandwidth(repeat):
    """One thread's copy rate (numpy copyto: read + write, bytes moved / s) at the sizes above."""
    out = []
    for mb in (8, 16, 32):
        a = np.ones(mb << 20, np.int8)
        o = np.empty_like(a)
        t = best_time(lambda: np.copyto(o, a), repeat, time.process_time)
        out.append(f"{mb} MB {2 * a.nbytes / t / 1e9:.0f} GB/s")
    print("memory: one thread's np.copyto, bytes read + written per CPU-second: " + ", ".join(out))


def best_time(fn, repeat=7, clock=time.perf_counter):
    best = float("inf")
    for _ in range(repeat):
        t = clock()
        fn()
        best = min(best, clock() - t)
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
    ap.add_argument("--companion-only", action="store_true", help="only the companion kernels' rows")
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per row (the best is kept)")
    args = ap.parse_args()
    if args.companion_only:
        bench_companion(args.batch, args.ref_batch, args.repeat)
        return

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
    bench_companion(args.batch, args.ref_batch, args.repeat)


if __name__ == "__main__":
    main()
