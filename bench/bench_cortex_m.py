"""Whole-network parity + per-layer instruction counts + footprint on Cortex-M under QEMU.

    python bench/bench_cortex_m.py NET SCHEME CMSIS_DIR TARGET N_INPUTS
    e.g. python bench/bench_cortex_m.py kws q7 ~/cmsis-5.9.0 cortex-m4 100

NET is kws (the seed's network) or cifar (CMSIS-NN's CIFAR-10 example topology: max pools 3x3
stride 2 without padding, the last window cut at the edge as CMSIS's own example does: 32 -> 16 ->
8 -> 4). Random weights, calibrated on 32 N(0,1) inputs; what is measured is
parity and executed instructions, not accuracy. Prints the per-layer table and the footprint.
"""
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cmsis_nn.locate import find_cmsis  # noqa: E402
from harness.parity import random_inputs, run_network_parity  # noqa: E402
from qsim.calibrate import calibrate  # noqa: E402
from qsim.errors import QsimError  # noqa: E402
from qsim.importers.spec import CIFAR10_SPEC, KWS_SPEC, Sequential  # noqa: E402
from qsim.quantize import quantize  # noqa: E402

SPECS = {"kws": KWS_SPEC, "cifar": CIFAR10_SPEC}


def quantized(spec, scheme, version, path):
    g = Sequential.from_dict(spec).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (32,) + tuple(spec["input_shape"])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize(g, calibrate(g, x), scheme=scheme, version=version, path=path)


def main():
    net, scheme, cmsis_dir, target, n = sys.argv[1:6]
    checkout = find_cmsis(os.path.expanduser(cmsis_dir))
    path = {"cortex-m4": "dsp", "cortex-m3": "ref"}[target]
    print(f"=== {net} {scheme} CMSIS_5 {checkout.version} {target} ({path} path), {n} inputs", flush=True)
    try:
        g = quantized(SPECS[net], scheme, checkout.version, path)
    except QsimError as e:
        print(f"refused: {e}")
        return
    t = time.time()
    r = run_network_parity(g, random_inputs(g, int(n), seed=7), target=target, cmsis=checkout,
                           timeout=1200)
    print("\n".join(r.lines()))
    print(f"wall {time.time() - t:.1f} s")


if __name__ == "__main__":
    main()
