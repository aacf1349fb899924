"""`qsim qat`: quantization-aware fine-tuning of a quantized model, with the bit-exact forward pass.

Fine-tunes float shadow weights through the exact fixed-point forward of QMODEL (straight-through
gradients, Adam), keeping its formats and shifts (unless --reselect-formats), and writes a
quantized model of the same kind as `qsim quantize` does: codegen and parity read it unchanged.
Early stopping uses the accuracy of the bit-exact quantized net on the validation data.
"""
import argparse

EPILOG = """\
example:
  qsim qat kws_q7/ --float kws.onnx --data x_train.npy --labels y_train.npy --val-split 0.1 \\
      --epochs 10 -o kws_q7_qat/
"""


def register(subparsers):
    p = subparsers.add_parser(
        "qat", help="quantization-aware fine-tuning of a quantized model",
        description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("qmodel", metavar="QMODEL", help="quantized model: a folder written by "
                   "`qsim quantize`")
    p.add_argument("--float", dest="float_model", required=True, metavar="MODEL",
                   help="the float model QMODEL was quantized from (.onnx or saved graph)")
    p.add_argument("--data", required=True, metavar="X.npy",
                   help="training inputs (N, H, W, C), HWC, batch first")
    p.add_argument("--labels", required=True, metavar="y.npy", help="(N,) integer class indices")
    p.add_argument("--val-data", metavar="XV.npy", help="validation inputs (with --val-labels)")
    p.add_argument("--val-labels", metavar="YV.npy", help="validation class indices")
    p.add_argument("--val-split", type=float, default=None, metavar="F",
                   help="hold out this fraction of --data for validation (seeded; default 0.1 "
                        "when no --val-data is given, 0 disables validation)")
    p.add_argument("--epochs", type=int, default=10, help="at most this many epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="default 64")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant",
                   help="cosine: decay the learning rate to 0 over --epochs (default constant)")
    p.add_argument("--patience", type=int, default=3,
                   help="stop after this many epochs without a better validation accuracy "
                        "(default 3)")
    p.add_argument("--seed", type=int, default=0, help="shuffle / split seed (default 0)")
    p.add_argument("--reselect-formats", action="store_true",
                   help="re-choose formats and shifts from a recalibration after every epoch")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                   help="folder to write (model.json + model.npz)")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    return p


def _split(args, x, y):
    """(X, y, X_val, y_val) from the arguments; raises ShapeError for inconsistent options."""
    import numpy as np

    from qsim.errors import ShapeError

    if (args.val_data is None) != (args.val_labels is None):
        raise ShapeError("--val-data and --val-labels go together. help: give both, or use "
                         "--val-split F")
    if args.val_data is not None:
        if args.val_split:
            raise ShapeError("give either --val-data/--val-labels or --val-split, not both")
        return x, y, None, None
    frac = 0.1 if args.val_split is None else args.val_split
    if not 0 <= frac < 1:
        raise ShapeError(f"--val-split must be in [0, 1), got {frac}")
    n_val = int(round(frac * len(x)))
    if frac and (n_val < 1 or n_val >= len(x)):
        raise ShapeError(f"--val-split {frac} of {len(x)} items leaves no validation or no "
                         "training item. help: give more data or another fraction")
    if not n_val:
        return x, y, None, None
    order = np.random.default_rng(args.seed).permutation(len(x))
    val, tr = order[:n_val], order[n_val:]
    return x[tr], y[tr], x[val], y[val]


def run(args):
    from qsim.errors import ShapeError
    from qsim.qat import finetune
    from qsim.quantize import describe

    from ._common import (check_output, load_data, load_labels, load_model, load_quantized,
                          output_dir, show_warnings)

    from qsim.validate import check_count, check_positive, check_seed

    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise ShapeError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    check_positive("--lr", args.lr)
    check_count("--patience", args.patience, 0)
    check_seed("--seed", args.seed)
    check_output(args.output, args.force, folder=True,
                 inputs=(args.qmodel, args.float_model, args.data, args.labels, args.val_data,
                         args.val_labels))
    qgraph = load_quantized(args.qmodel)
    fgraph = load_model(args.float_model, "--float")
    x = load_data(args.data, qgraph)
    y = load_labels(args.labels, len(x))
    x, y, xv, yv = _split(args, x, y)
    if args.val_data is not None:
        xv = load_data(args.val_data, qgraph, "--val-data")
        yv = load_labels(args.val_labels, len(xv), "--val-labels")
    with show_warnings("qat"):
        out, hist = finetune(fgraph, qgraph, x, y, xv, yv, epochs=args.epochs,
                             batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                             patience=args.patience, reselect_formats=args.reselect_formats,
                             verbose=args.verbose,
                             lr_schedule=None if args.lr_schedule == "constant" else "cosine")
    out.meta = dict(out.meta, qat_from=str(args.qmodel), float_model=str(args.float_model))
    with output_dir(args.output, args.force) as tmp:
        out.save(tmp)
    print(describe(out))
    offset = out.meta.get("qat", {}).get("logit_offset")
    if offset is not None:
        print("logit offset kept (the model records it: meta logit_offset; loss and accuracies on "
              "the logits less " + ", ".join(f"{v:g}" for v in offset) + ")")
    for e, loss in enumerate(hist["loss"]):
        line = f"epoch {e}: loss {loss:.4f} acc {hist['acc'][e]:.4f}"
        if hist["val_acc"]:
            line += f" val_loss {hist['val_loss'][e]:.4f} val_acc {hist['val_acc'][e]:.4f}"
        print(line)
    if hist["initial_val_acc"] is not None:
        best = hist["best_epoch"]
        final = hist["initial_val_acc"] if best < 0 else hist["val_acc"][best]
        print(f"validation accuracy (bit-exact): {hist['initial_val_acc']:.4f} before QAT, "
              f"{final:.4f} after (best epoch {best})")
    print(f"wrote {args.output}")
    return 0
