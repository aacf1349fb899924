"""`qsim evaluate`: accuracy of a quantized model against its float original, with layer SQNR.

Runs the float model and the bit-exact simulation of the quantized one over the same data and
prints float and quantized accuracy (with --labels; also their difference paired over the same
items: how many only one of the two gets right, its 95% interval and McNemar's p, to tell a real
quantization loss from a small test set's chance), top-1 agreement, the layer with the lowest
SQNR and the most saturated one; --layers adds the per-layer table (formats, shifts, kernel,
SQNR, saturation). `qsim report` writes the same as files, with plots.
"""
import argparse

EPILOG = """\
example:
  qsim evaluate kws_q7/ --float kws.onnx --data x_test.npy --labels y_test.npy --layers
"""


def add_eval_args(p):
    p.add_argument("qmodel", metavar="QMODEL",
                   help="quantized model: a folder written by `qsim quantize`")
    p.add_argument("--float", dest="float_model", required=True, metavar="MODEL",
                   help="the float model QMODEL was quantized from (.onnx or saved graph)")
    p.add_argument("--data", required=True, metavar="X.npy",
                   help="inputs, a numeric .npy array (N, H, W, C): HWC, batch first; taken as "
                        "floats and quantized with QMODEL's input format")
    p.add_argument("--labels", metavar="y.npy",
                   help="(N,) integer class indices (without them only the agreement is given)")
    p.add_argument("--batch-size", type=int, default=256, metavar="N",
                   help="items per batch (default 256)")


def register(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="compare a quantized model with its float original (accuracy, SQNR)",
        description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_eval_args(p)
    p.add_argument("--layers", action="store_true", help="also print the per-layer table")
    return p


def evaluate_args(args, command, histograms=None):
    """Load everything the arguments name and run qsim.metrics.evaluate; returns (report, qgraph).

    histograms: None, or a function qgraph -> {tensor: Log2Histogram} for the profile plots.
    """
    from qsim.errors import ShapeError
    from qsim.metrics import evaluate

    from ._common import load_data, load_labels, load_model, load_quantized, show_warnings

    if args.batch_size < 1:
        raise ShapeError(f"--batch-size must be >= 1, got {args.batch_size}")
    from qsim.intnet import require_float_scale

    qgraph = load_quantized(args.qmodel)
    fgraph = load_model(args.float_model, "--float")
    require_float_scale(qgraph, command)       # an integer-only import has no float scale
    require_float_scale(fgraph, command)
    x = load_data(args.data, qgraph)
    y = load_labels(args.labels, len(x)) if args.labels else None
    with show_warnings(command):
        rep = evaluate(fgraph, qgraph, x, y, batch_size=args.batch_size, verbose=args.verbose,
                       histograms=histograms(qgraph) if histograms else None)
    return rep, qgraph


def run(args):
    rep, _ = evaluate_args(args, "evaluate")
    print(rep.to_text() if args.layers else rep.summary())
    return 0
