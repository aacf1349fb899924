"""`qsim parity-kernels`: every numba kernel against the real CMSIS-NN built for this host.

Prints one row per function (status, cases, mismatching cases, first mismatch) and ends with
`FUNCTIONS functions, CASES cases, MISMATCHES mismatches`. Exit status 1 on any mismatch, or when a
function named with --function has no kernel yet; 2 when CMSIS cannot be found or built.
"""
from qsim.cmsis_signatures import SIGNATURES
from qsim.releases import PATHS


def register(subparsers):
    p = subparsers.add_parser(
        "parity-kernels", help="check every kernel bit-exactly against the real CMSIS-NN (host build)",
        description=__doc__.splitlines()[0])
    p.add_argument("--cmsis", metavar="PATH", default=None,
                   help="CMSIS_5 checkout at tag 5.7.0 or 5.9.0 (default: $CMSIS_PATH)")
    p.add_argument("--path", choices=PATHS, default="ref",
                   help="C code path: ref = plain C (Cortex-M0/M3), dsp = ARM_MATH_DSP (M4/M7) via "
                        "qsim's intrinsic emulation (default: ref)")
    p.add_argument("--cases", type=int, default=20, metavar="N", help="random cases per function (default 20)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="base random seed (default 0)")
    p.add_argument("--function", nargs="+", metavar="NAME", choices=sorted(SIGNATURES), default=None,
                   help="only these C functions (default: all)")
    return p


def run(args):
    # imported here so that `qsim --help` does not load numba and every kernel
    from cmsis_nn.locate import find_cmsis
    from harness.parity_kernels import run_parity

    from qsim.validate import check_count, check_seed

    check_count("--cases", args.cases)
    check_seed("--seed", args.seed)
    checkout = find_cmsis(args.cmsis)
    report = run_parity(checkout, args.path, args.cases, args.seed, args.function)
    for line in report.lines():
        print(line)
    missing_requested = args.function is not None and report.missing
    return 1 if report.mismatches or missing_requested else 0
