"""The file format of a saved Graph: model.json + model.npz (no pickle anywhere).

Graph.save / Graph.load call `write` / `read` here with the structure of Graph.to_dict /
Graph.from_dict; this module knows the files, not the IR classes (no import of qsim.graph).

model.json (UTF-8, sorted keys):
    format          "qsim-graph"            format_version  1
    qsim_version    writer's qsim version   npz_sha256      sha256 of the companion npz file
    name, layout ("HWC"/"CHW"), inputs [names], outputs [names], meta {free JSON}
    quant           {scheme, path, version, truncate}
    tensors         [{name, shape [ints], qformat null | {bits, frac_bits}}]   (order kept)
    nodes           [{name, op, inputs, outputs, attrs {..}, params [param names],
                      weight_q, bias_q (null | {bits, frac_bits}), bias_shift, out_shift,
                      kernel, pad_ch_in, pad_ch_out}]                           (graph order)
model.npz: one array per node parameter under the key "<node name>/<param name>".
Attribute lists of numbers come back as tuples. `load` refuses (ModelFormatError) a file that does
not parse into this schema, then checks the graph with qsim.validate (validate_quantized for a
quantized graph): an edited shift, format, kernel or name is refused here, before any stage.

Paths: a folder gets model.json + model.npz inside; "x/foo.json" means x/foo.json + x/foo.npz.
Both files are written to a temporary name in the same folder and renamed (npz first, then json),
so a reader never sees a half-written file.
"""
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ModelFormatError
from .fileio import atomic_write

FORMAT, FORMAT_VERSION = "qsim-graph", 1


def _paths(path):
    path = Path(path)
    if path.suffix == ".json":
        return path, path.with_suffix(".npz")
    return path / "model.json", path / "model.npz"


def write(doc: dict, arrays: dict, path) -> Path:
    """Write `doc` (Graph.to_dict's structure, completed with the format header) and `arrays`."""
    jpath, npath = _paths(path)
    jpath.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    npz = buf.getvalue()
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "qsim_version": __version__,
           "npz_sha256": hashlib.sha256(npz).hexdigest(), **doc}
    atomic_write(npath, npz)
    atomic_write(jpath, json.dumps(doc, indent=1, sort_keys=True).encode())
    return jpath


def read(path):
    """(doc, arrays, json path) of a saved graph, format and npz hash checked; for Graph.from_dict."""
    jpath, npath = _paths(path)
    try:
        doc = json.loads(jpath.read_text())
        npz = npath.read_bytes()
    except FileNotFoundError as e:
        raise ModelFormatError(f"{e.filename}: missing (a saved graph is model.json + model.npz)") \
            from None
    except OSError as e:
        raise ModelFormatError(f"{jpath}: cannot read ({e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ModelFormatError(f"{jpath}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFormatError(f"{jpath}: not a qsim graph file (format != {FORMAT!r})")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(f"{jpath}: format_version {doc.get('format_version')} is not "
                               f"{FORMAT_VERSION}; help: re-save it with this qsim version")
    if hashlib.sha256(npz).hexdigest() != doc.get("npz_sha256"):
        raise ModelFormatError(f"{npath} does not belong to {jpath} (sha256 differs); "
                               "help: save the graph again")
    try:
        with np.load(io.BytesIO(npz), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise ModelFormatError(f"{jpath}: malformed graph file ({type(e).__name__}: "
                               f"{str(e)[:200]}). help: save the graph again") from None
    return doc, arrays, jpath
