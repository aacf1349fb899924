"""How much of the time `simulate` leaves the GIL free (issue 16: in-process thread scaling).

    python bench/gil_probe.py [--net kws|ds_cnn|cifar] [--scheme q7 q15] [--n 1024] [--seconds 3]
                              [--repeat 3]

A pure-Python counter thread counts as fast as it can while the main thread (numba kernels
single-threaded, as in a simulate worker) does one of:
    idle     sleeps
    control  calls a numba loop compiled with nogil=True (a few ms per call, like a layer), in a
             loop: the CPU contention of one busy thread that never holds the GIL
    simulate calls simulate(q, x[:n]) in a loop
with the rounds alternated, best of --repeat; simulate/idle is the share of simulate's time it
leaves the GIL to other threads, on an idle machine with a core free for the counter. On a
loaded machine the rates mostly measure CPU contention (control/idle shows how much), so the
probe also accounts for the GIL directly: every numba function compiled with nogil=True that
qsim.simulate and qsim.kernels.* call through a module global is wrapped in a timer
(`NogilClock`), and "GIL held" = 1 - (time inside them) / (simulate's wall time), over as many
calls as the counter run made, median of --repeat. Both parts of simulate's time stretch alike
under load, so that fraction is the figure to compare across commits on a shared machine.
A thread that holds the GIL a fraction h of its time lets two such threads run at most about
min(2, 1 / h) times faster than one.
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

from bench_network import load_model, net_inputs  # noqa: E402
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


class NogilClock:
    """Seconds spent inside numba functions compiled with nogil=True, over every Dispatcher
    bound to a global of qsim.simulate and qsim.kernels.* (each replaced by a timing wrapper
    while in use; the dispatch itself, a few microseconds holding the GIL, is counted too)."""

    def __init__(self):
        self.seconds = 0.0
        self.saved = []

    def __enter__(self):
        from numba.core.registry import CPUDispatcher
        mods = [m for name, m in sys.modules.items()
                if m is not None and (name == "qsim.simulate" or name.startswith("qsim.kernels"))]
        for mod in mods:
            for name, fn in list(vars(mod).items()):
                if isinstance(fn, CPUDispatcher) and fn.targetoptions.get("nogil"):
                    self.saved.append((mod, name, fn))
                    setattr(mod, name, self._timed(fn))
        return self

    def _timed(self, fn):
        def call(*a):
            t = time.perf_counter()
            try:
                return fn(*a)
            finally:
                self.seconds += time.perf_counter() - t
        return call

    def __exit__(self, *exc):
        for mod, name, fn in self.saved:
            setattr(mod, name, fn)


def held_fraction(work, calls):
    """1 - (time in nogil numba functions) / (wall time) over `calls` calls of work()."""
    with NogilClock() as clock:
        t0 = time.perf_counter()
        for _ in range(calls):
            work()
        wall = time.perf_counter() - t0
    return 1 - clock.seconds / wall


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
    x = net_inputs(rng, args.net, graph, max(args.n, 2048))
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
        held = []
        calls = 0
        for _ in range(args.repeat):
            best["idle"] = max(best["idle"], counter_rate(None, args.seconds)[0])
            best["control"] = max(best["control"], counter_rate(lambda: _spin(spin_n), args.seconds)[0])
            r, c = counter_rate(lambda: simulate(q, x[:args.n]), args.seconds)
            if r > best["simulate"]:
                best["simulate"], calls = r, c
            held.append(held_fraction(lambda: simulate(q, x[:args.n]), max(c, 1)))
        print(f"{scheme}: GIL held {np.median(held):.1%} of simulate's time (median; time outside "
              f"nogil numba functions) -> GIL free {1 - np.median(held):.2f}\n"
              f"    counter idle {best['idle']:,.0f}/s, control {best['control']:,.0f}/s, simulate "
              f"{best['simulate']:,.0f}/s ({calls} calls): simulate/idle {best['simulate'] / best['idle']:.2f}, "
              f"simulate/control {best['simulate'] / best['control']:.2f}")

if __name__ == "__main__":
    main()
