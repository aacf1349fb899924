"""CMSIS-NN's CIFAR-10 example network, trained on scikit-learn's digits (32x32x3), end to end.

    python examples/cifar_digits.py [--epochs 8] [--out build/cifar_digits]
    CMSIS_PATH=~/cmsis-5.9.0 python examples/cifar_digits.py     # parity with the real library

Float training (numpy) -> calibration -> q7 quantization for the REF path (Cortex-M0/M3) and the
DSP path (M4/M7) -> bit-exact simulation (test accuracy) -> QAT fine-tuning (qsim.qat.finetune)
-> C code -> host parity of every layer: against the real CMSIS-NN with $CMSIS_PATH (both paths),
else against qsim's portable stand-in (REF path only; it checks the generated code, not Arm's C).
"""
import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import qsim  # noqa: E402
from examples._flow import parse_args, quantize_and_check  # noqa: E402
from qsim.datasets.digits import load_digits  # noqa: E402
from qsim.importers.spec import CIFAR10_SPEC  # noqa: E402
from qsim.train import train  # noqa: E402


def main(argv=None):
    args = parse_args(__doc__, epochs=8, out="build/cifar_digits", argv=argv)
    warnings.simplefilter("ignore")                  # saturation notes etc.; see `qsim report`
    d = load_digits()                                # (N, 32, 32, 3) in [-1, 127/128]
    net = qsim.Sequential.from_dict(CIFAR10_SPEC).build(seed=0)
    net, _ = train(net, d.x_train, d.y_train, d.x_val, d.y_val, epochs=args.epochs,
                   batch_size=32, lr=1e-3, seed=0)
    quantize_and_check(net, d, args)


if __name__ == "__main__":
    main()
