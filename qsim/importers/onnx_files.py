"""Read an ONNX model for import: the file (or a ModelProto), its external data, onnx's checker.

External data (PyTorch's dynamo exporter writes `X.onnx` + `X.onnx.data`) is read from the
model's own folder, never the current directory: every tensor's `location` must be a plain
relative path (not absolute, no `..`) that resolves, symlinks followed, inside that folder, and
then onnx's own loader reads it with the model's folder as base. A ModelProto given in memory
has no folder, so it must not reference external data. All failures are ModelFormatError naming
the file, the tensor and the location.
"""
from pathlib import Path, PurePosixPath, PureWindowsPath

import onnx
from onnx import external_data_helper

from ..errors import ModelFormatError


def read_model(source):
    """(ModelProto with all data loaded and checked, where = its path or "<model>")."""
    model, where, folder = _read(source)
    _load_external(model, where, folder)
    _check_model(model, where)
    return model, where


def _read(source):
    if isinstance(source, onnx.ModelProto):
        return source, "<model>", None
    path = Path(source)
    if not path.is_file():
        raise ModelFormatError(f"{path}: no such file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf raises DecodeError/RuntimeWarning subclasses
        raise ModelFormatError(f"{path}: not an ONNX model or truncated file ({type(e).__name__}: "
                               f"{e})") from None
    return model, str(path), path.resolve().parent


def _all_tensors(graph):
    """Every TensorProto of `graph`: initializers and attribute tensors, subgraphs included."""
    yield from graph.initializer
    for n in graph.node:
        for a in n.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _all_tensors(g)


def _load_external(model, where, folder):
    """Read every external tensor's data from the model's folder, after checking that each
    `location` is a plain relative path that stays inside that folder."""
    external = [t for t in _all_tensors(model.graph)
                if external_data_helper.uses_external_data(t)]
    if not external:
        return
    for t in external:
        loc = next((e.value for e in t.external_data if e.key == "location"), "")
        if folder is None:
            raise ModelFormatError(f"{where}: tensor '{t.name}' keeps its data in the external "
                                   f"file {loc!r}, which a model given in memory cannot locate. "
                                   "help: pass the .onnx file's path instead")
        win = PureWindowsPath(loc)
        if (not loc or PurePosixPath(loc).is_absolute() or win.is_absolute() or win.drive
                or win.root or ".." in win.parts or any(ord(c) < 32 for c in loc)):
            raise ModelFormatError(f"{where}: tensor '{t.name}' has external data location "
                                   f"{loc!r}, which is not a plain path inside the model's "
                                   "folder (absolute, with '..' or control characters); qsim "
                                   "refuses to read it. help: keep the data file beside the "
                                   ".onnx and save with a relative location")
        file = (folder / loc).resolve()
        if not file.is_relative_to(folder):
            raise ModelFormatError(f"{where}: tensor '{t.name}' has external data location "
                                   f"{loc!r}, which resolves outside the model's folder "
                                   f"({file}); qsim refuses to read it")
        if not file.is_file():
            raise ModelFormatError(f"{where}: tensor '{t.name}' needs the external data file "
                                   f"{loc!r}, not found in the model's folder {folder}. help: "
                                   "copy the .onnx and its .data file together")
    try:
        external_data_helper.load_external_data_for_model(model, str(folder))
    except Exception as e:
        raise ModelFormatError(f"{where}: cannot read external data ({type(e).__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else ''}); the data file may "
                               "be truncated or belong to another export") from None


def _check_model(model, where):
    if not model.graph.node or not model.opset_import:
        raise ModelFormatError(f"{where}: not an ONNX model (no graph nodes or opset); the file "
                               "may be empty, truncated or of another format")
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise ModelFormatError(f"{where}: invalid ONNX model ({str(e).splitlines()[0]})") from None
