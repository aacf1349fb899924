"""`qsim data kws`: synthesize the labelled keyword-spotting set with espeak-ng."""


def register(subparsers):
    p = subparsers.add_parser("data", help="create datasets (kws: synthetic keyword spotting)",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    k = sub.add_parser("kws", help="yes/no/backward/_unknown_/_silence_ spoken by espeak-ng voices")
    k.add_argument("--out", default="data/kws", metavar="DIR", help="output directory (default data/kws)")
    k.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    k.add_argument("--per-class", type=int, default=400, metavar="N", help="clips per label (default 400)")
    k.add_argument("--voices", nargs="+", default=None, metavar="VOICE",
                   help="espeak-ng voice specs such as en-us or en-gb+Alex (default: every English "
                        "non-mbrola voice, plain and with each !v variant)")
    k.add_argument("--workers", type=int, default=2, metavar="N", help="synthesis processes (default 2)")
    k.add_argument("--warp", type=float, default=0.0, metavar="W",
                   help="augment: scale pitch and formants by a factor in [1/(1+W), 1+W] "
                        "(default 0: none)")
    k.add_argument("--force", action="store_true", help="replace DIR if it exists")
    return p


def run(args):
    from qsim.kws.dataset import synthesize_kws
    from qsim.errors import QsimError

    if not 0 <= args.warp < 1:
        raise QsimError(f"--warp must be in [0, 1), got {args.warp}")
    if args.per_class < 1:
        raise QsimError(f"--per-class must be >= 1, got {args.per_class}")
    from qsim.validate import check_count, check_seed

    from ._common import check_output
    check_seed("--seed", args.seed)
    check_count("--workers", args.workers)
    check_output(args.out, args.force, folder=True)
    manifest = synthesize_kws(args.out, seed=args.seed, per_class=args.per_class, voices=args.voices,
                              workers=args.workers, force=args.force, verbose=True, warp=args.warp)
    print(f"wrote {manifest}")
    return 0
