"""`qsim train kws`: train the KWS net on a synthesized set, calibrate, quantize (q7, q15), save.

Features are the bit-exact arm_mfcc_q15 outputs (q8.7); the float net trains on them dequantized
(m / 128) and the quantized nets read them shifted into their input format (qsim.kws.features).
MODEL gets kws.json, float/, q7/, q15/ and kws.onnx (qsim.kws.flow); `qsim kws FILE.wav --model
MODEL` classifies recordings with it. Accuracies are measured on the set's held-out test voices.
The q7/q15 nets are quantized for --release / --path (default 5.9.0 / ref, as `qsim quantize`);
the first line printed says which were used.
"""
import argparse

EPILOG = """\
example:
  qsim data kws --out data/kws && qsim train kws --data data/kws -o out/kws_model
"""


def register(subparsers):
    from ._common import add_release_args, add_sc_proportions, add_synth_extras

    p = subparsers.add_parser("train", help="train a model (kws: the keyword-spotting net)",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="task", metavar="TASK", required=True)
    k = sub.add_parser("kws", help="train + quantize the KWS net on `qsim data kws` output",
                       description=__doc__.splitlines()[0], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_args(k)
    k.add_argument("--data", default="data/kws", metavar="DIR",
                   help="dataset written by `qsim data kws`, or a folder in the Speech Commands "
                        "layout (word folders, _background_noise_/, optional validation_list.txt "
                        "and testing_list.txt) (default data/kws)")
    k.add_argument("--words", nargs="+", default=None, metavar="WORD",
                   help="Speech Commands keywords (default: yes no up down left right on off "
                        "stop go); labels are _silence_, _unknown_ (the other words) and these")
    add_sc_proportions(k)
    add_synth_extras(k)
    k.add_argument("-o", "--output", default="out/kws_model", metavar="MODEL",
                   help="model folder to write (default out/kws_model)")
    k.add_argument("--force", action="store_true", help="replace MODEL if it exists")
    add_release_args(k)                 # the q7/q15 models' CMSIS_5 release and code path
    return p


# qsim.kws.flow.TrainSettings' defaults, spelled out so that `qsim --help` does not import numba
# (tests/kws/test_flow.py checks they agree).
DEFAULTS = {"epochs": 80, "seed": 0, "lr": 2e-3, "batch_size": 64, "conv": (28, 30), "fc": (58, 128),
            "keep": "last", "arch": "seed", "coeff_scale": "none"}


def add_train_args(p):
    from types import SimpleNamespace
    d = SimpleNamespace(**DEFAULTS)
    p.add_argument("--epochs", type=int, default=d.epochs, metavar="N",
                   help=f"epochs (cosine learning-rate decay) (default {d.epochs})")
    p.add_argument("--keep", choices=("last", "best"), default=d.keep,
                   help="weights to keep: the last epoch's, or the epoch best on the validation "
                   f"split (default {d.keep})")
    p.add_argument("--seed", type=int, default=d.seed, metavar="S", help=f"random seed (default {d.seed})")
    p.add_argument("--lr", type=float, default=d.lr, metavar="LR",
                   help=f"Adam learning rate (default {d.lr})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N",
                   help=f"minibatch size (default {d.batch_size})")
    p.add_argument("--arch", choices=("seed", "ds_cnn"), default=d.arch,
                   help="the net: the seed's conv/fc net, or Hello Edge's DS-CNN-S (strided SAME "
                   "conv, four depthwise-separable blocks, global average pool; --conv and --fc "
                   f"do not apply) (default {d.arch})")
    p.add_argument("--conv", type=int, nargs=2, default=list(d.conv), metavar=("C1", "C2"),
                   help=f"channels of the two convs (default {d.conv[0]} {d.conv[1]})")
    p.add_argument("--frontend", choices=("q15", "q15norm", "float"), default="q15",
                   help="MFCC front end: q15 = bit-exact arm_mfcc_q15, q15norm = the same on frames "
                        "shifted up to a peak >= 2**14 with c0 corrected, float = arm_mfcc_f32 "
                        "rounded to q8.7; recorded in the model folder (default q15)")
    p.add_argument("--coeff-scale", choices=("balanced", "none"), default=d.coeff_scale,
                   help="balanced = shift each MFCC coefficient by a power of two chosen on the "
                        "training split so that one input format gives them all similar precision "
                        "(recorded in kws.json as mfcc.coeff_shift; the generated "
                        "<net>_features.h applies it), none = features as they come "
                        f"(default {d.coeff_scale})")
    p.add_argument("--fc", type=int, nargs="+", default=list(d.fc), metavar="ROWS",
                   help="hidden fully connected widths (default " + " ".join(map(str, d.fc)) + ")")


def settings_from(args, **extra):
    from qsim.errors import QsimError
    from qsim.kws.flow import TrainSettings
    from qsim.validate import check_positive, check_seed
    if args.epochs < 1 or args.batch_size < 1 or min(args.conv) < 1 or min(args.fc) < 1:
        raise QsimError("--epochs, --batch-size, --conv and --fc must be positive")
    check_positive("--lr", args.lr)
    check_seed("--seed", args.seed)
    if getattr(args, "release", None):                  # train kws: release_and_path filled them in
        extra = dict(version=args.release, path=args.path, **extra)
    return TrainSettings(epochs=args.epochs, seed=args.seed, lr=args.lr, batch_size=args.batch_size,
                         conv=tuple(args.conv), fc=tuple(args.fc), keep=args.keep,
                         arch=getattr(args, "arch", "seed"),
                         coeff_scale=getattr(args, "coeff_scale", DEFAULTS["coeff_scale"]), **extra)


def print_metrics(m, labels=None):
    pct = lambda v: f"{100 * v:.2f}%"   # noqa: E731
    n = m["split_sizes"]
    print(f"split: {n['train']} train, {n['val']} val, {n['test']} test clips (test = held-out speakers)")
    print(f"trained {m['epochs_run']} epochs (kept epoch {m['best_epoch'] + 1}, val {pct(m['val_accuracy'] or 0)})")
    if m["float"] is None:
        print("test accuracy: none (the test split is empty: no clip of the folder falls in it; "
              "give testing_list.txt or more speakers)")
        return
    print(f"test accuracy: float {pct(m['float'])}"
          + "".join(f", {s} {pct(m[s])} ({m['strategy'][s]}; agreement {pct(m['agreement'][s])})"
                    for s in ("q7", "q15") if s in m))
    from qsim.metrics import PairedDelta
    for s, d in (m.get("delta") or {}).items():
        print(f"  {s} - float on the test clips: "
              + PairedDelta(**d).describe(new=s, unit="clips"))


def run(args):
    from qsim.kws.flow import fit, load_features, resolve_for_data
    from qsim.kws.speech_commands import is_speech_commands

    from ._common import check_output, output_dir, release_and_path, sc_proportions, show_warnings

    args.release, args.path = release_and_path(args)
    check_output(args.output, args.force, folder=True, inputs=(args.data,))
    settings = resolve_for_data(settings_from(args), synthesized=not is_speech_commands(args.data))
    M, y, split, labels = load_features(args.data, words=args.words, frontend=args.frontend,
                                        **sc_proportions(args))
    with show_warnings("train"):
        model, metrics = fit(M, y, split, settings, labels, verbose=args.verbose,
                             frontend=args.frontend)
    model.info["data"] = str(args.data)
    with output_dir(args.output, args.force) as tmp:
        model.save(tmp)
    print_metrics(metrics)
    print(f"wrote {args.output}: kws.json, float/, q7/, q15/, kws.onnx")
    return 0
