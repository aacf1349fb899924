"""Two threads of one process against two processes: how much of this host's second core
`simulate` gets (issue 16: 2 threads >= 1.7x 1 thread).

    python bench/scaling.py [--net kws|ds_cnn|cifar] [--scheme q7 q15] [--n 8192] [--repeat 5]

Per round, for each scheme, in this order with a pause before each:
    1 thread      simulate(q, x) in this process, numba.set_num_threads(1)
    2 threads     the same call with numba.set_num_threads(2)
    2 processes   two worker processes (spawned once, same graph and inputs, one thread each)
                  start the same call at the same instant; rate = 2 n / the later finish
The best of --repeat rounds is kept per cell. "2 processes / 1 thread" is what this host gives
two independent copies of the work (no GIL, no shared Python state, but the same cores, caches,
memory bus and clock): the ceiling for thread scaling here. "threads / processes" is how much of
that ceiling one process with two threads reaches. Benchmarks, not tests: run on a quiet machine.
"""
import argparse
import multiprocessing as mp
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numba  # noqa: E402

from bench_network import load_model, machine_info, net_inputs  # noqa: E402
from qsim import calibrate, quantize, simulate  # noqa: E402

PAUSE_S = 0.3


def setup(net, n, seed=0):
    """(graph calibration, inputs): the same in every process (seeded)."""
    graph, _ = load_model(None, seed, net)
    rng = np.random.default_rng(seed)
    x = net_inputs(rng, net, graph, n)
    return graph, calibrate(graph, x[:min(n, 2048)]), x


def worker(conn, net, schemes, n, batch):
    """Process side: build the graphs, then on (scheme, start instant) run one timed call."""
    warnings.simplefilter("ignore")
    numba.set_num_threads(1)
    graph, cal, x = setup(net, n)
    qs = {s: quantize(graph, cal, scheme=s) for s in schemes}
    for q in qs.values():
        simulate(q, x[:batch], batch_size=batch)
    conn.send("ready")
    while (msg := conn.recv()) is not None:
        scheme, start = msg
        while time.time() < start:
            time.sleep(0.0005)
        t = time.perf_counter()
        simulate(qs[scheme], x, batch_size=batch)
        conn.send(time.perf_counter() - t)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", default="kws", choices=("kws", "ds_cnn", "cifar"))
    ap.add_argument("--scheme", nargs="+", default=["q7", "q15"])
    ap.add_argument("--n", type=int, default=8192, help="items per simulate call")
    ap.add_argument("--batch", type=int, default=1024, help="simulate's batch_size")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    if numba.config.NUMBA_NUM_THREADS < 2 or (os.cpu_count() or 1) < 2:
        raise SystemExit("scaling.py needs 2 cores and NUMBA_NUM_THREADS >= 2")
    print("\n".join(machine_info()))
    warnings.simplefilter("ignore")
    graph, cal, x = setup(args.net, args.n)
    qs = {s: quantize(graph, cal, scheme=s) for s in args.scheme}
    for q in qs.values():
        simulate(q, x[:args.batch], batch_size=args.batch)

    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(2):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=worker, args=(child, args.net, args.scheme, args.n, args.batch))
        p.start()
        pipes.append(parent)
        procs.append(p)
    try:
        for c in pipes:
            if c.recv() != "ready":
                raise SystemExit("a worker process failed to start")
        best = {}
        for _ in range(args.repeat):
            for s, q in qs.items():
                for threads in (1, 2):
                    numba.set_num_threads(threads)
                    time.sleep(PAUSE_S)
                    t = time.perf_counter()
                    simulate(q, x, batch_size=args.batch)
                    sec = time.perf_counter() - t
                    best[s, threads] = max(best.get((s, threads), 0.0), len(x) / sec)
                time.sleep(PAUSE_S)
                start = time.time() + 0.05
                for c in pipes:
                    c.send((s, start))
                secs = [c.recv() for c in pipes]
                best[s, "proc"] = max(best.get((s, "proc"), 0.0), 2 * len(x) / max(secs))
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    finally:
        for c in pipes:
            c.send(None)
        for p in procs:
            p.join(10)
    table = [f"net {args.net}, {args.n} items per call, batch_size {args.batch}, best of "
             f"{args.repeat}; load average {os.getloadavg()[0]:.2f} at the end; inferences/s",
             "| scheme | 1 thread | 2 threads | 2 processes | threads scaling | processes scaling "
             "| threads / processes |", "|---|---|---|---|---|---|---|"]
    for s in qs:
        one, two, proc = best[s, 1], best[s, 2], best[s, "proc"]
        table.append(f"| {s} | {one:,.0f} | {two:,.0f} | {proc:,.0f} | {two / one:.2f}x | "
                     f"{proc / one:.2f}x | {two / proc:.2f} |")
    print("\n" + "\n".join(table))
    return "\n".join(table)

if __name__ == "__main__":
    main()
