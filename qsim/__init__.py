"""qsim: bit-exact simulation, quantization and code generation for legacy CMSIS-NN q7/q15 networks.

Public API (imported lazily, so `import qsim` stays cheap and kernels_ref needs no numba):

    graph = qsim.load_onnx("model.onnx")            # or qsim.Graph.load("model_dir"), qsim.Sequential
    cal = qsim.calibrate(graph, X)                   # per-tensor statistics
    qgraph = qsim.quantize(graph, cal, scheme="q7", path="dsp")
    qgraph, report = qsim.tune_formats(graph, cal, X, scheme="q7")   # formats moved for fidelity
    ints = qsim.simulate(qgraph, X, trace=True)      # bit-exact CMSIS-NN, every layer
"""
import importlib
import sys
import types

__version__ = "0.1.0"

_API = {
    "Graph": "qsim.graph", "QFormat": "qsim.fixedpoint", "Sequential": "qsim.importers.spec",
    "load_onnx": "qsim.importers.onnx_import",
    "calibrate": "qsim.calibrate", "quantize": "qsim.quantize", "simulate": "qsim.simulate",
    "tune_formats": "qsim.tune",
    "predict": "qsim.simulate", "dequantize": "qsim.simulate", "run_float": "qsim.float_exec",
}
__all__ = sorted(_API) + ["load"]


def load(path):
    """A model from an .onnx file or a folder / .json written by Graph.save."""
    if str(path).lower().endswith(".onnx"):
        return __getattr__("load_onnx")(path)
    return __getattr__("Graph").load(path)


def __getattr__(name):
    if name == "run_float":  # float forward of a Graph (qsim.float_exec.run)
        return importlib.import_module("qsim.float_exec").run
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qsim' has no attribute {name!r}")


class _Package(types.ModuleType):
    """Keeps `qsim.calibrate` / `quantize` / `simulate` the functions: importing the submodule of
    the same name would otherwise replace the package attribute with the module."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _API.get(name) == value.__name__:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
