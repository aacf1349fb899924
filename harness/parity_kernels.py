"""Every numba kernel against the real CMSIS-NN host build, on the shared random cases.

For each function, `cases` argument tuples come from harness.cases.CASES (legal geometry for the
path, hard values mixed in); each is run through qsim.kernels.KERNELS and through the C library
(harness.cmsis_call) and compared exactly. Every fifth case uses an ARM_NN_TRUNCATE build of the
library and truncate=True in the kernel. A function without a kernel or a case generator is
reported as missing, never skipped silently.

A mismatch is any case where the outputs differ, or where one side raises and the other does not
(the generators only produce legal cases, so a rejection is itself a finding).
"""
import logging
import zlib
from dataclasses import dataclass, field

import numpy as np

from harness.cases import CASES
from qsim.cmsis_signatures import SIGNATURES
from qsim.errors import QsimError
from qsim.kernels import KERNELS

from .cmsis_call import CmsisLibrary

log = logging.getLogger(__name__)
TRUNCATE_EVERY = 5


@dataclass
class FunctionResult:
    name: str
    cases: int = 0
    mismatches: int = 0
    first: str = ""           # first mismatch, or why the function is missing
    missing: bool = False

    def row(self):
        status = "MISSING" if self.missing else ("ok" if not self.mismatches else "FAIL")
        return f"{self.name:<46} {status:<7} {self.cases:>5} {self.mismatches:>5}  {self.first}"


@dataclass
class ParityReport:
    version: str
    path: str
    results: list = field(default_factory=list)

    @property
    def compared(self):
        return [r for r in self.results if not r.missing]

    @property
    def missing(self):
        return [r for r in self.results if r.missing]

    @property
    def cases(self):
        return sum(r.cases for r in self.results)

    @property
    def mismatches(self):
        return sum(r.mismatches for r in self.results)

    def lines(self):
        head = f"{'function':<46} {'status':<7} {'cases':>5} {'bad':>5}  first mismatch"
        out = [f"CMSIS {self.version}, {self.path} path", head] + [r.row() for r in self.results]
        if self.missing:
            out.append(f"missing: {len(self.missing)} functions (kernel or case generator not written yet)")
        out.append(self.summary())
        return out

    def summary(self):
        return f"{len(self.compared)} functions, {self.cases} cases, {self.mismatches} mismatches"


def describe_mismatch(fn, case, got, expected):
    """One line like CMSIS's validate(): first differing index, expected (C) and got (kernel), count."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        return f"{fn} case {case}: kernel shape {got.shape} != C shape {expected.shape}"
    bad = np.argwhere(got != expected)
    first = tuple(int(i) for i in bad[0])
    return (f"{fn} case {case}: {len(bad)} of {got.size} values differ; first at {first}: "
            f"expected {expected[first]}, got {got[first]}")


def run_parity(checkout, path, cases, seed, functions=None) -> ParityReport:
    """Compare qsim.kernels with the real library for `functions` (default: all SIGNATURES).

    Parameters
    ----------
    checkout : cmsis_nn.locate.CmsisCheckout (its version is passed to the kernels)
    path : "ref" or "dsp" (both the C build and the kernels' path=)
    cases : random cases per function
    seed : base seed; each function's cases depend only on (seed, function name, path)
    functions : iterable of C names, or None for all

    Returns
    -------
    ParityReport with one FunctionResult per function, in the order given (default: sorted).
    """
    names = sorted(SIGNATURES) if functions is None else list(functions)
    unknown = [n for n in names if n not in SIGNATURES]
    if unknown:
        raise QsimError(f"unknown function(s) {', '.join(unknown)}. help: one of {', '.join(sorted(SIGNATURES))}")
    libs = {}

    def lib(truncate):
        if truncate not in libs:
            libs[truncate] = CmsisLibrary(checkout, path, truncate)
        return libs[truncate]

    report = ParityReport(checkout.version, path)
    for fn in names:
        res = FunctionResult(fn)
        report.results.append(res)
        if fn not in KERNELS or fn not in CASES:
            res.missing = True
            res.first = "no kernel in qsim.kernels" if fn not in KERNELS else "no generator in harness.cases"
            continue
        rng = np.random.default_rng([seed, zlib.crc32(f"{fn}/{path}".encode())])
        for i in range(cases):
            truncate = i % TRUNCATE_EVERY == TRUNCATE_EVERY - 1
            problem = _one_case(fn, i, rng, lib(truncate), truncate)
            res.cases += 1
            if problem:
                res.mismatches += 1
                res.first = res.first or problem
        log.info("%s: %d cases, %d mismatches", fn, res.cases, res.mismatches)
    return report


def _one_case(fn, i, rng, library, truncate):
    """None when kernel and C agree on case i, else a one-line description of the difference."""
    opts = f" (truncate={truncate})" if truncate else ""
    try:
        args = CASES[fn](rng, library.path, library.version)
    except Exception as e:  # a broken generator must show up in the report, not abort the run
        return f"{fn} case {i}: case generator raised {type(e).__name__}: {e}"
    try:
        got = KERNELS[fn](*args, path=library.path, release=library.version, truncate=truncate)
    except QsimError as e:
        return f"{fn} case {i}{opts}: kernel rejected a generated case: {e}"
    except Exception as e:
        return f"{fn} case {i}{opts}: kernel raised {type(e).__name__}: {e}"
    try:
        expected = library.call(fn, *args)
    except QsimError as e:
        return f"{fn} case {i}{opts}: C rejected a case the kernel accepted: {e}"
    if np.asarray(got).dtype != expected.dtype:
        return f"{fn} case {i}{opts}: kernel dtype {np.asarray(got).dtype} != C dtype {expected.dtype}"
    if np.array_equal(got, expected):
        return None
    return describe_mismatch(fn, i, got, expected) + opts
