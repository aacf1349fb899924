"""The instruction cost model (qsim.costmodel.estimate) vs whole-network QEMU counts.

    python bench/check_cost_model.py --cmsis ~/cmsis-5.9.0 [--nets kws cifar ds_cnn_s ...]
        [--schemes q7 q15 q7q15] [--targets cortex-m4 cortex-m3] [--inputs 2] [--layers] [--mixed]

Nets: kws (the KWS demo's seed net, qsim.kws.net.kws_spec), cifar (CMSIS-NN's CIFAR-10 example
topology, examples/cifar_digits.py), and the acceptance nets of qsim.zoo (ds_cnn_s, resnet8,
mobilenet_v1, keras_same, kws_cnn_pool). Random weights, calibrated on 32 N(0,1) inputs, quantized
for the target's path (cortex-m4: DSP, cortex-m3: REF) and the checkout's release; a scheme the
quantizer refuses for a net is listed as refused. Each net is run under QEMU
(harness.parity.run_network_parity: parity is checked too) on --inputs random inputs; the table
gives the measured and predicted instructions per inference, the total error and the largest
per-layer error among the layers that cost at least 1% of the net (--layers: every layer).
--mixed checks mixed-precision variants instead (MIXED: scheme + layer_bits per net, with the
requantize layers qsim.quantize inserts).
"""
import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from cmsis_nn.locate import find_cmsis  # noqa: E402
from harness.parity import random_inputs, run_network_parity  # noqa: E402
from qsim import zoo  # noqa: E402
from qsim.calibrate import calibrate  # noqa: E402
from qsim.costmodel import TARGET_PATH, estimate  # noqa: E402
from qsim.errors import QsimError  # noqa: E402
from qsim.importers.spec import CIFAR10_SPEC, Sequential  # noqa: E402
from qsim.quantize import quantize  # noqa: E402

# net: (scheme, layer_bits) of the --mixed check
MIXED = {"kws": ("q7", {"conv2": 16, "fc1": 16}), "cifar": ("q7", {"conv2": 16}),
         "resnet8": ("q7", {"conv4": 16, "add9": 16}), "mobilenet_v1": ("q7", {"conv4": 16, "conv7": 16}),
         "kws_cnn_pool": ("q7", {"conv4": 16, "concat8": 16})}
NETS = ("kws", "cifar", "ds_cnn_s", "resnet8", "mobilenet_v1", "keras_same", "kws_cnn_pool")


def float_net(name):
    """(float graph, input shape HWC)."""
    if name == "kws":
        from qsim.kws.net import kws_spec
        spec = kws_spec()
        return Sequential.from_dict(spec).build(seed=0), tuple(spec["input_shape"])
    if name == "cifar":
        return Sequential.from_dict(CIFAR10_SPEC).build(seed=0), tuple(CIFAR10_SPEC["input_shape"])
    from qsim.importers.onnx_import import load_onnx
    build, shape, _ = zoo.ACCEPTANCE[name]
    g = load_onnx(build(seed=1))
    return g, (tuple(shape) if name == "keras_same" else (shape[1], shape[2], shape[0]))


def quantized(name, scheme, version, path, layer_bits=None):
    g, shape = float_net(name)
    x = np.random.default_rng(0).normal(0, 1, (32,) + shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize(g, calibrate(g, x), scheme=scheme, version=version, path=path,
                        layer_bits=layer_bits)


def compare(qg, target, checkout, n_inputs):
    """(measured {layer: insns}, CostEstimate)."""
    est = estimate(qg, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = run_network_parity(qg, random_inputs(qg, n_inputs, seed=7), target=target,
                                 cmsis=checkout, timeout=1800)
    if rep.mismatches:
        raise QsimError(f"parity failed: {rep.summary()}")
    measured = {r.name: r.insns for r in rep.layers if r.insns is not None}
    return measured, est


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cmsis", required=True)
    ap.add_argument("--nets", nargs="*", default=list(NETS), choices=NETS)
    ap.add_argument("--schemes", nargs="*", default=["q7", "q15", "q7q15"])
    ap.add_argument("--targets", nargs="*", default=["cortex-m4", "cortex-m3"], choices=sorted(TARGET_PATH))
    ap.add_argument("--inputs", type=int, default=2)
    ap.add_argument("--layers", action="store_true", help="print every layer")
    ap.add_argument("--mixed", action="store_true", help="mixed-precision variants (MIXED)")
    args = ap.parse_args(argv)
    checkout = find_cmsis(os.path.expanduser(args.cmsis))
    print(f"CMSIS_5 {checkout.version}, {args.inputs} random inputs per net")
    print(f"| net | scheme | target | layers | measured | predicted | total error | worst layer (>=1%) |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    worst_total = 0.0
    for name in args.nets:
        if args.mixed and name not in MIXED:
            continue
        for scheme in ([MIXED[name][0]] if args.mixed else args.schemes):
            for target in args.targets:
                try:
                    qg = quantized(name, scheme, checkout.version, TARGET_PATH[target],
                                   MIXED[name][1] if args.mixed else None)
                except QsimError as e:
                    print(f"| {name} | {scheme} | {target} | refused: {str(e).splitlines()[0][:80]} |||||")
                    continue
                measured, est = compare(qg, target, checkout, args.inputs)
                total = sum(measured.values())
                err = (est.total - total) / total
                worst_total = max(worst_total, abs(err))
                big = [(abs(est.per_layer[k] - v) / v, k) for k, v in measured.items()
                       if v >= 0.01 * total]
                w, wk = max(big) if big else (0.0, "-")
                kern = {n.name: n.kernel for n in qg.nodes}
                print(f"| {name} | {scheme} | {target} | {len(measured)} | {total:,.0f} | "
                      f"{est.total:,} | {100 * err:+.2f}% | {100 * w:.1f}% {wk} ({kern.get(wk)}) |",
                      flush=True)
                if args.layers:
                    for k, v in measured.items():
                        p = est.per_layer[k]
                        print(f"|   | {k} | {kern.get(k)} | | {v:,.0f} | {p:,} | "
                              f"{100 * (p - v) / max(v, 1):+.2f}% | |")
    print(f"largest total error: {100 * worst_total:.2f}%")


if __name__ == "__main__":
    main()
