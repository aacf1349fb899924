"""Whole-network parity + per-layer instruction counts + footprint on Cortex-M under QEMU.

    python bench/bench_cortex_m.py NET SCHEME CMSIS_DIR TARGET N_INPUTS
    e.g. python bench/bench_cortex_m.py kws q7 ~/cmsis-5.9.0 cortex-m4 100

NET is kws (the seed's network) or cifar (CMSIS-NN's CIFAR-10 example topology: max pools 3x3
stride 2 without padding, the last window cut at the edge as CMSIS's own example does: 32 -> 16 ->
8 -> 4). Random weights, calibrated on 32 N(0,1) inputs; what is measured is
parity and executed instructions, not accuracy. Prints the per-layer table and the footprint,
then where the wall time went: compiling (arm-none-eabi-gcc; the CMSIS archive is cached under
~/.cache/qsim/qemu, so a second run skips most of it), the QEMU run (start-up + all inputs in one
run, inputs and taps through binary semihosting files), the simulator, and the rest.
"""
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import harness.cortex_m as cortex_m  # noqa: E402
from cmsis_nn.locate import find_cmsis  # noqa: E402
from harness.parity import random_inputs, run_network_parity  # noqa: E402
from qsim.calibrate import calibrate  # noqa: E402
from qsim.errors import QsimError  # noqa: E402
from qsim.releases import TARGET_PATH  # noqa: E402
from qsim.importers.spec import CIFAR10_SPEC, KWS_SPEC, Sequential  # noqa: E402
from qsim.quantize import quantize  # noqa: E402

SPECS = {"kws": KWS_SPEC, "cifar": CIFAR10_SPEC}


def quantized(spec, scheme, version, path):
    g = Sequential.from_dict(spec).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (32,) + tuple(spec["input_shape"])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize(g, calibrate(g, x), scheme=scheme, version=version, path=path)


SPLIT = {}


def timing(module, name, label):
    """Wrap module.name so that its wall time is added to SPLIT[label]."""
    fn = getattr(module, name)

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPLIT[label] = SPLIT.get(label, 0.0) + time.perf_counter() - t
    setattr(module, name, timed)


def main():
    timing(cortex_m, "build_elf", "compile ELF")
    timing(cortex_m, "compile_cached", "compile objects")
    timing(cortex_m, "cmsis_target_library", "CMSIS archive")
    timing(cortex_m, "run_elf", "QEMU run")
    timing(cortex_m, "simulate", "simulate (pre-check)")
    net, scheme, cmsis_dir, target, n = sys.argv[1:6]
    checkout = find_cmsis(os.path.expanduser(cmsis_dir))
    path = TARGET_PATH[target]
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
    wall = time.time() - t
    print(f"wall {wall:.1f} s: " + ", ".join(f"{k} {v:.1f} s" for k, v in SPLIT.items())
          + f", rest (simulate, compare, footprint) {wall - sum(SPLIT.values()):.1f} s; load avg "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
