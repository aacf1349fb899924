"""`qsim kws FILE.wav ... --model MODEL`: classify recordings with the float net, the bit-exact
simulation of the quantized nets and (with CMSIS) the generated C, side by side.

Each file is read as 16 kHz mono int16 and padded or cut to 1 s (qsim.kws.audio.load_wav), turned into
arm_mfcc_q15 features (bit-exact) and classified by: the float net on m / 128 (label and
probability), the simulated q7 and q15 nets on the features shifted into their input format, and
the q7 net's generated C compiled for the host against a CMSIS_5 checkout (--cmsis or
$CMSIS_PATH) or, with --standin, qsim's portable stand-in (not CMSIS). Without either the C column
is left out. A file that cannot be read stops the command with a named error before any work.
"""
import argparse

EPILOG = """\
example:
  qsim kws yes.wav no.wav --model out/demo/model --cmsis ~/cmsis-5.9.0
"""


def register(subparsers):
    p = subparsers.add_parser("kws", help="classify WAV files with the KWS model (float, simulated, C)",
                              description=__doc__.splitlines()[0], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE.wav", help="audio files (any rate, mono or not)")
    p.add_argument("--model", required=True, metavar="MODEL_DIR",
                   help="model folder from `qsim train kws` or `qsim demo` (out/demo/model)")
    p.add_argument("--cmsis", metavar="PATH", default=None,
                   help="CMSIS_5 checkout (5.7.0/5.9.0) to build the C with (default: $CMSIS_PATH)")
    p.add_argument("--standin", action="store_true",
                   help="build the C with qsim's stand-in library instead of CMSIS")
    p.add_argument("--scheme", default="q7", choices=("q7", "q15"),
                   help="which quantized net the C column runs (default q7)")
    return p


def table(files, rows, c_title):
    head = ["file", "float", "p"] + list(rows[0][2]) + ([c_title] if rows[0][3] is not None else [])
    body = [[str(f), lab, f"{p:.3f}"] + list(q.values()) + ([c] if c is not None else [])
            for f, (lab, p, q, c) in zip(files, rows)]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()   # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in body])


def run(args):
    import numpy as np

    from qsim.kws.audio import load_wav
    from qsim.kws.classify import c_library, classify
    from qsim.kws.flow import KwsModel

    model = KwsModel.load(args.model)
    audio = np.stack([load_wav(f, model.mfcc.sample_rate, model.mfcc.clip_len / model.mfcc.sample_rate)
                      for f in args.files])
    library, what = c_library(args.cmsis, args.standin, model.qgraphs[args.scheme])
    rows = classify(model, audio, library, args.scheme)
    print(table(args.files, rows, f"C {args.scheme}"))
    print(f"C column: {what}" if library is not None else f"C column left out: {what}")
    return 0
