"""`qsim demo`: the whole flow on the built-in keyword-spotting example, into one folder.

Synthesizes the yes/no/backward/_unknown_/_silence_ set with espeak-ng, computes the bit-exact
arm_mfcc_q15 features, trains the float net in numpy, calibrates and quantizes it (q7, q15),
evaluates on held-out voices, fine-tunes with QAT (when qsim.qat is present), generates C,
checks it layer by layer on the host against the simulator (real CMSIS-NN with --cmsis or
$CMSIS_PATH, otherwise qsim's stand-in, and it says which) and writes a summary table and the
PNG report. Artifacts are cached under data/cache, keyed by the settings: a second run is fast.
With --data SC_DIR the same flow runs on your own recordings in the Speech Commands layout
(labels _silence_, _unknown_ and --words; splits by speaker, as `qsim train kws --data`).
"""
import argparse

EPILOG = """\
OUT gets: summary.txt / summary.json (accuracies, SQNR, RAM/flash, parity, time per stage),
model/ (kws.json, float/, q7/, q15/, kws.onnx: use with `qsim kws FILE.wav --model OUT/model`),
c/kws_q7/, c/kws_q15/ (generated C + <prefix>_features.h), parity.txt, report_q7/, report_q15/
(report.txt, report.json, activations.png, weights.png, sqnr.png).
"""


def register(subparsers):
    from qsim.commands._common import add_sc_proportions, add_synth_extras
    from qsim.commands.train import add_train_args
    p = subparsers.add_parser("demo", help="the whole flow on the KWS example (make demo)",
                              description=__doc__.splitlines()[0], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", default="out/demo", metavar="OUT",
                   help="output folder, replaced on each run (default out/demo)")
    p.add_argument("--cache", default="data/cache", metavar="DIR",
                   help="artifact cache (default data/cache)")
    p.add_argument("--per-class", type=int, default=None, metavar="N",
                   help="clips per label to synthesize (default 2000)")
    p.add_argument("--warp", type=float, default=None, metavar="W",
                   help="formant warp augmentation of the synthesized set (default 0.3; see "
                        "`qsim data kws --warp`)")
    p.add_argument("--cmsis", metavar="PATH", default=None,
                   help="CMSIS_5 checkout for parity (default: $CMSIS_PATH; else the stand-in)")
    p.add_argument("--standin", action="store_true",
                   help="check the C with the stand-in even when CMSIS_PATH is set")
    p.add_argument("--data", metavar="SC_DIR", default=None,
                   help="run the flow on your recordings instead: a folder in the Speech Commands "
                        "layout (word folders, _background_noise_/, optional validation_list.txt / "
                        "testing_list.txt; see `qsim data kws --from`)")
    p.add_argument("--words", nargs="+", default=None, metavar="WORD",
                   help="with --data: the keywords (default yes no up down left right on off stop go)")
    add_sc_proportions(p)
    add_synth_extras(p)
    add_train_args(p)
    return p


def run(args):
    from qsim.commands._common import check_output, sc_proportions, show_warnings
    from qsim.commands.train import settings_from
    from qsim.errors import QsimError
    from qsim.kws.demo import DemoSettings, run_demo, summary_text

    inputs = (args.cache,) + ((args.data,) if args.data else ())
    check_output(args.out, True, folder=True, inputs=inputs)   # demo always replaces OUT
    s = DemoSettings(train=settings_from(args), frontend=args.frontend)
    if args.data is None and (args.words or sc_proportions(args)):
        raise QsimError("--words / --silence-percentage / --unknown-percentage / --synth-*-percentage "
                        "need --data SC_DIR "
                        "(the built-in set has fixed labels and proportions)")
    if args.data is not None:
        if args.per_class is not None or args.warp is not None:
            raise QsimError("--per-class / --warp shape the synthesized set; with --data the "
                            "clips are your recordings. help: drop them")
        s.data, s.words, s.proportions = args.data, tuple(args.words) if args.words else None, \
            sc_proportions(args)
        s.heldout_per_class = 0
    if args.per_class is not None:
        if args.per_class < 2:
            raise QsimError(f"--per-class must be >= 2, got {args.per_class}")
        s.per_class = args.per_class
    if args.warp is not None:
        if not 0 <= args.warp < 1:
            raise QsimError(f"--warp must be in [0, 1), got {args.warp}")
        s.warp = args.warp
    with show_warnings("demo"):
        summary = run_demo(args.out, s, cache=args.cache, cmsis=args.cmsis, standin=args.standin,
                           verbose=args.verbose)
    print(summary_text(summary))
    print(f"wrote {args.out}: summary.txt, summary.json, model/, c/, parity.txt, report_*/")
    bad = sum(p["mismatches"] for p in summary["parity"].values())
    return 1 if bad else 0
