"""qsim's companion kernels: numba (qsim.kernels.COMPANION_KERNELS) vs their own C on the host.

Like harness.parity_kernels for the CMSIS functions: each function's random cases come from
harness.cases.COMPANION_CASES, run through the numba kernel and through the C
(harness.companion.build_companion, called via harness.cmsis_call.CmsisLibrary: guard bytes,
const inputs checked), and are compared exactly. Every fifth case uses the -DARM_NN_TRUNCATE build
and truncate=True. Agreement here is agreement between qsim's C and qsim's simulator (both are
qsim's own, written from the arithmetic in qsim_companion.h); the CMSIS parity runs are separate.

    python -m harness.parity_companion [--cases 20] [--seed 1] [--sanitize] [--function NAME ...]

With --sanitize the C is built with ASan + UBSan and buffers are exact-sized; run it with
`LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0`. Exit status 1 on any
mismatch.
"""
import argparse
import logging
import sys
import zlib

import numpy as np

from harness.cases import COMPANION_CASES
from qsim.companion_signatures import COMPANION_SIGNATURES
from qsim.errors import QsimError
from qsim.kernels import COMPANION_KERNELS

from .cmsis_call import CmsisLibrary
from .companion import build_companion
from .parity_kernels import TRUNCATE_EVERY, FunctionResult, ParityReport, describe_mismatch

log = logging.getLogger(__name__)


class CompanionReport(ParityReport):
    def lines(self):
        return [f"qsim companion kernels, C vs numba ({self.path})"] + super().lines()[1:]


def run_companion_parity(cases, seed, functions=None, sanitize=False) -> ParityReport:
    """Compare every companion kernel (or `functions`) with its C on `cases` random cases each.

    Returns
    -------
    CompanionReport (a harness.parity_kernels.ParityReport) with one FunctionResult per function.
    """
    names = sorted(COMPANION_SIGNATURES) if functions is None else list(functions)
    unknown = [n for n in names if n not in COMPANION_SIGNATURES]
    if unknown:
        raise QsimError(f"unknown companion function(s) {', '.join(unknown)}. help: one of "
                        f"{', '.join(sorted(COMPANION_SIGNATURES))}")
    libs = {}

    def lib(truncate):
        if truncate not in libs:
            libs[truncate] = CmsisLibrary.from_build(build_companion(truncate, sanitize), sanitize=sanitize)
        return libs[truncate]

    report = CompanionReport("companion", "host" + (", ASan+UBSan" if sanitize else ""))
    for fn in names:
        res = FunctionResult(fn)
        report.results.append(res)
        rng = np.random.default_rng([seed, zlib.crc32(fn.encode())])
        for i in range(cases):
            truncate = i % TRUNCATE_EVERY == TRUNCATE_EVERY - 1
            problem = _one_case(fn, i, COMPANION_CASES[fn](rng), lib(truncate), truncate)
            res.cases += 1
            if problem:
                res.mismatches += 1
                res.first = res.first or problem
        log.info("%s: %d cases, %d mismatches", fn, res.cases, res.mismatches)
    return report


def compare(fn, i, got, expected, opts=""):
    """None when the arrays agree exactly (dtype included), else a one-line description."""
    if np.asarray(got).dtype != expected.dtype:
        return f"{fn} case {i}{opts}: kernel dtype {np.asarray(got).dtype} != C dtype {expected.dtype}"
    if np.array_equal(got, expected):
        return None
    return describe_mismatch(fn, i, got, expected) + opts


def _one_case(fn, i, args, library, truncate):
    opts = " (truncate=True)" if truncate else ""
    try:
        got = COMPANION_KERNELS[fn](*args, truncate=truncate)
    except QsimError as e:
        return f"{fn} case {i}{opts}: kernel rejected a generated case: {e}"
    try:
        expected = library.call(fn, *args)
    except QsimError as e:
        return f"{fn} case {i}{opts}: C rejected a case the kernel accepted: {e}"
    return compare(fn, i, got, expected, opts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sanitize", action="store_true")
    ap.add_argument("--function", nargs="+")
    args = ap.parse_args(argv)
    try:
        report = run_companion_parity(args.cases, args.seed, args.function, args.sanitize)
    except QsimError as e:
        print(f"parity_companion: error: {e}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 1 if report.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
