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
        stats = {t: {k: stat_from_dict(s) for k, s in per.items()}
                 for t, per in d["tensors"].items()}
        return cls(stats, d["num_samples"])

    def save(self, path):
        atomic_write(path, json.dumps(self.to_dict()).encode())

    @classmethod
    def load(cls, path) -> "Calibration":
        return cls.from_dict(json.loads(Path(path).read_text()))


def _batches(data, batch_size, shape):
    if isinstance(data, np.ndarray) or hasattr(data, "__array__") and not hasattr(data, "__next__"):
        data = np.asarray(data)
        if data.ndim != len(shape) + 1:
            raise CalibrationError(f"calibration data has shape {data.shape}; expected "
                                   f"(N,) + {shape} (HWC, batch first)")
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

    Raises CalibrationError for empty data or batches of the wrong shape.
    """
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
            if batch.shape[1:] != shape or batch.ndim != len(shape) + 1:
                raise CalibrationError(f"calibration batch has shape {batch.shape}; expected "
                                       f"(N,) + {shape} (HWC, batch first)")
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
    return Calibration(per, n)
