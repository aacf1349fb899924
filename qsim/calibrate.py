"""Run the float graph over a dataset and collect per-tensor statistics.

`calibrate` returns a `Calibration` and leaves the graph untouched (the graph holds only what
codegen needs; statistics are a separate, saveable artefact that `qsim.quantize` reads):

    cal = calibrate(graph, x_train, batch_size=256, stats=("minmax", "log2hist"))
    cal.range("conv1")                  # (lo, hi) from the first statistic, here MinMax
    cal["conv1"]["log2hist"].counts     # any statistic by its key
    cal.save("cal.json"); Calibration.load("cal.json")

Every tensor of the graph (input included) gets one fresh instance of each requested statistic
(see `qsim.stats`: MinMax, Percentile(p), Log2Histogram, chosen by name or instance).
"""
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import float_exec
from .errors import CalibrationError
from .fileio import atomic_write
from .stats import make_stat, stat_from_dict


class Calibration:
    """Statistics per tensor: `stats[tensor name][stat key] -> stat object`."""

    def __init__(self, stats: dict, num_samples: int):
        self.stats = stats
        self.num_samples = num_samples

    def __getitem__(self, tensor) -> dict:
        return self.stats[tensor]

    def __contains__(self, tensor):
        return tensor in self.stats

    def range(self, tensor, stat=None) -> tuple:
        """(lo, hi) of `tensor` from statistic `stat` (a key; default: the first one collected)."""
        per = self.stats[tensor]
        return per[stat if stat is not None else next(iter(per))].range()

    def to_dict(self) -> dict:
        return {"num_samples": self.num_samples,
                "tensors": {t: {k: s.to_dict() for k, s in per.items()}
                            for t, per in self.stats.items()}}

    @classmethod
    def from_dict(cls, d) -> "Calibration":
        """Rebuild from to_dict()'s form; CalibrationError naming the tensor for anything else
        (a range "hi": "big", a tensor null, NaN/Inf, counts that are not counts...)."""
        if not isinstance(d, dict) or not isinstance(d.get("tensors"), dict) or not d["tensors"]:
            raise CalibrationError("no 'tensors' object with per-tensor statistics")
        n = d.get("num_samples")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise CalibrationError(f"num_samples={str(n)[:40]!r} is not a count >= 1")
        stats = {}
        for t, per in d["tensors"].items():
            if not isinstance(per, dict) or not per:
                raise CalibrationError(f"tensor '{t[:80]}': statistics {str(per)[:40]} are not "
                                       "an object of statistics")
            try:
                stats[t] = {k: stat_from_dict(s) for k, s in per.items()}
            except CalibrationError as e:
                raise CalibrationError(f"tensor '{t[:80]}': {e}") from None
        return cls(stats, n)

    def check_finite(self):
        """Refuse NaN/Inf ranges (a float overflow in the forward pass) before they are saved."""
        for t, per in self.stats.items():
            for k, s in per.items():
                lo, hi = s.range()
                if not (np.isfinite(lo) and np.isfinite(hi)):
                    raise CalibrationError(
                        f"tensor '{t}': {k} range ({lo}, {hi}) is not finite: the float forward "
                        "pass overflowed or produced NaN (weights or data too large?). help: "
                        "check the model's weights and the data")
        return self

    def save(self, path):
        atomic_write(path, json.dumps(self.check_finite().to_dict(), allow_nan=False).encode())

    @classmethod
    def load(cls, path) -> "Calibration":
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError, RecursionError) as e:
            raise CalibrationError(f"{path}: not a calibration file ({e})") from None
        return cls.from_dict(doc)


def _check_batch(batch, shape):
    if batch.dtype.kind not in "biuf":
        raise CalibrationError(f"calibration data has dtype {batch.dtype}; expected numbers")
    if batch.shape[1:] != shape or batch.ndim != len(shape) + 1:
        raise CalibrationError(f"calibration batch has shape {batch.shape}; expected "
                               f"(N,) + {shape} (HWC, batch first)")
    if batch.dtype.kind == "f" and not np.all(np.isfinite(batch)):
        raise CalibrationError(f"calibration data holds {int(np.sum(~np.isfinite(batch)))} "
                               "NaN/Inf values. help: clean the data")


def _batches(data, batch_size, shape):
    if data is None or isinstance(data, (str, bytes, dict)):
        raise CalibrationError(f"calibration data must be an array (N,) + {shape} or an iterable "
                               f"of such batches, got {type(data).__name__}")
    if isinstance(data, np.ndarray) or hasattr(data, "__array__") and not hasattr(data, "__next__"):
        data = np.asarray(data)
        _check_batch(data, shape)
        return (data[i:i + batch_size] for i in range(0, len(data), batch_size)), len(data)
    return iter(data), None


def calibrate(graph, data, batch_size=256, stats=("minmax",), verbose=False, dtype=np.float32):
    """Stream `data` through `float_exec.run(trace=True)` and fold every tensor into `stats`.

    Parameters
    ----------
    graph : HWC Graph with one input
    data : array (N,) + input shape, or an iterable of such batches (any batch sizes)
    batch_size : batch size used to slice an array (ignored for an iterable)
    stats : statistic names/instances (see qsim.stats.make_stat); the first one is the default
        of Calibration.range
    verbose : show a tqdm progress bar
    dtype : float dtype of the forward pass

    Returns
    -------
    Calibration

    Raises CalibrationError for empty data, batches of the wrong shape, NaN/Inf data, or
    statistics that are not finite (the float forward pass overflowed, e.g. weights of 3e38).
    """
    from .validate import check_count, validate_graph
    validate_graph(graph, "calibrate")
    check_count("calibrate: batch_size", batch_size)
    graph.require_hwc("calibrate")
    if len(graph.inputs) != 1:
        raise CalibrationError(f"calibrate handles one-input graphs; this one has {graph.inputs}")
    if isinstance(stats, (str, type)) or hasattr(stats, "update"):
        stats = (stats,)
    shape = graph.tensors[graph.inputs[0]].shape
    batches, total = _batches(data, batch_size, shape)
    per = {t: {} for t in graph.tensors}
    for t in per:
        for spec in stats:
            s = make_stat(spec)
            per[t][s.key] = s
    n = 0
    with tqdm(total=total, disable=not verbose, desc="calibrate", unit="sample") as bar:
        for batch in batches:
            batch = np.asarray(batch)
            _check_batch(batch, shape)
            if not len(batch):
                continue
            env = float_exec.run(graph, batch, dtype=dtype, trace=True)
            for t, arr in env.items():
                for s in per[t].values():
                    s.update(arr)
            n += len(batch)
            bar.update(len(batch))
    if n == 0:
        raise CalibrationError(f"calibration data is empty; expected at least one sample of "
                               f"shape {shape}")
    return Calibration(per, n).check_finite()
