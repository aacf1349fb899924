"""Helpers shared by the calibrate / quantize / evaluate / report commands.

Loading: `load_model` (ONNX file or saved qsim graph, weights checked finite), `load_quantized`,
`load_data` / `load_labels` (.npy, shape checked against the model, NaN/Inf rejected).
Writing: outputs are never half-written. `check_output` fails early if the target exists
(unless --force), is an input, holds one or lies inside one, or cannot be written; `output_dir` builds a folder under a temporary name beside the target and
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
                         OutputPathError, ShapeError)
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


def add_sc_proportions(p):
    """--silence-percentage / --unknown-percentage for a Speech Commands folder (TF's flags)."""
    for name in ("silence", "unknown"):
        p.add_argument(f"--{name}-percentage", type=float, default=None, metavar="P",
                       help=f"with a Speech Commands folder: _{name}_ clips per split as P%% of its "
                            "keyword clips (default 10, as TF's speech_commands)")


def add_synth_extras(p):
    """--synth-unknown-percentage / --synth-silence-percentage (qsim.kws.synth_extras)."""
    p.add_argument("--synth-unknown-percentage", type=float, default=None, metavar="P",
                   help="with a Speech Commands folder: add synthesized _unknown_ clips (qsim's "
                        "voices, words other than the keywords) to the training split, P%% of its "
                        "keyword clips (default 0)")
    p.add_argument("--synth-silence-percentage", type=float, default=None, metavar="P",
                   help="with a Speech Commands folder: add synthesized _silence_ clips (coloured "
                        "noise, hum, -70..-10 dB) to the training split, P%% of its keyword clips "
                        "(default 0)")


def sc_proportions(args):
    """{silence_percentage, unknown_percentage, synth_*_percentage} the user gave
    (qsim.kws.speech_commands.index, qsim.kws.synth_extras)."""
    return {f"{k}_percentage": getattr(args, f"{k}_percentage")
            for k in ("silence", "unknown", "synth_unknown", "synth_silence")
            if getattr(args, f"{k}_percentage", None) is not None}


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
    """A quantized graph, checked by qsim.validate.validate_quantized before any stage reads it."""
    from qsim.validate import validate_quantized

    g = load_model(path, what)
    if g.quant.scheme is None or any(t.qformat is None for t in g.tensors.values()):
        raise ModelFormatError(f"{what} {path} is a float model, not a quantized one. help: "
                               "create it with `qsim quantize MODEL --calib CALIB.json -o DIR`")
    return validate_quantized(g, f"{what} {path}")


def npy_header(path, what):
    """(shape, dtype) from a .npy header, refusing a header that claims more bytes than the file
    holds or than memory allows, before anything is allocated."""
    from qsim.validate import check_memory

    p = Path(path)
    try:
        with open(p, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(f, max_header_size=100000)
            offset = f.tell()
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as e:
        raise DataFileError(f"{what} {p}: not a plain .npy array ({e}). help: save it with "
                            "numpy.save(path, array) from a numeric array (no objects, not .npz)") \
            from None
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise DataFileError(f"{what} {p}: dtype {dtype} is not numeric (not a plain .npy array "
                            "of numbers). help: save it with numpy.save(path, numeric_array)")
    items = int(np.prod(shape, dtype=object))
    need = items * dtype.itemsize
    have = p.stat().st_size - offset
    if need > have:
        raise DataFileError(f"{what} {p}: the header claims shape {shape} ({need} bytes) but the "
                            f"file holds {have} bytes after it; it is truncated or damaged. help: "
                            "save it again with numpy.save")
    check_memory(items * max(dtype.itemsize, 4) * 2, f"{what} {p} (shape {shape})",
                 "use a smaller data file")
    return shape, dtype


def _read_npy(path, what):
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{what} {p}: no such file")
    npy_header(p, what)
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
    except CalibrationError as e:
        raise CalibrationError(f"--calib {p}: {e}") from None
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, OSError,
            RecursionError) as e:
        raise CalibrationError(f"--calib {p}: not a qsim calibration file ({type(e).__name__}: "
                               f"{e}). help: create it with `qsim calibrate`") from None


_PSEUDO_FS = ("/proc", "/sys", "/dev")


def _resolved(path):
    return Path(os.path.abspath(os.path.realpath(os.fspath(path))))


def _input_paths(inputs):
    """Resolved input paths; a saved graph given as x/foo.json also owns x/foo.npz."""
    out = []
    for i in inputs:
        if i is None:
            continue
        r = _resolved(i)
        out.append(r)
        if r.suffix == ".json":
            out.append(r.with_suffix(".npz"))
    return out


def check_output(path, force, folder, inputs=()):
    """Fail before any work if `path` cannot be (re)written.

    The same rules for every command's -o: an output equal to, inside or containing any of
    `inputs` is refused even with --force (replacing it would destroy the input); a parent that
    is a file, a pseudo file system (/proc, /sys, /dev) or not writable is refused; an existing
    output needs --force and must be of the right kind (file or folder), which --force never
    changes.
    """
    p = Path(path)
    if not str(path):
        raise OutputPathError("the output path is empty. help: give a file or folder name")
    r = _resolved(p)
    for i in _input_paths(inputs):
        if r == i or i.is_relative_to(r) or r.is_relative_to(i):
            how = "is" if r == i else "contains" if i.is_relative_to(r) else "is inside"
            raise OutputPathError(f"output {p} {how} the input {i}; writing it would destroy the "
                                  "input (even with --force). help: choose another output path")
    if any(r == Path(f) or r.is_relative_to(f) for f in _PSEUDO_FS):
        raise OutputPathError(f"output {p} is under {r.parts[0]}{r.parts[1]}, a pseudo file "
                              "system. help: write to a normal folder")
    anc = r.parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise OutputPathError(f"output {p}: {anc} is a file, not a folder. help: choose an "
                              "output path whose parent folders are folders")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputPathError(f"output {p}: folder {anc} is not writable. help: choose another "
                              "output path")
    if p.exists() or p.is_symlink():
        if not force:
            raise OutputExistsError(f"output {p} already exists. help: pass --force to replace "
                                    "it, or choose another output path")
        if folder and not p.is_dir():
            raise OutputExistsError(f"{p} exists and is a file, not a folder; --force replaces "
                                    "a folder with a folder only. help: remove it first")
        if not folder and p.is_dir():
            raise OutputExistsError(f"{p} exists and is a folder, not a file; --force replaces "
                                    "a file with a file only. help: remove it first")
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
