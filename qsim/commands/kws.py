"""`qsim kws FILE.wav ... --model MODEL`: classify recordings with the float net, the bit-exact
simulation of the quantized nets and (with CMSIS) the generated C, side by side.

Each file is read as mono int16 at the model's rate (qsim.kws.audio.load_wav) and turned into
features by the model's front end (arm_mfcc_q15 bit-exact, or float; kws.json). MODEL may also be
a quantized model folder from `qsim import-c` whose spec gave "labels" and "frontend" (its own
frame length and hop, mel bands, coefficients, Hann window, float MFCC rounded to the input's
fractional bits, or arm_mfcc_q15): it has no float net, so the float column is left out. A file of at most
one clip (1 s) is zero-padded to it and gives one table row: the float net's label and
probability; each simulated quantized net's label and confidence (the softmax of its dequantized
logits, with its integer softmax output in brackets); and the q7 (or q15) net's generated C,
compiled for the host against a CMSIS_5 checkout (--cmsis or $CMSIS_PATH) or, with --standin,
qsim's portable stand-in (not CMSIS); without either the C column is left out. A longer file is
scanned: a one-clip window every --hop frame hops over the whole recording (the end is
zero-padded to the last window, and said so), posteriors averaged over --average-ms, and
detections printed per engine with their start time and averaged score (TF's RecognizeCommands:
--threshold, --suppression-ms; see qsim.kws.stream). A file that cannot be read stops the
command with a named error before any work.
"""
import argparse

EPILOG = """\
example:
  qsim kws yes.wav no.wav --model out/demo/model --cmsis ~/cmsis-5.9.0
"""


def register(subparsers):
    p = subparsers.add_parser("kws", help="classify WAV files with the KWS model (float, simulated, C)",
                              description=__doc__, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE.wav", help="audio files (any rate, mono or not)")
    p.add_argument("--model", required=True, metavar="MODEL_DIR",
                   help="model folder from `qsim train kws` or `qsim demo` (out/demo/model), or a "
                   "`qsim import-c` folder with KWS settings")
    p.add_argument("--cmsis", metavar="PATH", default=None,
                   help="CMSIS_5 checkout (5.7.0/5.9.0) to build the C with (default: $CMSIS_PATH)")
    p.add_argument("--standin", action="store_true",
                   help="build the C with qsim's stand-in library instead of CMSIS")
    p.add_argument("--scheme", default="q7", choices=("q7", "q15"),
                   help="which quantized net the C column runs (default q7)")
    g = p.add_argument_group("files longer than one clip (streaming)")
    g.add_argument("--hop", type=int, default=2, metavar="FRAMES",
                   help="window hop in MFCC frame hops (20 ms each by default) (default 2)")
    g.add_argument("--average-ms", type=float, default=500.0, metavar="MS",
                   help="average the posteriors of the windows of the last MS ms (default 500)")
    g.add_argument("--threshold", type=float, default=0.7, metavar="P",
                   help="report a word when its averaged score exceeds P (default 0.7)")
    g.add_argument("--suppression-ms", type=float, default=1500.0, metavar="MS",
                   help="after a detection, none of a different word for MS ms (default 1500)")
    return p


def table(files, rows, c_title):
    schemes = list(rows[0][2])
    fl = rows[0][0] is not None                 # an imported integer-only model has no float net
    head = (["file"] + (["float", "p"] if fl else []) + [h for s in schemes for h in (s, f"{s} p [int]")]
            + ([c_title] if rows[0][3] is not None else []))
    body = [[str(f)] + ([lab, f"{p:.3f}"] if fl else [])
            + [v for s in schemes for v in (q[s], f"{qc[s][0]:.3f} [{qc[s][1]}]")]
            + ([c] if c is not None else [])
            for f, (lab, p, q, c, qc) in zip(files, rows)]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()   # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body])


def detections_text(path, res):
    lines = [f"{path}: {res['seconds']:.2f} s, {res['windows']} windows of 1 s every "
             f"{res['hop_ms']:.0f} ms" + (f" (last {res['padded_ms']:.0f} ms zero-padded)"
                                          if res["padded_ms"] else "")]
    lines.append(f"  {'engine':<8} {'start s':>8}  {'word':<12} {'score':>6}")
    for engine, found in res["detections"].items():
        if not found:
            lines.append(f"  {engine:<8} {'-':>8}  (no word above the threshold)")
        for t, label, score in found:
            lines.append(f"  {engine:<8} {t / 1000:>8.2f}  {label:<12} {score:>6.3f}")
    return "\n".join(lines)


def run(args):
    import numpy as np

    from qsim.errors import QsimError
    from qsim.kws.audio import load_wav
    from qsim.kws.classify import c_library, classify
    from qsim.kws.flow import KwsModel
    from qsim.kws.stream import StreamSettings, stream

    if args.hop < 1 or args.average_ms <= 0 or args.suppression_ms < 0 or not 0 <= args.threshold < 1:
        raise QsimError("need --hop >= 1, --average-ms > 0, --suppression-ms >= 0 and "
                        "0 <= --threshold < 1")
    model = KwsModel.load(args.model)
    if args.scheme not in model.qgraphs:
        raise QsimError(f"{args.model} has no {args.scheme} net (it has {', '.join(model.qgraphs)}). "
                        f"help: --scheme {next(iter(model.qgraphs))}")
    rate, clip = model.mfcc.sample_rate, model.mfcc.clip_len
    recordings = [load_wav(f, rate, None) for f in args.files]
    short = [i for i, a in enumerate(recordings) if len(a) <= clip]
    long = [i for i, a in enumerate(recordings) if len(a) > clip]
    if short:
        audio = np.stack([np.pad(recordings[i], (0, clip - len(recordings[i]))) for i in short])
        library, what = c_library(args.cmsis, args.standin, model.qgraphs[args.scheme])
        rows = classify(model, audio, library, args.scheme)
        print(table([args.files[i] for i in short], rows, f"C {args.scheme}"))
        print(f"C column: {what}" if library is not None else f"C column left out: {what}")
        print("q7 p / q15 p: softmax of the dequantized logits; [int]: the integer softmax output")
        if model.float_graph is None:
            print("float column left out: an imported integer-only model has no float net")
    settings = StreamSettings(hop_frames=args.hop, average_window_ms=args.average_ms,
                              threshold=args.threshold, suppression_ms=args.suppression_ms)
    for i in long:
        res = stream(model, recordings[i], settings)
        res["seconds"] = len(recordings[i]) / rate
        print(detections_text(args.files[i], res))
    if long:
        print(f"streaming: {'' if model.float_graph is None else 'float and '}simulated quantized nets "
              "(the C column is for one-clip files)")
    return 0
