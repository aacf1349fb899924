"""How much of the time `simulate` leaves the GIL free (issue 16: in-process thread scaling).

    python bench/gil_probe.py [--net kws|ds_cnn|cifar] [--scheme q7 q15] [--n 1024] [--seconds 3]
                              [--repeat 3]

A pure-Python counter thread counts as fast as it can while the main thread (numba kernels
single-threaded, as in a simulate worker) does one of:
    idle     sleeps
    control  calls a numba loop compiled with nogil=True (a few ms per call, like a layer), in a
             loop: the CPU contention of one busy thread that never holds the GIL
    simulate calls simulate(q, x[:n]) in a loop
and the counter's rate in each case is printed, rounds alternated, best of --repeat.
GIL free = rate(simulate) / rate(control): the share of simulate's time another Python thread
could run (1.0: simulate never holds the GIL). Dividing by the control rather than the idle
rate cancels the CPU contention of the main thread's work on a shared or loaded machine; on an
idle machine with a free core both are close. A thread that holds the GIL a fraction h of its
time lets two of them run at most about 1 / max(h, 0.5) times faster than one.
"""
import argparse
import os
import sys
import threading
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numba  # noqa: E402
from numba import njit  # noqa: E402

from bench_network import digit_inputs, load_model, mfcc_inputs  # noqa: E402
from qsim import calibrate, quantize, simulate  # noqa: E402


@njit(nogil=True, cache=True)
def _spin(n):
    """A busy numba loop that never holds the GIL (float recurrence LLVM cannot fold)."""
    v = 0.5
    for _ in range(n):
        v = v * 0.999999 + 0.25
    return v


def counter_rate(work, seconds):
    """(counter increments per second while `work()` runs in a loop (None: sleep), work calls)."""
    state = {"stop": False, "n": 0}

    def count():
        n = 0
        while not state["stop"]:
            n += 1
        state["n"] = n

    th = threading.Thread(target=count)
    t0 = time.perf_counter()
    th.start()
    calls = 0
    while time.perf_counter() - t0 < seconds:
        if work is None:
            time.sleep(0.01)
        else:
            work()
            calls += 1
    state["stop"] = True
    th.join()
    return state["n"] / (time.perf_counter() - t0), calls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", default="kws", choices=("kws", "ds_cnn", "cifar"))
    ap.add_argument("--scheme", nargs="+", default=["q7", "q15"])
    ap.add_argument("--n", type=int, default=1024, help="items per simulate call")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one measurement")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    graph, _ = load_model(None, 0, args.net)
    rng = np.random.default_rng(0)
    x = (mfcc_inputs(rng, max(args.n, 2048)) if args.net == "kws" else
         digit_inputs(rng, max(args.n, 2048), graph.tensors[graph.inputs[0]].shape))
    cal = calibrate(graph, x[:2048])
    _spin(10)
    t = time.perf_counter()
    _spin(1_000_000)
    spin_n = int(1_000_000 * 0.004 / max(time.perf_counter() - t, 1e-6))    # ~4 ms per call
    sys.setswitchinterval(0.0005)           # the GIL changes hands quickly (as the coordinator's probe)
    numba.set_num_threads(1)                # kernels single-threaded, as in a simulate worker
    print(f"net {args.net}, {args.n} items per simulate call, {args.seconds:g} s per measurement, "
          f"best of {args.repeat}; load average {os.getloadavg()[0]:.2f}")
    for scheme in args.scheme:
        q = quantize(graph, cal, scheme=scheme)
        simulate(q, x[:args.n])
        best = {"idle": 0.0, "control": 0.0, "simulate": 0.0}
        calls = 0
        for _ in range(args.repeat):
            best["idle"] = max(best["idle"], counter_rate(None, args.seconds)[0])
            best["control"] = max(best["control"], counter_rate(lambda: _spin(spin_n), args.seconds)[0])
            r, c = counter_rate(lambda: simulate(q, x[:args.n]), args.seconds)
            if r > best["simulate"]:
                best["simulate"], calls = r, c
        print(f"{scheme}: counter idle {best['idle']:,.0f}/s, control {best['control']:,.0f}/s, "
              f"simulate {best['simulate']:,.0f}/s ({calls} calls) -> GIL free "
              f"{best['simulate'] / best['control']:.2f} (vs idle {best['simulate'] / best['idle']:.2f})")


if __name__ == "__main__":
    main()
