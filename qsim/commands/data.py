"""`qsim data kws`: synthesize the labelled keyword-spotting set with espeak-ng, or (--from DIR)
check a folder in the Speech Commands layout and print its labels and splits as training sees them."""


def register(subparsers):
    from ._common import add_sc_proportions
    p = subparsers.add_parser("data", help="create datasets (kws: synthetic keyword spotting)",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    k = sub.add_parser("kws", help="yes/no/backward/_unknown_/_silence_ spoken by espeak-ng voices")
    k.add_argument("--out", default="data/kws", metavar="DIR", help="output directory (default data/kws)")
    k.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    k.add_argument("--per-class", type=int, default=400, metavar="N", help="clips per label (default 400)")
    k.add_argument("--voices", nargs="+", default=None, metavar="VOICE",
                   help="voice specs such as en-us or en-gb+Alex (espeak-ng) or flite:awb "
                        "(default: every English non-mbrola espeak-ng voice, plain and with each "
                        "!v variant, and the flite voices when flite is installed)")
    k.add_argument("--workers", type=int, default=2, metavar="N", help="synthesis processes (default 2)")
    k.add_argument("--warp", type=float, default=0.0, metavar="W",
                   help="augment: scale pitch and formants by a factor in [1/(1+W), 1+W] "
                        "(default 0: none)")
    k.add_argument("--augment", action="store_true",
                   help="augment: reverberation, microphone EQ, babble noise, SNR down to 0 dB, "
                        "more _unknown_ words, _silence_ up to -10 dB RMS, no near-keyword "
                        "_unknown_ words (the demo's setting)")
    k.add_argument("--heldout-per-class", type=int, default=0, metavar="N",
                   help="also N clips per label by festival's voices, split 'heldout' (a "
                        "synthesizer never used in training; needs festival) (default 0)")
    k.add_argument("--force", action="store_true", help="replace DIR if it exists")
    k.add_argument("--from", dest="source", default=None, metavar="SC_DIR",
                   help="instead of synthesizing: check every clip of a Speech Commands folder "
                        "(word folders, _background_noise_/, optional validation_list.txt / "
                        "testing_list.txt) and print clips per label and split; train on it with "
                        "`qsim train kws --data SC_DIR`")
    k.add_argument("--words", nargs="+", default=None, metavar="WORD",
                   help="with --from: the keywords (default yes no up down left right on off stop go)")
    add_sc_proportions(k)
    return p


def run(args):
    from qsim.kws.dataset import DEMO_VARIETY, NO_VARIETY, synthesize_kws
    from qsim.errors import QsimError

    from ._common import sc_proportions

    if args.source is not None:
        from qsim.kws import speech_commands as sc
        labels, rows = sc.index(args.source, tuple(args.words) if args.words else sc.WORDS,
                                **sc_proportions(args))
        sc.check(args.source, rows)
        print(sc.summary(labels, rows))
        print(f"{args.source}: {len(rows)} clips checked (16 kHz mono WAV, <= 1 s); train with "
              f"`qsim train kws --data {args.source}`")
        return 0
    if args.words or sc_proportions(args):
        raise QsimError("--words / --silence-percentage / --unknown-percentage need --from SC_DIR "
                        "(the synthesized set has fixed labels and proportions)")
    if not 0 <= args.warp < 1:
        raise QsimError(f"--warp must be in [0, 1), got {args.warp}")
    if args.per_class < 1 or args.heldout_per_class < 0:
        raise QsimError(f"--per-class must be >= 1 and --heldout-per-class >= 0, got "
                        f"{args.per_class} and {args.heldout_per_class}")
    from qsim.validate import check_count, check_seed

    from ._common import check_output
    check_seed("--seed", args.seed)
    check_count("--workers", args.workers)
    check_output(args.out, args.force, folder=True)
    manifest = synthesize_kws(args.out, seed=args.seed, per_class=args.per_class, voices=args.voices,
                              workers=args.workers, force=args.force, verbose=True, warp=args.warp,
                              augment=args.augment, heldout_per_class=args.heldout_per_class,
                              variety=DEMO_VARIETY if args.augment else NO_VARIETY)
    print(f"wrote {manifest}")
    return 0
