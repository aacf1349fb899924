"""The CMSIS_5 releases qsim models, each a `Release` with its result-changing facts named.

Code asks a fact (`rel.signed_char_index(path)`, `rel.nn_round_signed`) and never compares a
version string; adding a release is one entry in RELEASES plus its facts (and, if a fact is new,
the kernels that read it). The facts come from the semantics doc (§ numbers below) and were each
measured against the real sources of both tags; `kernels_ref/` keeps its own spelled-out
conditions so it stays an independent oracle. Pure Python, no numba: `qsim --help` imports it.

Facts (5.7.0 / 5.9.0):
  ref_signed_char_index      True / False  REF conv loops keep input row/column in a signed char (§1.1)
  nn_round_signed            False / True  NN_ROUND is (1 << s) >> 1 in int32: -2**30 at s = 31 (§0.3, §10)
  mult_unsigned_round        True / False  arm_nn_mult_q7/q15: (a*b + NN_ROUND) is unsigned, a negative
                                           product saturates to +max (§7.1)
  softmax_q7_dsp_lane_wrap   True / False  arm_softmax_q7's DSP body wraps byte lanes once an input is
                                           more than softmax_q7_dsp_spread (122) steps below the max (§4.2)
  activations_q15_clamped    True / False  arm_nn_activations_direct_q15 clamps the table index (§5.4)
  accumulate_ref_saturates   True / False  arm_nn_accumulate_q7_to_q15 saturates groups of 4 on the REF
                                           build too (5.9.0's REF wraps every element, §7.3)
  q15_fast_odd_width_check   False / True  DSP arm_convolve_HWC_q15_fast returns ARM_MATH_SIZE_MISMATCH
                                           for an odd dim_im_out (5.7.0 overruns; the _nonsquare
                                           function has no such check in either release, §1.8)
"""
from dataclasses import dataclass

from .errors import QsimError

PATHS = ("ref", "dsp")
# Cortex-M target -> the CMSIS-NN code path arm-none-eabi-gcc builds for it (__ARM_FEATURE_DSP)
TARGET_PATH = {"cortex-m4": "dsp", "cortex-m3": "ref"}
PATH_HELP = "'ref' is the plain-C build (x86 host, Cortex-M0/M3), 'dsp' ARM_MATH_DSP (Cortex-M4/M7/M33)"

# Defaults of the commands that create a model (qsim quantize); always printed when used.
DEFAULT_RELEASE = "5.9.0"
DEFAULT_PATH = "ref"


class UnknownRelease(QsimError, ValueError):
    """A CMSIS_5 tag or code path qsim does not model."""


@dataclass(frozen=True)
class Release:
    """One CMSIS_5 tag with the legacy q7/q15 API and the facts in which its results differ."""

    name: str                       # the CMSIS_5 git tag, e.g. "5.9.0"
    nn_lib: str                     # CMSIS-NN library version shipped in that tag
    revision: str                   # `$Revision:` of CMSIS/NN/Include/arm_nnfunctions.h
    ref_signed_char_index: bool
    nn_round_signed: bool
    mult_unsigned_round: bool
    softmax_q7_dsp_lane_wrap: bool
    activations_q15_clamped: bool
    accumulate_ref_saturates: bool
    q15_fast_odd_width_check: bool
    softmax_q7_dsp_spread: int = 122   # largest input distance below the max the DSP lanes survive
    standin_defines: tuple = ()        # -D flags making qsim's stand-in C imitate this release's REF path

    def __str__(self):
        return self.name

    def signed_char_index(self, path) -> bool:
        """True where the conv loops wrap input indices to int8 (REF path, §1.1)."""
        return check_path(path) == "ref" and self.ref_signed_char_index

    def softmax_q7_wraps(self, path) -> bool:
        """True where arm_softmax_q7 runs the byte-lane DSP body (§4.2)."""
        return check_path(path) == "dsp" and self.softmax_q7_dsp_lane_wrap

    def accumulate_saturates(self, path) -> bool:
        """True where arm_nn_accumulate_q7_to_q15 saturates its 4-element groups (§7.3)."""
        return check_path(path) == "dsp" or self.accumulate_ref_saturates

    def mult_bug(self, truncate) -> bool:
        """True where arm_nn_mult_q7/q15 shift an unsigned sum (no bug under ARM_NN_TRUNCATE,
        whose NN_ROUND is a signed 0)."""
        return self.mult_unsigned_round and not truncate


RELEASES = {r.name: r for r in (
    Release("5.7.0", nn_lib="1.3.0", revision="V.2.0.0", ref_signed_char_index=True,
            nn_round_signed=False, mult_unsigned_round=True, softmax_q7_dsp_lane_wrap=True,
            activations_q15_clamped=True, accumulate_ref_saturates=True,
            q15_fast_odd_width_check=False, standin_defines=("QSIM_STANDIN_CMSIS_570",)),
    Release("5.9.0", nn_lib="3.1.0", revision="V.9.0.0", ref_signed_char_index=False,
            nn_round_signed=True, mult_unsigned_round=False, softmax_q7_dsp_lane_wrap=False,
            activations_q15_clamped=False, accumulate_ref_saturates=False,
            q15_fast_odd_width_check=True),
)}
VERSIONS = tuple(RELEASES)


def release(name) -> Release:
    """The Release of a CMSIS_5 tag ("5.7.0", "5.9.0"); a Release is returned as it is.

    Raises UnknownRelease naming the tags qsim models.
    """
    if isinstance(name, Release):
        return name
    try:
        return RELEASES[name]
    except (KeyError, TypeError):
        raise UnknownRelease(
            f"CMSIS_5 release {name!r} is not one qsim models ({', '.join(VERSIONS)}). help: 5.8.0 "
            "is NN Lib 3.0.0 and later CMSIS-NN has no q7/q15 API; pick 5.9.0 (the last legacy "
            "release) unless your firmware ships 5.7.0") from None


def check_path(path) -> str:
    """`path` itself if it is a CMSIS-NN code path, else UnknownRelease naming the choices."""
    if path not in PATHS:
        raise UnknownRelease(f"CMSIS-NN code path {path!r} is not one of {PATHS}. help: {PATH_HELP}.")
    return path
