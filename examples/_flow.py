"""The steps both example scripts share: their command line, and everything after float training.

After training: save the float model -> calibrate -> q7 quantization for the REF path (Cortex-M0/M3)
and the DSP path (M4/M7) -> bit-exact simulation (test accuracy) -> QAT fine-tuning
(qsim.qat.finetune) -> C code -> host parity of every layer: against the real CMSIS-NN with
$CMSIS_PATH (both paths), else against qsim's portable stand-in (REF path only).
"""
import argparse
import os

import numpy as np

import qsim
from cmsis_nn.locate import find_cmsis
from codegen.generate import write_network
from harness.parity import run_network_parity
from qsim.qat import finetune


def parse_args(doc, epochs, out, argv=None):
    """--epochs (float training), --qat-epochs and --out, described by the script's docstring."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--out", default=out)
    return p.parse_args(argv)


def quantize_and_check(net, d, args):
    """Save the trained float `net`, then on both paths: PTQ, QAT, save, C code, parity; print accuracies.

    d: the digits (qsim.datasets.digits.load_digits); args: from parse_args.
    """
    net.save(os.path.join(args.out, "float"))
    acc = lambda pred: 100 * float(np.mean(pred == d.y_test))          # noqa: E731
    print(f"float      test accuracy {acc(qsim.run_float(net, d.x_test).argmax(1)):.2f}%")
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
