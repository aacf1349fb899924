"""`qsim calibrate`: run the float model over a data set and save per-tensor statistics (JSON).

The statistics file feeds `qsim quantize --calib`. Every tensor of the model (input included)
gets each statistic of --stats; a Log2Histogram is always added, because the mse strategy and
the profile plots of `qsim report --calib` use it.
"""
import argparse
import json

EPILOG = """\
statistics (--stats, the first one is the default range):
  minmax            exact minimum and maximum
  percentile:P      P-th and (100-P)-th percentiles, 50 < P <= 100 (for --strategy percentile)
  log2hist          counts per power of two (always added)

example:
  qsim calibrate kws.onnx --data x_train.npy --stats minmax percentile:99.99 -o kws.calib.json
"""


def register(subparsers):
    p = subparsers.add_parser(
        "calibrate", help="collect per-tensor statistics of a float model over a data set",
        description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL",
                   help="float model: an .onnx file or a saved qsim graph (folder with model.json)")
    p.add_argument("--data", required=True, metavar="X.npy",
                   help="calibration inputs, a numeric .npy array (N, H, W, C): HWC, batch first "
                        "((N, n) for a vector input); NCHW is rejected")
    p.add_argument("--labels", metavar="y.npy",
                   help="(N,) integer class indices; if given, the float accuracy is printed")
    p.add_argument("--batch-size", type=int, default=256, metavar="N",
                   help="items per float forward pass (default 256)")
    p.add_argument("--stats", nargs="+", default=["minmax", "percentile:99.99"], metavar="STAT",
                   help="statistics to collect (default: minmax percentile:99.99); see below")
    p.add_argument("-o", "--output", required=True, metavar="CALIB.json",
                   help="statistics file to write")
    p.add_argument("--force", action="store_true", help="replace CALIB.json if it exists")
    return p


def parse_stats(specs):
    from qsim.errors import CalibrationError
    from qsim.stats import make_stat

    out, keys = [], set()
    for spec in list(specs) + ["log2hist"]:
        try:
            key = make_stat(spec).key
        except ValueError as e:
            raise CalibrationError(f"--stats {spec!r}: {e}. help: use minmax, log2hist or "
                                   "percentile:P with 50 < P <= 100") from None
        if key not in keys:
            keys.add(key)
            out.append(spec)
    return out


def float_accuracy(graph, x, y, batch_size):
    import numpy as np

    from qsim import float_exec

    pred = np.concatenate([np.argmax(float_exec.run(graph, x[s:s + batch_size]).reshape(
        len(x[s:s + batch_size]), -1), axis=1) for s in range(0, len(x), batch_size)])
    return float(np.mean(pred == y)), int(np.sum(pred == y))


def run(args):
    import numpy as np

    from qsim.calibrate import calibrate
    from qsim.errors import CalibrationError
    from qsim.metrics import check_labels
    from qsim.validate import check_count

    from ._common import (check_output, load_data, load_labels, load_model, show_warnings,
                          write_file)

    # Every check first, the one write last: a refused run leaves no CALIB.json behind.
    check_output(args.output, args.force, folder=False,
                 inputs=(args.model, args.data, args.labels))
    check_count("--batch-size", args.batch_size)
    stats = parse_stats(args.stats)
    graph = load_model(args.model)
    x = load_data(args.data, graph, empty_error=CalibrationError)
    y = None
    if args.labels:
        out = graph.tensors[graph.outputs[0]].shape
        y = check_labels(load_labels(args.labels, len(x)), len(x), int(np.prod(out)))
    with show_warnings("calibrate"):
        cal = calibrate(graph, x, batch_size=args.batch_size, stats=stats, verbose=args.verbose)
    acc = float_accuracy(graph, x, y, args.batch_size) if y is not None else None
    doc = {"model": str(args.model), "model_name": graph.name,
           "input_shape": list(graph.tensors[graph.inputs[0]].shape), **cal.to_dict()}
    write_file(args.output, json.dumps(doc, indent=1, allow_nan=False).encode())
    keys = list(next(iter(cal.stats.values())))
    print(f"calibrated {len(cal.stats)} tensors of '{graph.name}' on {cal.num_samples} samples "
          f"({', '.join(keys)})")
    width = max(len(t) for t in cal.stats)
    for t in cal.stats:
        lo, hi = cal.range(t)
        print(f"  {t:<{width}}  [{lo:.6g}, {hi:.6g}]")
    if acc is not None:
        print(f"float accuracy on this set: {100 * acc[0]:.2f}% ({acc[1]}/{len(x)})")
    print(f"wrote {args.output}")
    return 0
