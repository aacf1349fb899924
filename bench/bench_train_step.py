"""Float training step (forward + backward + loss), batch 256, float32, on the seed's KWS net or
the CIFAR-10 example / DS-CNN spec (--net; max pools, depthwise convs and an average pool).

    python bench/bench_train_step.py [--net kws|cifar10|ds_cnn] [--batch 256] [--repeats 20]

Prints the min and median wall time of one step and the per-layer split of the fastest step.
The machine is shared, so the min is the figure to compare; the median shows the contention.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from qsim.importers.spec import CIFAR10_SPEC, DS_CNN_SPEC, KWS_SPEC, Sequential  # noqa: E402
from qsim.train.layers import SoftmaxCrossEntropy  # noqa: E402
from qsim.train.net import Net  # noqa: E402

SPECS = {"kws": KWS_SPEC, "cifar10": CIFAR10_SPEC, "ds_cnn": DS_CNN_SPEC}


def step(net, loss, x, y):
    fwd, bwd = [], []
    t0 = time.perf_counter()
    h = x
    for node, layer in zip(net.nodes, net.layers):
        t = time.perf_counter()
        h = layer.forward(h, node.params)
        fwd.append(time.perf_counter() - t)
    loss.forward(h, y)
    g = loss.backward()
    for node, layer in zip(reversed(net.nodes), reversed(net.layers)):
        t = time.perf_counter()
        g, _ = layer.backward(g)
        bwd.append(time.perf_counter() - t)
    return time.perf_counter() - t0, fwd, bwd[::-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=sorted(SPECS), default="kws")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    spec = SPECS[args.net]
    net = Net(Sequential.from_dict(spec).build(seed=0))
    x = rng.standard_normal((args.batch,) + tuple(spec["input_shape"])).astype(np.float32)
    y = rng.integers(0, spec["layers"][-2]["rows"], args.batch)
    loss = SoftmaxCrossEntropy()
    t = time.perf_counter()
    step(net, loss, x, y)
    print(f"first step (numba JIT or cache load): {1e3 * (time.perf_counter() - t):.0f} ms")
    runs = sorted((step(net, loss, x, y) for _ in range(args.repeats)), key=lambda r: r[0])
    total, fwd, bwd = runs[0]
    print(f"{args.net}, batch {args.batch}, {os.cpu_count()} cpus: step min {1e3 * total:.1f} ms, "
          f"median {1e3 * runs[len(runs) // 2][0]:.1f} ms")
    for node, f, b in zip(net.nodes, fwd, bwd):
        print(f"  {node.name:<8} forward {1e3 * f:6.1f} ms  backward {1e3 * b:6.1f} ms")


if __name__ == "__main__":
    main()
