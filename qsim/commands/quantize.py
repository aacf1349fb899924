"""`qsim quantize`: quantize a float model for the legacy CMSIS-NN kernels and save it.

Reads the statistics of `qsim calibrate`, picks a fixed-point format per tensor (--strategy), the
bias_shift / out_shift of every layer and a legal CMSIS-NN function per node (for --release and
--path, recorded in the model and used by every later command), and writes the quantized graph
(model.json + model.npz) into QMODEL_DIR. The first line printed says which release and path were
used; the table printed at the end lists every layer's kernel, formats and shifts.
"""
import argparse

EPILOG = """\
schemes:     q7 (8-bit everything), q15 (16-bit), q7q15 (16-bit activations, 8-bit fc weights)
strategies:  minmax (ARM's ceil(log2 max|x|) rule), percentile (the same on --percentile P,
             needs `qsim calibrate --stats ... percentile:P`), mse (least expected squared error
             over the calibration log2 histogram)

example:
  qsim quantize kws.onnx --calib kws.calib.json --scheme q7 --strategy mse -o kws_q7/
"""


# Spelled out so that `qsim --help` does not import numba (qsim.quantize does); tests/test_cli.py
# checks it equals qsim.quantize.STRATEGIES. qsim.releases is plain Python.
STRATEGIES = ("minmax", "percentile", "mse")


def register(subparsers):
    from qsim.schemes import SCHEMES

    from ._common import add_release_args

    p = subparsers.add_parser(
        "quantize", help="quantize a float model from calibration statistics",
        description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL",
                   help="float model: an .onnx file or a saved qsim graph (folder with "
                        "model.json), the one CALIB.json was made from")
    p.add_argument("--calib", required=True, metavar="CALIB.json",
                   help="statistics written by `qsim calibrate` for this model")
    p.add_argument("--scheme", choices=SCHEMES, default="q7", help="bit widths (default q7)")
    p.add_argument("--strategy", choices=STRATEGIES, default="minmax",
                   help="how a tensor's format is chosen (default minmax)")
    p.add_argument("--percentile", type=float, default=99.99, metavar="P",
                   help="P of --strategy percentile (default 99.99)")
    add_release_args(p)
    p.add_argument("--truncate", action="store_true",
                   help="build with ARM_NN_TRUNCATE (shifts truncate instead of rounding)")
    p.add_argument("--no-fc-opt", action="store_true",
                   help="use the plain fully connected functions instead of the _opt ones")
    p.add_argument("-o", "--output", required=True, metavar="QMODEL_DIR",
                   help="folder to write (model.json + model.npz)")
    p.add_argument("--force", action="store_true", help="replace QMODEL_DIR if it exists")
    p.add_argument("--lint-data", default=None, metavar="X.npy",
                   help="warn about every release/path behaviour (semantics doc) the model reaches "
                        "on these inputs for --path / --version, with the affected fraction (qsim.lint)")
    return p


def check_calibration(cal, graph, strategy, percentile, calib_path):
    """Name what CALIB.json lacks for this model and strategy, with the command that fixes it."""
    from qsim.errors import CalibrationError

    missing = [t for t in graph.tensors if t not in cal]
    if missing:
        raise CalibrationError(
            f"--calib {calib_path} has no statistics for {len(missing)} tensor(s) of this model "
            f"(first: '{missing[0]}'); it was made for another model. help: run `qsim calibrate "
            "MODEL --data X.npy -o CALIB.json` on this MODEL")
    need = {"percentile": f"percentile({percentile:g})", "mse": "log2hist"}.get(strategy)
    if need:
        lacking = [t for t in graph.tensors if need not in cal[t]]
        if lacking:
            arg = f"percentile:{percentile:g}" if strategy == "percentile" else "log2hist"
            raise CalibrationError(
                f"--strategy {strategy} needs statistic {need!r}, which --calib {calib_path} lacks "
                f"(it has {sorted(cal[lacking[0]])}). help: qsim calibrate MODEL --data X.npy "
                f"--stats minmax {arg} -o CALIB.json")


def run(args):
    from qsim.quantize import describe, quantize

    from ._common import (check_output, load_calibration, load_model, output_dir, release_and_path,
                          show_warnings)

    release, path = release_and_path(args)
    check_output(args.output, args.force, folder=True, inputs=(args.model, args.calib))
    graph = load_model(args.model)
    cal = load_calibration(args.calib)
    check_calibration(cal, graph, args.strategy, args.percentile, args.calib)
    with show_warnings("quantize"):
        q = quantize(graph, cal, scheme=args.scheme, strategy=args.strategy, path=path,
                     version=release, truncate=args.truncate, percentile=args.percentile,
                     fc_opt=not args.no_fc_opt)
    q.meta = dict(q.meta, quantized_from=str(args.model), calibration=str(args.calib),
                  strategy=args.strategy, percentile=args.percentile)
    findings = []
    if args.lint_data is not None:
        from qsim.lint import lint, load_lint_data
        with show_warnings("quantize"):
            findings = lint(q, load_lint_data(args.lint_data, q))
    with output_dir(args.output, args.force) as tmp:
        q.save(tmp)
    print(describe(q))
    for f in findings:
        print(f"qsim quantize: warning: {f}")
    print(f"wrote {args.output}")
    return 0
