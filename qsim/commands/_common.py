"""Helpers shared by the calibrate / quantize / evaluate / report commands.

Loading: `load_model` (ONNX file or saved qsim graph, weights checked finite), `load_quantized`,
`load_data` / `load_labels` (.npy, shape checked against the model, NaN/Inf rejected).
Writing: outputs are never half-written. `check_output` fails early if the target exists
(unless --force); `output_dir` builds a folder under a temporary name beside the target and
renames it into place only when everything inside succeeded; `write_file` is temp + rename.
`show_warnings` turns library warnings into one clean `qsim CMD: warning: ...` line each.
Commands that quantize (quantize, train kws) take `add_release_args` and say what they used
(`release_and_path`).
"""
import contextlib
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from qsim.errors import (CalibrationError, DataFileError, ModelFormatError, OutputExistsError,  # noqa: F401
                         ShapeError)
from qsim.fileio import DIR_MODE, FILE_MODE, atomic_write
from qsim.fileio import atomic_dir




def add_force(p):
    p.add_argument("--force", action="store_true", help="replace the output if it exists")


def add_release_args(p):
    """--release / --path of a command that quantizes; their defaults (qsim.releases) are filled
    in by release_and_path, so a run can say whether it used them."""
    from qsim.releases import DEFAULT_PATH, DEFAULT_RELEASE, PATHS, VERSIONS
    p.add_argument("--path", choices=PATHS, default=None,
                   help="CMSIS-NN code path: ref = plain C (Cortex-M0/M3), dsp = ARM_MATH_DSP "
                        f"(M4/M7/M33) (default {DEFAULT_PATH})")
    p.add_argument("--release", "--version", dest="release", choices=VERSIONS, default=None,
                   help="CMSIS_5 release whose arithmetic is simulated and generated "
                        f"(default {DEFAULT_RELEASE}, the last with this API)")


def release_and_path(args):
    """(release, path) of --release / --path with the defaults filled in; prints which were used
    (first, so it is said even when the run then fails)."""
    from qsim.releases import DEFAULT_PATH, DEFAULT_RELEASE
    release, path = args.release or DEFAULT_RELEASE, args.path or DEFAULT_PATH
    print(f"CMSIS_5 {release}{'' if args.release else ' (default; --release)'}, path {path}"
          f"{'' if args.path else ' (default; --path)'}")
    return release, path


def load_model(path, what="MODEL"):
    """An HWC float (or quantized) Graph from an .onnx file or a saved graph (folder / .json)."""
    from qsim.graph import Graph
    from qsim.importers.onnx_import import load_onnx

    p = Path(path)
    if not p.exists():
        raise ModelFormatError(f"{what} {p}: no such file or folder. help: give an .onnx file or "
                               "a folder written by `qsim quantize` / Graph.save")
    if p.is_dir():
        if not (p / "model.json").exists():
            raise ModelFormatError(f"{what} {p}: folder without model.json; a saved qsim graph is "
                                   "model.json + model.npz (written by `qsim quantize`/Graph.save)")
        g = Graph.load(p)
    elif p.suffix == ".json":
        g = Graph.load(p)
    else:
        try:
            g = load_onnx(p)
        except ModelFormatError as e:
            if "help:" in str(e):
                raise
            raise ModelFormatError(f"{what} {e}. help: MODEL must be an ONNX model (.onnx) or a "
                                   "folder saved by qsim; re-export or copy the file again") \
                from None
    for n in g.nodes:
        for k, v in n.params.items():
            a = np.asarray(v)
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise ModelFormatError(f"{what} {p}: layer '{n.name}' {k} holds "
                                       f"{int(np.sum(~np.isfinite(a)))} NaN/Inf values. help: "
                                       "check the training run or the export")
    g.require_hwc(f"{what} {p}")
    if len(g.inputs) != 1:
        raise ShapeError(f"{what} {p} has inputs {g.inputs}; qsim handles one-input models")
    return g


def load_quantized(path, what="QMODEL"):
    g = load_model(path, what)
    if g.quant.scheme is None or any(t.qformat is None for t in g.tensors.values()):
        raise ModelFormatError(f"{what} {path} is a float model, not a quantized one. help: "
                               "create it with `qsim quantize MODEL --calib CALIB.json -o DIR`")
    return g


def _read_npy(path, what):
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{what} {p}: no such file")
    try:
        arr = np.load(p, allow_pickle=False)
    except ValueError as e:
        raise DataFileError(f"{what} {p}: not a plain .npy array ({e}). help: save it with "
                            "numpy.save(path, array) from a numeric array (no objects, not .npz)") \
            from None
    except (OSError, EOFError) as e:
        raise DataFileError(f"{what} {p}: cannot read ({e})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise DataFileError(f"{what} {p}: dtype {getattr(arr, 'dtype', type(arr))} is not numeric")
    return arr


def load_data(path, graph, what="--data", empty_error=DataFileError):
    """(N,) + input shape float32 array, HWC; clear errors for NCHW, wrong size, NaN, empty."""
    x = _read_npy(path, what)
    shape = graph.tensors[graph.inputs[0]].shape
    if x.ndim != len(shape) + 1 or x.shape[1:] != shape:
        hint = ""
        if x.shape[1:] == shape[-1:] + shape[:-1]:
            hint = (" It looks like NCHW: qsim uses HWC. help: np.save(path, "
                    "x.transpose(0, 2, 3, 1))")
        elif x.shape == shape:
            hint = " It has no batch axis. help: np.save(path, x[None])"
        raise ShapeError(f"{what} {path} has shape {x.shape}; the model input "
                         f"'{graph.inputs[0]}' needs (N,) + {shape} (HWC, batch first).{hint}")
    if len(x) == 0:
        raise empty_error(f"{what} {path} is empty (shape {x.shape}); expected at least one "
                          f"item of shape {shape}")
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise DataFileError(f"{what} {path} holds {bad} NaN/Inf values. help: clean the data")
    return x


def load_labels(path, n, what="--labels"):
    y = _read_npy(path, what)
    if y.ndim != 1 or len(y) != n:
        raise ShapeError(f"{what} {path} has shape {y.shape}; expected ({n},), one class index "
                         "per data item" + (". help: one-hot -> y.argmax(axis=1)" if y.ndim == 2
                                            else ""))
    return y


def load_calibration(path):
    import json

    from qsim.calibrate import Calibration

    p = Path(path)
    if not p.is_file():
        raise CalibrationError(f"--calib {p}: no such file. help: create it with `qsim calibrate`")
    try:
        return Calibration.from_dict(json.loads(p.read_text()))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CalibrationError(f"--calib {p}: not a qsim calibration file ({type(e).__name__}: "
                               f"{e}). help: create it with `qsim calibrate`") from None


def check_output(path, force, folder):
    """Fail before any work if `path` exists (without --force) or has the wrong kind."""
    p = Path(path)
    if p.exists() or p.is_symlink():
        if not force:
            raise OutputExistsError(f"output {p} already exists. help: pass --force to replace "
                                    "it, or choose another output path")
        if folder and not p.is_dir():
            raise OutputExistsError(f"{p} exists and is a file, not a folder; remove it first")
        if not folder and p.is_dir():
            raise OutputExistsError(f"{p} exists and is a folder, not a file; remove it first")
    return p


def write_file(path, data: bytes):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)


@contextlib.contextmanager
def output_dir(path, force):
    """Yield a temporary folder beside `path`; on success it replaces `path`, on error it goes
    (check_output first, then qsim.fileio.atomic_dir)."""
    with atomic_dir(check_output(path, force, folder=True)) as tmp:
        yield tmp


@contextlib.contextmanager
def show_warnings(command):
    """Print each distinct library warning once as `qsim COMMAND: warning: message`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen = set()
            for w in caught:
                if not issubclass(w.category, UserWarning):
                    continue
                msg = str(w.message)
                if msg not in seen:
                    seen.add(msg)
                    print(f"qsim {command}: warning: {msg}", file=sys.stderr)
