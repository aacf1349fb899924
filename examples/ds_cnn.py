"""A small depthwise-separable CNN (DS-CNN, as in Arm's ML-KWS-for-MCU) on the digits, end to end.

    python examples/ds_cnn.py [--epochs 10] [--out build/ds_cnn]
    CMSIS_PATH=~/cmsis-5.9.0 python examples/ds_cnn.py     # parity with the real library

conv 5x5 stride 2 -> 2 x [depthwise 3x3 + relu -> pointwise 1x1 + relu] -> average pool 4x4
-> fc 10 -> softmax (qsim.importers.spec.DS_CNN_SPEC), on 32x32 grey digits. The pointwise
convs run on arm_convolve_1x1_HWC_q7_fast_nonsquare (32 channels: ch_in % 4 == 0 and
ch_out % 2 == 0), the depthwise ones on arm_depthwise_separable_conv_HWC_q7, the pool on
arm_avepool_q7_HWC, whose DSP path averages row averages (two truncations) where the REF path
takes one average: qsim simulates each path exactly, so the REF and DSP accuracies may differ.
Why digits and not the KWS MFCCs (49x10): legacy CMSIS-NN pools square images only, and the
DS-CNN's pool would be non-square there.
"""
import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import qsim  # noqa: E402
from examples._flow import parse_args, quantize_and_check  # noqa: E402
from qsim.datasets.digits import load_digits  # noqa: E402
from qsim.importers.spec import DS_CNN_SPEC  # noqa: E402
from qsim.train import train  # noqa: E402


def main(argv=None):
    args = parse_args(__doc__, epochs=10, out="build/ds_cnn", argv=argv)
    warnings.simplefilter("ignore")                  # saturation notes etc.; see `qsim report`
    d = load_digits(channels=1)                      # (N, 32, 32, 1) in [-1, 127/128]
    net = qsim.Sequential.from_dict(DS_CNN_SPEC).build(seed=0)
    net, _ = train(net, d.x_train, d.y_train, d.x_val, d.y_val, epochs=args.epochs,
                   batch_size=32, lr=2e-3, seed=0)
    quantize_and_check(net, d, args)


if __name__ == "__main__":
    main()
