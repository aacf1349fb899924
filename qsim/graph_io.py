"""Save and load a Graph as model.json + model.npz (no pickle anywhere).

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
from .errors import ModelFormatError, QsimError
from .fileio import atomic_write
from .fixedpoint import QFormat
from .graph import QUANT_FIELDS, Graph, Node, QuantSettings, TensorInfo
from .validate import validate_graph, validate_quantized

FORMAT, FORMAT_VERSION = "qsim-graph", 1


def _paths(path):
    path = Path(path)
    if path.suffix == ".json":
        return path, path.with_suffix(".npz")
    return path / "model.json", path / "model.npz"


def _q(qf):
    return None if qf is None else qf.to_dict()


def _jsonable(v):
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def save(graph: Graph, path) -> Path:
    jpath, npath = _paths(path)
    jpath.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{n.name}/{k}": np.asarray(v) for n in graph.nodes for k, v in n.params.items()}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    npz = buf.getvalue()
    doc = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "qsim_version": __version__,
        "npz_sha256": hashlib.sha256(npz).hexdigest(),
        "name": graph.name, "layout": graph.layout, "inputs": graph.inputs,
        "outputs": graph.outputs, "meta": graph.meta,
        "quant": vars(graph.quant),
        "tensors": [{"name": t.name, "shape": list(t.shape), "qformat": _q(t.qformat)}
                    for t in graph.tensors.values()],
        "nodes": [{"name": n.name, "op": n.op, "inputs": n.inputs, "outputs": n.outputs,
                   "attrs": {k: _jsonable(v) for k, v in n.attrs.items()},
                   "params": list(n.params),
                   **{f: (_q(getattr(n, f)) if f.endswith("_q") else getattr(n, f))
                      for f in QUANT_FIELDS}}
                  for n in graph.nodes],
    }
    atomic_write(npath, npz)
    atomic_write(jpath, json.dumps(doc, indent=1, sort_keys=True).encode())
    return jpath


def _qformat(v):
    """A QFormat from its JSON dict, refusing what int() would silently round (2.5, "7")."""
    if not isinstance(v, dict) or set(v) != {"bits", "frac_bits"} or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in v.values()):
        raise ValueError(f"format {str(v)[:80]} is not {{'bits': int, 'frac_bits': int}}")
    return QFormat(v["bits"], v["frac_bits"])


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def load(path) -> Graph:
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
        g = Graph(doc["name"], doc["layout"])
        g.inputs, g.outputs, g.meta = list(doc["inputs"]), list(doc["outputs"]), doc["meta"]
        g.quant = QuantSettings(**doc["quant"])
        for t in doc["tensors"]:
            qf = None if t["qformat"] is None else _qformat(t["qformat"])
            if not isinstance(t["shape"], list) or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in t["shape"]):
                raise ValueError(f"tensor {str(t['name'])[:80]!r}: shape {str(t['shape'])[:80]} is "
                                 "not a list of positive ints")
            g.tensors[t["name"]] = TensorInfo(t["name"], t["shape"], qf)
        for d in doc["nodes"]:
            n = Node(d["name"], d["op"], list(d["inputs"]), list(d["outputs"]),
                     {k: _tuples(v) for k, v in d["attrs"].items()},
                     {k: arrays[f"{d['name']}/{k}"] for k in d["params"]})
            for f in QUANT_FIELDS:
                v = d.get(f)
                setattr(n, f, _qformat(v) if f.endswith("_q") and v is not None else v)
            g.nodes.append(n)
        g.validate()
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as e:
        if isinstance(e, QsimError):
            raise
        raise ModelFormatError(f"{jpath}: malformed graph file ({type(e).__name__}: "
                               f"{str(e)[:200]}). help: save the graph again") from None
    if g.quant.scheme is None or any(t.qformat is None for t in g.tensors.values()):
        return validate_graph(g, str(jpath))      # float (or partly quantized, for tests) graph
    return validate_quantized(g, str(jpath))
