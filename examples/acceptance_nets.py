"""The networks users bring (qsim.zoo: DS-CNN-S, ResNet-8, MobileNet-v1 with ReLU6, a Keras SAME
CNN with even kernels, a KWS CNN with max pooling over time and a concat), end to end.

    python examples/acceptance_nets.py [--nets resnet8 ds_cnn_s] [--epochs 2] [--out build/zoo]
    CMSIS_PATH=~/cmsis-5.9.0 python examples/acceptance_nets.py     # parity with the real library

Per net: the ONNX model (built with the onnx helper API, as exporters write it) -> qsim import,
checked against onnxruntime -> float training (32x32 nets on scikit-learn's digits, the 49x10
nets on a synthetic two-tone task) -> q7 and q7q15 quantization (the report names the qsim
companion kernels where legacy CMSIS-NN has no function) -> QAT (bit-exact forward) -> C code ->
host parity of every layer (real CMSIS-NN with $CMSIS_PATH, else qsim's stand-in).
"""
import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import qsim  # noqa: E402
from cmsis_nn.locate import find_cmsis  # noqa: E402
from codegen.generate import write_network  # noqa: E402
from harness.parity import run_network_parity  # noqa: E402
from qsim import zoo  # noqa: E402
from qsim.datasets.digits import load_digits  # noqa: E402
from qsim.importers.onnx_import import load_onnx  # noqa: E402
from qsim.qat import finetune  # noqa: E402
from qsim.train import train  # noqa: E402


def synthetic_kws(n, classes, seed=0):
    """(x (n, 49, 10, 1), y): noise plus, for class k, its own +-1 pattern over the 10
    coefficients in a run of 20 frames at a random place (a "word" anywhere in the clip)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(0, 1, (n, 49, 10, 1)).astype(np.float32)
    patterns = np.random.default_rng(99).choice([-1.0, 1.0], (classes, 10))
    for i, start in enumerate(rng.integers(0, 30, n)):
        x[i, start:start + 20, :, 0] += 1.5 * patterns[y[i]]
    return x, y


def data_for(name, classes):
    """(train, val, test) splits of (x, y) in qsim's input layout (NHWC)."""
    if zoo.ACCEPTANCE[name][1][-1] == 10:                 # 49x10 MFCC-shaped
        x, y = synthetic_kws(900, classes)
        return (x[:600], y[:600]), (x[600:750], y[600:750]), (x[750:], y[750:])
    d = load_digits(channels=3)
    return (d.x_train, d.y_train), (d.x_val, d.y_val), (d.x_test, d.y_test)


def run_net(name, args, cmsis):
    builder, shape, classes = zoo.ACCEPTANCE[name]
    model = builder(classes=classes, seed=0)
    g = load_onnx(model)
    (xt, yt), (xv, yv), (xs, ys) = data_for(name, classes)
    x_onnx = xs[:8] if name == "keras_same" else xs[:8].transpose(0, 3, 1, 2)
    ref = ort.InferenceSession(model.SerializeToString()).run(None, {"input": x_onnx})[0]
    err = float(np.abs(qsim.run_float(g, xs[:8], dtype=np.float64) - ref).max())
    print(f"{name}: {len(g.nodes)} layers, ops {sorted({n.op for n in g.nodes})}; "
          f"float vs onnxruntime max |diff| {err:.1e}")
    g, _ = train(g, xt, yt, xv, yv, epochs=args.epochs, batch_size=32, lr=3e-3, seed=0)
    acc = lambda pred: 100 * float(np.mean(pred == ys))          # noqa: E731
    print(f"  float        test accuracy {acc(qsim.run_float(g, xs).argmax(1)):.2f}%")
    cal = qsim.calibrate(g, xt[:300])
    for scheme in ("q7", "q7q15"):
        q = qsim.quantize(g, cal, scheme=scheme, version=cmsis.version if cmsis else "5.9.0")
        companions = sorted({n.kernel for n in q.nodes if n.kernel and not
                             n.kernel.startswith("arm_")})
        print(f"  PTQ {scheme:<6}   test accuracy {acc(qsim.predict(q, xs)):.2f}%; companion "
              f"kernels: {', '.join(companions) or 'none'}")
        q, _ = finetune(g, q, xt, yt, xv, yv, epochs=args.qat_epochs)
        print(f"  QAT {scheme:<6}   test accuracy {acc(qsim.predict(q, xs)):.2f}%")
        write_network(q, os.path.join(args.out, name, f"c_{scheme}"), force=True)
        report = run_network_parity(q, xs[:20], cmsis=cmsis)
        print(f"  parity {scheme} ({report.library}): {report.summary()}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", choices=sorted(zoo.ACCEPTANCE),
                   default=sorted(zoo.ACCEPTANCE))
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--qat-epochs", type=int, default=1)
    p.add_argument("--out", default="build/zoo")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")                  # saturation notes etc.; see `qsim report`
    cmsis = find_cmsis() if os.environ.get("CMSIS_PATH") else None    # else the stand-in
    for name in args.nets:
        run_net(name, args, cmsis)


if __name__ == "__main__":
    main()
