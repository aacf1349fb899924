"""Find a CMSIS_5 checkout (an explicit path or $CMSIS_PATH) and tell which release it is.

A checkout is a folder holding `CMSIS/NN`, `CMSIS/DSP/Include` and `CMSIS/Core/Include`: either a
CMSIS_5 git clone at a release tag or a `git archive` of one (cmsis_nn/README.md). Pointing at the
inner `CMSIS` folder works too. Only the legacy q7/q15 releases qsim models are accepted:

  5.7.0  NN Lib 1.3.0: no DSP/Include/arm_math_types.h, no NN/Include/arm_nn_math_types.h,
         arm_nnfunctions.h says `$Revision: V.2.0.0`
  5.9.0  NN Lib 3.1.0: both of those headers exist, arm_nnfunctions.h says `$Revision: V.9.0.0`
"""
import os
import re
from dataclasses import dataclass
from pathlib import Path

from qsim.errors import CmsisNotFound
from qsim.releases import RELEASES, VERSIONS  # noqa: F401  (VERSIONS: the tags find_cmsis accepts)

HELP = ("help: clone https://github.com/ARM-software/CMSIS_5 and extract a release with "
        "`git -C CMSIS_5 archive 5.9.0 CMSIS/NN CMSIS/DSP/Include CMSIS/Core/Include | tar -x -C ~/cmsis-5.9.0` "
        "(or 5.7.0), then pass --cmsis ~/cmsis-5.9.0 or set CMSIS_PATH; see cmsis_nn/README.md")

# The 34 legacy q7/q15 translation units (semantics doc §9.2), relative to CMSIS/NN/Source.
SOURCES = (
    "ActivationFunctions/arm_nn_activations_q15.c", "ActivationFunctions/arm_nn_activations_q7.c",
    "ActivationFunctions/arm_relu_q15.c", "ActivationFunctions/arm_relu_q7.c",
    "ConvolutionFunctions/arm_convolve_1x1_HWC_q7_fast_nonsquare.c",
    "ConvolutionFunctions/arm_convolve_HWC_q15_basic.c", "ConvolutionFunctions/arm_convolve_HWC_q15_fast.c",
    "ConvolutionFunctions/arm_convolve_HWC_q15_fast_nonsquare.c", "ConvolutionFunctions/arm_convolve_HWC_q7_RGB.c",
    "ConvolutionFunctions/arm_convolve_HWC_q7_basic.c", "ConvolutionFunctions/arm_convolve_HWC_q7_basic_nonsquare.c",
    "ConvolutionFunctions/arm_convolve_HWC_q7_fast.c", "ConvolutionFunctions/arm_convolve_HWC_q7_fast_nonsquare.c",
    "ConvolutionFunctions/arm_depthwise_separable_conv_HWC_q7.c",
    "ConvolutionFunctions/arm_depthwise_separable_conv_HWC_q7_nonsquare.c",
    "ConvolutionFunctions/arm_nn_mat_mult_kernel_q7_q15.c",
    "ConvolutionFunctions/arm_nn_mat_mult_kernel_q7_q15_reordered.c",
    "FullyConnectedFunctions/arm_fully_connected_mat_q7_vec_q15.c",
    "FullyConnectedFunctions/arm_fully_connected_mat_q7_vec_q15_opt.c",
    "FullyConnectedFunctions/arm_fully_connected_q15.c", "FullyConnectedFunctions/arm_fully_connected_q15_opt.c",
    "FullyConnectedFunctions/arm_fully_connected_q7.c", "FullyConnectedFunctions/arm_fully_connected_q7_opt.c",
    "NNSupportFunctions/arm_nn_accumulate_q7_to_q15.c", "NNSupportFunctions/arm_nn_add_q7.c",
    "NNSupportFunctions/arm_nn_mult_q15.c", "NNSupportFunctions/arm_nn_mult_q7.c", "NNSupportFunctions/arm_nntables.c",
    "NNSupportFunctions/arm_q7_to_q15_no_shift.c", "NNSupportFunctions/arm_q7_to_q15_reordered_no_shift.c",
    "PoolingFunctions/arm_pool_q7_HWC.c",
    "SoftmaxFunctions/arm_softmax_q15.c", "SoftmaxFunctions/arm_softmax_q7.c",
    "SoftmaxFunctions/arm_softmax_with_batch_q7.c",
)

INCLUDE_DIRS = ("CMSIS/NN/Include", "CMSIS/DSP/Include", "CMSIS/Core/Include")

# Headers the 34 units open (gcc -M over both paths), relative to the checkout root.
HEADERS = {
    "5.7.0": ("CMSIS/NN/Include/arm_nnfunctions.h", "CMSIS/NN/Include/arm_nnsupportfunctions.h",
              "CMSIS/NN/Include/arm_nn_tables.h", "CMSIS/DSP/Include/arm_math.h",
              "CMSIS/DSP/Include/arm_common_tables.h", "CMSIS/Core/Include/cmsis_compiler.h",
              "CMSIS/Core/Include/cmsis_gcc.h"),
    "5.9.0": ("CMSIS/NN/Include/arm_nnfunctions.h", "CMSIS/NN/Include/arm_nnsupportfunctions.h",
              "CMSIS/NN/Include/arm_nn_tables.h", "CMSIS/NN/Include/arm_nn_types.h",
              "CMSIS/NN/Include/arm_nn_math_types.h", "CMSIS/DSP/Include/arm_math_types.h",
              "CMSIS/Core/Include/cmsis_compiler.h", "CMSIS/Core/Include/cmsis_gcc.h"),
}

_REVISION = {r.revision: r.name for r in RELEASES.values()}


@dataclass(frozen=True)
class CmsisCheckout:
    root: Path        # the folder holding CMSIS/
    version: str      # "5.7.0" or "5.9.0"

    @property
    def include_dirs(self):
        return [self.root / d for d in INCLUDE_DIRS]

    @property
    def source_files(self):
        return [self.root / "CMSIS" / "NN" / "Source" / s for s in SOURCES]


def find_cmsis(path=None) -> CmsisCheckout:
    """Resolve `path`, else $CMSIS_PATH, to a checked CmsisCheckout.

    Raises
    ------
    CmsisNotFound
        no path given, the folder is not a CMSIS_5 checkout, files are missing, or the release is
        not one qsim models; the message says what was found and how to get a checkout.
    """
    if path is None:
        path = os.environ.get("CMSIS_PATH")
        if not path:
            raise CmsisNotFound(f"no CMSIS_5 checkout given: pass --cmsis PATH or set CMSIS_PATH. {HELP}")
    given = Path(path).expanduser()
    if not given.is_dir():
        raise CmsisNotFound(f"CMSIS path {given} does not exist or is not a folder. {HELP}")
    root = _root_of(given)
    version = detect_version(root)
    missing = [f for f in HEADERS[version] + tuple(f"CMSIS/NN/Source/{s}" for s in SOURCES)
               if not (root / f).is_file()]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise CmsisNotFound(f"CMSIS {version} checkout at {root} is incomplete: missing {shown}. "
                            f"Extract all of CMSIS/NN, CMSIS/DSP/Include and CMSIS/Core/Include. {HELP}")
    return CmsisCheckout(root.resolve(), version)


def _root_of(given: Path) -> Path:
    for candidate in (given, given.parent):
        if (candidate / "CMSIS" / "NN").is_dir():
            return candidate
    if (given / "NN").is_dir() or (given / "Source").is_dir() and (given / "Include").is_dir():
        hint = "  (point at the folder that holds CMSIS/, not at CMSIS/NN)"
    else:
        found = sorted(p.name for p in given.iterdir())[:12]
        hint = f"  (found: {', '.join(found) or 'an empty folder'})"
    raise CmsisNotFound(f"{given} is not a CMSIS_5 checkout: no CMSIS/NN folder in it{hint}. {HELP}")


def detect_version(root: Path) -> str:
    """Tell 5.7.0 from 5.9.0 by file markers; anything else raises CmsisNotFound naming what was seen."""
    nn_h = root / "CMSIS/NN/Include/arm_nnfunctions.h"
    revision = None
    if nn_h.is_file():
        m = re.search(r"\$Revision:\s*(V[.\d]+)", nn_h.read_text(errors="replace")[:4000])
        revision = m.group(1) if m else None
    has_types = (root / "CMSIS/DSP/Include/arm_math_types.h").is_file()
    has_nn_types = (root / "CMSIS/NN/Include/arm_nn_math_types.h").is_file()
    has_batch_softmax = (root / "CMSIS/NN/Source/SoftmaxFunctions/arm_softmax_with_batch_q7.c").is_file()
    by_files = {(False, False, True): "5.7.0", (True, True, True): "5.9.0"}.get(
        (has_types, has_nn_types, has_batch_softmax))
    if revision is not None and revision in _REVISION and _REVISION[revision] == by_files:
        return by_files
    seen = (f"arm_nnfunctions.h revision {revision or 'not found'}, "
            f"DSP/Include/arm_math_types.h {'present' if has_types else 'absent'}, "
            f"NN/Include/arm_nn_math_types.h {'present' if has_nn_types else 'absent'}, "
            f"arm_softmax_with_batch_q7.c {'present' if has_batch_softmax else 'absent'}")
    raise CmsisNotFound(f"{root} is not CMSIS_5 release 5.7.0 or 5.9.0 (found: {seen}); qsim models "
                        f"only those two legacy-API releases (5.8.0 is NN Lib 3.0.0, later CMSIS-NN "
                        f"has no q7/q15 API). {HELP}")
