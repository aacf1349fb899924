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

layer bits:  --layer-bits conv2=16,fc1=16 (or a JSON file {"conv2": 16}) runs those layers at
             8 or 16 bits whatever the scheme (mixed precision); layers that keep their input's
             format (relu, pooling, reshape, clip) follow their producer, and a requantize layer
             converts between widths (listed in the table)

tuning:      --tune-data X.npy starts from --strategy's formats and moves activation and weight
             formats by a bit wherever that brings the simulated outputs closer to the float
             model's on X (no labels; qsim.tune): use calibration-like data, not your test set.
             The moves are printed and recorded in the model (meta.quantize)

example:
  qsim quantize kws.onnx --calib kws.calib.json --scheme q7 --strategy mse -o kws_q7/
  qsim quantize kws.onnx --calib kws.calib.json --scheme q7 --tune-data x_cal.npy -o kws_q7t/
  qsim quantize kws.onnx --calib kws.calib.json --scheme q7 --layer-bits conv1=16 -o kws_mixed/
"""
MAX_LAYER_BITS_BYTES = 1 << 20


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
    p.add_argument("--layer-bits", default=None, metavar="NAME=BITS,...|FILE.json",
                   help="per-layer widths (8 or 16) overriding the scheme's: NAME=16,NAME2=8, or a "
                        "JSON file {\"NAME\": 16}")
    add_release_args(p)
    p.add_argument("--truncate", action="store_true",
                   help="build with ARM_NN_TRUNCATE (shifts truncate instead of rounding)")
    p.add_argument("--no-fc-opt", action="store_true",
                   help="use the plain fully connected functions instead of the _opt ones")
    p.add_argument("--no-pad-channels", action="store_true",
                   help="do not zero-pad q7 conv channels to reach the _fast kernels (less RAM and "
                        "flash, more cycles)")
    p.add_argument("--tune-data", default=None, metavar="X.npy",
                   help="tune the formats for fidelity to the float model on these float inputs "
                        "(N, H, W, C) (see tuning below)")
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


def parse_layer_bits(text):
    """--layer-bits: 'NAME=8,NAME2=16' or the path of a JSON object {NAME: 8 or 16}; the names
    are checked against the model by qsim.passes.precision.check_layer_bits."""
    import json
    from pathlib import Path

    from qsim.errors import ArgumentError

    if text.endswith(".json") or Path(text).is_file():
        p = Path(text)
        if not p.is_file():
            raise ArgumentError(f"--layer-bits {text}: no such file")
        if p.stat().st_size > MAX_LAYER_BITS_BYTES:
            raise ArgumentError(f"--layer-bits {text}: larger than {MAX_LAYER_BITS_BYTES} bytes")
        try:
            value = json.loads(p.read_text())
        except (ValueError, UnicodeDecodeError, OSError, RecursionError) as e:
            raise ArgumentError(f"--layer-bits {text}: not JSON ({type(e).__name__}: {e})") from None
        if not isinstance(value, dict):
            raise ArgumentError(f"--layer-bits {text}: needs a JSON object {{\"layer\": 8 or 16}}, "
                                f"got {type(value).__name__}")
        return value
    out = {}
    for item in text.split(","):
        name, eq, bits = item.strip().rpartition("=")
        if not eq or not name or bits.strip() not in ("8", "16"):
            raise ArgumentError(f"--layer-bits: {item.strip()!r} is not NAME=8 or NAME=16. help: "
                                "--layer-bits conv1=16,fc1=8 (or a JSON file)")
        if name in out:
            raise ArgumentError(f"--layer-bits: layer {name!r} is given twice")
        out[name] = int(bits)
    return out


def run(args):
    from qsim.quantize import describe, quantize

    from ._common import (check_output, load_calibration, load_data, load_model, output_dir,
                          release_and_path, show_warnings)

    release, path = release_and_path(args)
    layer_bits = parse_layer_bits(args.layer_bits) if args.layer_bits is not None else None
    inputs = (args.model, args.calib) + ((args.tune_data,) if args.tune_data else ())
    check_output(args.output, args.force, folder=True, inputs=inputs)
    graph = load_model(args.model)
    cal = load_calibration(args.calib)
    check_calibration(cal, graph, args.strategy, args.percentile, args.calib)
    x_tune = load_data(args.tune_data, graph, "--tune-data") if args.tune_data else None
    kw = dict(scheme=args.scheme, strategy=args.strategy, path=path, version=release,
              truncate=args.truncate, percentile=args.percentile, fc_opt=not args.no_fc_opt,
              layer_bits=layer_bits, pad_channels=not args.no_pad_channels)
    tuned = None
    with show_warnings("quantize"):
        if x_tune is None:
            q = quantize(graph, cal, **kw)
        else:
            from qsim.tune import tune_formats
            q, tuned = tune_formats(graph, cal, x_tune, **kw)
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
    if tuned is not None:
        print(tuned)
    for f in findings:
        print(f"qsim quantize: warning: {f}")
    print(f"wrote {args.output}")
    return 0
