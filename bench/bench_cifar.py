"""CMSIS-NN's CIFAR-10 example network: qsim's bit-exact simulator vs the generated C on the host.

    CMSIS_PATH=~/cmsis-5.9.0 python bench/bench_cifar.py [--n 1000] [--path ref|dsp] [--repeat 3]
                                                         [--threads 1 2] [--opt -O2]

Both run the same quantized graph (CIFAR10_SPEC, He-initialised weights with --seed, calibrated
on the digits; speed does not depend on the weights) over the same N inputs (the digits' test
images, repeated to N):
    simulate   qsim.simulate(qgraph, x, batch_size=N): numba kernels, parallel over the batch,
               at each --threads (numba.set_num_threads); the first call (JIT) is not timed
    C          the generated network (codegen.generate.render, no taps) compiled with --opt and
               linked against the CMSIS-NN build of $CMSIS_PATH for --path; `<name>_run` is
               called N times in a C loop (one core: the generated code is not reentrant)
Printed: inferences/s of each (best of --repeat), the ratio simulate / C, and a check that
both produced the same N outputs. Needs gcc and a CMSIS_5 checkout (5.7.0 or 5.9.0).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cffi
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numba  # noqa: E402

from cmsis_nn.build import build_library  # noqa: E402
from cmsis_nn.locate import find_cmsis  # noqa: E402
from codegen.generate import render  # noqa: E402
from harness.parity import input_ints  # noqa: E402
from qsim.calibrate import calibrate  # noqa: E402
from qsim.datasets.digits import load_digits  # noqa: E402
from qsim.importers.spec import CIFAR10_SPEC, Sequential  # noqa: E402
from qsim.quantize import quantize  # noqa: E402
from qsim.simulate import simulate  # noqa: E402

LOOP = """#include <stdint.h>
#include "{name}.h"
void qsim_bench_loop(int n, const q7_t *x, q7_t *y)
{{
    for (int i = 0; i < n; i++)
        {name}_run(x + (long)i * {up}_INPUT_SIZE, y + (long)i * {up}_OUTPUT_SIZE);
}}
"""


class CNetwork:
    """The generated C of `gen` + a batch loop, built into a shared library against `build`."""

    def __init__(self, gen, build, include_dirs, opt="-O2"):
        self.gen = gen
        self.tmp = Path(tempfile.mkdtemp(prefix="qsim-bench-cifar-"))
        for fname, text in gen.files.items():
            (self.tmp / fname).write_text(text)
        (self.tmp / "loop.c").write_text(LOOP.format(name=gen.name, up=gen.name.upper()))
        so = self.tmp / "libbench.so"
        cmd = ["gcc", opt, "-std=c99", "-shared", "-fPIC", "-fwrapv", "-fno-strict-aliasing",
               f"-I{self.tmp}", *[f"-I{d}" for d in include_dirs], str(self.tmp / f"{gen.name}.c"),
               str(self.tmp / "loop.c"), "-o", str(so), str(build.so_path),
               f"-Wl,-rpath,{Path(build.so_path).parent}"]
        subprocess.run(cmd, check=True)
        self.ffi = cffi.FFI()
        self.ffi.cdef("typedef signed char q7_t; "
                      "void qsim_bench_loop(int n, const q7_t *x, q7_t *y);")
        self.lib = self.ffi.dlopen(str(so))

    def run(self, x_ints, n_out):
        x = np.ascontiguousarray(x_ints.reshape(len(x_ints), -1), np.int8)
        y = np.zeros((len(x), n_out), np.int8)
        self.lib.qsim_bench_loop(len(x), self.ffi.from_buffer("q7_t[]", x),
                                 self.ffi.from_buffer("q7_t[]", y))
        return y


def best(fn, repeat):
    t_best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000, help="inputs per timed batch (default 1000)")
    p.add_argument("--path", choices=("ref", "dsp"), default="ref")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, numba.config.NUMBA_NUM_THREADS])
    p.add_argument("--opt", default="-O2", help="gcc optimisation of the network C (default -O2)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not os.environ.get("CMSIS_PATH"):
        sys.exit("bench_cifar: set CMSIS_PATH to a CMSIS_5 5.7.0 / 5.9.0 checkout")
    checkout = find_cmsis()
    warnings.simplefilter("ignore")
    d = load_digits()
    g = Sequential.from_dict(CIFAR10_SPEC).build(seed=args.seed)
    q = quantize(g, calibrate(g, d.x_train), path=args.path, version=checkout.version)
    x = input_ints(q, np.resize(d.x_test, (args.n,) + d.x_test.shape[1:]))

    build = build_library(checkout, args.path, opt=args.opt)
    net = CNetwork(render(q), build, checkout.include_dirs, args.opt)
    t_c, y_c = best(lambda: net.run(x, 10), args.repeat)
    print(f"CMSIS_5 {checkout.version} {args.path} path, N={args.n}, gcc {args.opt}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"C (host, 1 core)           {args.n / t_c:10.1f} inferences/s")
    simulate(q, x[:4])                                            # JIT / cache load
    for threads in args.threads:
        numba.set_num_threads(threads)
        t_s, y_s = best(lambda: simulate(q, x, batch_size=args.n), args.repeat)
        same = np.array_equal(y_s.reshape(len(x), -1), y_c)
        print(f"qsim simulate, {threads} thread(s) {args.n / t_s:10.1f} inferences/s   "
              f"ratio simulate / C = {t_c / t_s:.2f}   outputs identical: {same}")


if __name__ == "__main__":
    main()
