"""CMSIS-NN's CIFAR-10 example network, trained on scikit-learn's digits (32x32x3), end to end.

    python examples/cifar_digits.py [--epochs 8] [--out build/cifar_digits]
    CMSIS_PATH=~/cmsis-5.9.0 python examples/cifar_digits.py     # parity with the real library

Float training (numpy) -> calibration -> q7 quantization for the REF path (Cortex-M0/M3) and the
DSP path (M4/M7) -> bit-exact simulation (test accuracy) -> QAT fine-tuning (qsim.qat.finetune)
-> C code -> host parity of every layer: against the real CMSIS-NN with $CMSIS_PATH (both paths),
else against qsim's portable stand-in (REF path only; it checks the generated code, not Arm's C).
"""
import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import qsim  # noqa: E402
from cmsis_nn.locate import find_cmsis  # noqa: E402
from codegen.generate import write_network  # noqa: E402
from harness.parity import run_network_parity  # noqa: E402
from qsim.datasets.digits import load_digits  # noqa: E402
from qsim.importers.spec import CIFAR10_SPEC  # noqa: E402
from qsim.qat import finetune  # noqa: E402
from qsim.train import train  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--out", default="build/cifar_digits")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")                  # saturation notes etc.; see `qsim report`
    d = load_digits()                                # (N, 32, 32, 3) in [-1, 127/128]
    net = qsim.Sequential.from_dict(CIFAR10_SPEC).build(seed=0)
    net, _ = train(net, d.x_train, d.y_train, d.x_val, d.y_val, epochs=args.epochs,
                   batch_size=32, lr=1e-3, seed=0)
    net.save(os.path.join(args.out, "float"))
    acc = lambda pred: 100 * float(np.mean(pred == d.y_test))          # noqa: E731
    logits = qsim.run_float(net, d.x_test)
    print(f"float      test accuracy {acc(logits.argmax(1)):.2f}%")
    cal = qsim.calibrate(net, d.x_train)
    cmsis = find_cmsis() if os.environ.get("CMSIS_PATH") else None    # else the stand-in
    for path in ("ref", "dsp"):
        q = qsim.quantize(net, cal, scheme="q7", path=path, version=cmsis.version if cmsis
                          else "5.9.0")
        print(f"PTQ q7 {path}  test accuracy {acc(qsim.predict(q, d.x_test)):.2f}%")
        q, _ = finetune(net, q, d.x_train, d.y_train, d.x_val, d.y_val, epochs=args.qat_epochs)
        print(f"QAT q7 {path}  test accuracy {acc(qsim.predict(q, d.x_test)):.2f}%")
        q.save(os.path.join(args.out, f"q7_{path}"))
        write_network(q, os.path.join(args.out, f"c_{path}"), force=True)
        if cmsis is None and path == "dsp":
            print("parity dsp: skipped (the stand-in has only the REF path; set CMSIS_PATH)")
            continue
        report = run_network_parity(q, d.x_test, cmsis=cmsis)
        print(f"parity {path} ({report.library}): {report.summary()}")


if __name__ == "__main__":
    main()
