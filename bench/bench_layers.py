"""Per-layer time of the bit-exact simulator: each node's kernel call on one batch, 1 thread.

    python bench/bench_layers.py [--net kws|cifar|ds_cnn] [--batch 104] [--scheme q7 q15] [--repeat 20]

Runs the network node by node the way qsim.simulate runs one chunk (in-place relu where simulate
does it; --batch 104 is simulate's chunk on the KWS net), with numba at 1 thread, and prints the
best of --repeat per node and the implied inferences/s of the kernels alone (no chunking,
threads or input quantization). Random He weights (seed 0), inputs as bench_network.py.
"""
import argparse
import importlib
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import numba  # noqa: E402
from bench_network import SPECS, load_model, machine_info, net_inputs  # noqa: E402

from qsim.calibrate import calibrate  # noqa: E402
from qsim.kernels import KERNELS  # noqa: E402
from qsim.quantize import quantize  # noqa: E402

S = importlib.import_module("qsim.simulate")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", choices=sorted(SPECS), default="kws")
    ap.add_argument("--batch", type=int, default=104)
    ap.add_argument("--scheme", nargs="+", default=["q7", "q15"])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    print("\n".join(machine_info()))
    warnings.simplefilter("ignore")
    g, _ = load_model(None, 0, args.net)
    rng = np.random.default_rng(0)
    n = max(args.batch, 1024)
    x = net_inputs(rng, args.net, g, n)
    cal = calibrate(g, x)
    numba.set_num_threads(1)
    for scheme in args.scheme:
        try:
            q = quantize(g, cal, scheme=scheme)
        except Exception as e:                         # e.g. a layer legacy CMSIS-NN lacks
            print(f"{args.net} {scheme}: not timed: {e}")
            continue
        S.simulate(q, x[:8])
        plan = S._plan(q)
        xi = S.input_ints(q, x[:args.batch])
        if plan.pad:
            xi = np.pad(xi, ((0, 0),) * (xi.ndim - 1) + ((0, plan.pad),))
        in_place = plan.relu_in_place(list(q.outputs))
        times = {}
        for _ in range(args.repeat):
            env = {plan.src: xi.copy()}
            for node, call in plan.calls:
                x_in = env[node.input]
                t0 = time.perf_counter()
                if node.name in in_place:
                    S._relu_flat(x_in.reshape(-1))
                    y = x_in
                elif call is None:
                    y = S.data_move(node, x_in, plan.shapes[node.output])
                elif call.companion:
                    y = S._companion(call, env, len(xi), plan.shapes, plan.truncate)
                else:
                    y = KERNELS[call.c_name](**{call.in_arg: call.kernel_input(x_in)}, **call.args,
                                             **plan.opts)
                    y = y.reshape((len(xi),) + plan.shapes[node.output])
                dt = time.perf_counter() - t0
                env[node.output] = y
                key = f"{node.name} {call.c_name if call else '(data move)'}"
                times[key] = min(times.get(key, 1e9), dt)
        total = sum(times.values())
        print(f"\n{args.net} {scheme}, batch {args.batch}, 1 thread, best of {args.repeat}: "
              f"{total * 1e3:.2f} ms -> {args.batch / total:,.0f} inferences/s (kernels only)")
        for k, v in times.items():
            print(f"  {k:58s}{v * 1e3:9.3f} ms {100 * v / total:6.1f}%")
    print(f"load avg at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
