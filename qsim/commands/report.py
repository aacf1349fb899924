"""`qsim report`: write the float-vs-quantized report of `qsim evaluate` as files, with plots.

REPORT_DIR gets report.txt (summary + per-layer table), report.json (the same numbers),
activations.png (log2 distribution of every activation with its format's range; hls4ml-style),
weights.png (the same for weights and biases) and sqnr.png (SQNR and saturation per layer).
The folder is built under a temporary name and appears only when complete.
"""
import argparse

EPILOG = """\
example:
  qsim report kws_q7/ --float kws.onnx --data x_test.npy --labels y_test.npy -o kws_q7_report/
"""


def register(subparsers):
    from .evaluate import add_eval_args

    p = subparsers.add_parser(
        "report", help="write the evaluation report (text, JSON, PNG plots) into a folder",
        description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_eval_args(p)
    p.add_argument("--calib", metavar="CALIB.json",
                   help="plot the calibration set's histograms (from `qsim calibrate`) instead of "
                        "recomputing them over --data")
    p.add_argument("-o", "--output", required=True, metavar="REPORT_DIR", help="folder to write")
    p.add_argument("--force", action="store_true", help="replace REPORT_DIR if it exists")
    return p


def _calib_histograms(path, qgraph):
    from qsim.errors import CalibrationError
    from qsim.passes.transpose_hw import with_transposed_stats

    from ._common import load_calibration

    cal = with_transposed_stats(qgraph, load_calibration(path))
    missing = [t for t in qgraph.tensors if t not in cal or "log2hist" not in cal[t]]
    if missing:
        raise CalibrationError(f"--calib {path} has no log2hist statistic for tensor "
                               f"'{missing[0]}'. help: use the CALIB.json QMODEL was quantized "
                               "with (made by `qsim calibrate`), or leave --calib out")
    return {t: cal[t]["log2hist"] for t in qgraph.tensors}


def run(args):
    from qsim.plots import write_profile

    from ._common import check_output, output_dir
    from .evaluate import evaluate_args

    check_output(args.output, args.force, folder=True,
                 inputs=(args.qmodel, args.float_model, args.data, args.labels, args.calib))
    hists = (lambda qgraph: _calib_histograms(args.calib, qgraph)) if args.calib else None
    rep, qgraph = evaluate_args(args, "report", histograms=hists)
    with output_dir(args.output, args.force) as tmp:
        (tmp / "report.txt").write_text(rep.to_text())
        (tmp / "report.json").write_text(rep.to_json() + "\n")
        pngs = write_profile(rep, qgraph, tmp)
    print(rep.summary())
    names = ["report.txt", "report.json"] + [p.name for p in pngs]
    print(f"wrote {args.output}: {', '.join(names)}")
    return 0
