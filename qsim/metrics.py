"""The numbers of float vs quantized: accuracy, top-1 agreement, per-layer SQNR and saturation in
one Report (`qsim report` prints them; qsim.plots draws them).

    rep = evaluate(float_graph, qgraph, x_test, y_test)
    print(rep.to_text())                 # summary + one row per layer
    Path("report.json").write_text(rep.to_json())

`evaluate` streams the data in batches through `float_exec.run(trace=True)` and
`simulate(trace=True)` and compares every tensor by name (quantize keeps the float graph's tensor
names). Per tensor it accumulates:
    SQNR      10 log10(sum f**2 / sum (f - dequantized q)**2) in dB over all items and elements;
              +inf when the quantized tensor is exact (JSON: null), -inf when f is all zero but q
              is not. The output of a softmax compares CMSIS's base-2 softmax with the float
              net's natural one, so a low SQNR there is expected (argmax agreement is what counts).
              A tensor read only by relus (not a graph output) is compared after the relu,
              max(f, 0) with max(q, 0): its negative side, saturated or not, becomes 0 anyway
              (the quantizer gives it no range: qsim.quantize).
    at_max / at_min   integers equal to the format's qmax / qmin
    saturated         at_max + at_min, where at_min is left out when every reader of the tensor
                      is a relu (those values become 0 anyway) and it is not a graph output
Accuracy against float is also given paired over the same items (`paired_delta`): how many
items only the quantized net gets right and how many only the float net does, the difference's
exact confidence interval and McNemar's exact test, so a user can tell a real quantization loss
from the noise of a small test set.
The float data is always taken as floats (integer .npy data is converted), so the quantized run
quantizes it with the input format exactly as the deployed pre-processing would. Histograms of
every float tensor (Log2Histogram) are kept in `Report.histograms` for `qsim.plots`.
"""
import json
import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from . import float_exec
from .errors import QuantizationError, SaturationWarning, ShapeError
from .ops import OPS
from .passes.transpose_hw import match_float_graph
from .simulate import simulate
from .stats import Log2Histogram




@dataclass
class LayerStats:
    """One row of the report: a node's output tensor (or the graph input, op "input")."""

    name: str
    op: str
    tensor: str
    kernel: str | None
    input_q: str | None
    output_q: str
    weight_q: str | None = None
    bias_q: str | None = None
    bias_shift: int | None = None
    out_shift: int | None = None
    sqnr_db: float = math.nan
    weight_sqnr_db: float | None = None
    at_max: int = 0
    at_min: int = 0
    saturated: int = 0
    size: int = 0

    @property
    def saturated_pct(self) -> float:
        return 100.0 * self.saturated / self.size if self.size else 0.0


@dataclass
class PairedDelta:
    """Accuracy of a new classifier minus a reference one, paired over the same labelled items.

    gained: items only the new one gets right; lost: items only the reference gets right.
    delta = (gained - lost) / n. Given the k = gained + lost discordant items, gained is
    Binomial(k, pi) with pi = 1/2 when both are equally accurate (McNemar's exact test:
    p_value, two-sided); the confidence interval of delta is k / n * (2 pi - 1) at the
    Clopper-Pearson interval of pi (exact, conditional on k). No discordant item: delta 0,
    interval [0, 0], p 1.
    """

    n: int
    gained: int
    lost: int
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float = 0.95

    def describe(self, new="quantized", ref="float", unit="items") -> str:
        pts = lambda v: f"{100 * v:+.2f}"   # noqa: E731
        one = unit[:-1] if unit.endswith("s") else unit
        return (f"{pts(self.delta)} points ({100 * self.confidence:g}% CI {pts(self.ci_low)} .. "
                f"{pts(self.ci_high)}; {self.gained} {one if self.gained == 1 else unit} right "
                f"only in {new}, {self.lost} only in {ref}; McNemar p {self.p_value:.2g})")


def paired_delta(y, pred_ref, pred_new, confidence=0.95) -> PairedDelta:
    """PairedDelta of `pred_new` against `pred_ref` (class indices) for labels `y`, all (N,)."""
    from scipy.stats import binomtest

    y, a, b = (np.asarray(v).reshape(-1) for v in (y, pred_ref, pred_new))
    if not (len(y) == len(a) == len(b)) or len(y) == 0:
        raise ShapeError(f"paired_delta: labels and both predictions need the same non-zero "
                         f"length, got {len(y)}, {len(a)}, {len(b)}")
    if not 0 < confidence < 1:
        raise ShapeError(f"paired_delta: confidence must be in (0, 1), got {confidence!r}")
    ra, rb = a == y, b == y
    gained, lost, n = int(np.sum(rb & ~ra)), int(np.sum(ra & ~rb)), len(y)
    k = gained + lost
    if k == 0:
        return PairedDelta(n, 0, 0, 0.0, 0.0, 0.0, 1.0, confidence)
    test = binomtest(gained, k, 0.5)
    ci = test.proportion_ci(confidence_level=confidence, method="exact")
    return PairedDelta(n, gained, lost, (gained - lost) / n, k / n * (2 * ci.low - 1),
                       k / n * (2 * ci.high - 1), float(min(1.0, test.pvalue)), confidence)


@dataclass
class Report:
    """Result of `evaluate`; accuracies are None without labels."""

    model: str
    scheme: str
    path: str
    version: str
    truncate: bool
    num_samples: int
    agreement: float
    float_accuracy: float | None = None
    quant_accuracy: float | None = None
    delta: PairedDelta | None = None      # quantized - float accuracy, paired (with labels)
    layers: list = field(default_factory=list)
    histograms: dict = field(default_factory=dict, repr=False)   # tensor -> Log2Histogram

    def _scored(self):
        # softmax is left out of the summary lines: CMSIS's is base 2 (its SQNR against the float
        # softmax is low by design) and a confident class sits at qmax by design.
        return [r for r in self.layers if r.op not in ("input", "softmax")]

    def worst_layer(self) -> LayerStats | None:
        """The layer (graph input and softmax excluded) with the lowest finite SQNR."""
        rows = [r for r in self._scored() if math.isfinite(r.sqnr_db)]
        return min(rows, key=lambda r: r.sqnr_db, default=None)

    def summary(self) -> str:
        pct = lambda v: "n/a (no labels)" if v is None else f"{100 * v:.2f}%"   # noqa: E731
        lines = [f"model {self.model}: scheme {self.scheme}, path {self.path}, CMSIS "
                 f"{self.version}{', truncate' if self.truncate else ''}; "
                 f"{self.num_samples} samples",
                 f"  float accuracy      {pct(self.float_accuracy)}",
                 f"  quantized accuracy  {pct(self.quant_accuracy)}",
                 f"  top-1 agreement     {100 * self.agreement:.2f}%"]
        if self.delta is not None:
            lines.insert(3, f"  quantized - float   {self.delta.describe()}")
        worst = self.worst_layer()
        if worst is not None:
            lines.append(f"  lowest SQNR         {worst.sqnr_db:.1f} dB at layer '{worst.name}'")
        sat = [r for r in self.layers if r.saturated and r.op != "softmax"]
        if sat:
            top = max(sat, key=lambda r: r.saturated_pct)
            hint = " (data outside the calibrated range?)" if top.op == "input" else ""
            lines.append(f"  most saturated      {top.saturated_pct:.2f}% at '{top.name}' "
                         f"({top.saturated} of {top.size} values at {top.output_q} limits){hint}")
        return "\n".join(lines)

    def table(self) -> str:
        head = ("layer", "op", "kernel", "in", "out", "weight", "bias", "b_sh", "o_sh",
                "SQNR dB", "w SQNR", "sat %", "at max", "at min")
        rows = [head]
        for r in self.layers:
            rows.append((r.name, r.op, r.kernel or "-", r.input_q or "-", r.output_q,
                         r.weight_q or "-", r.bias_q or "-", _int(r.bias_shift), _int(r.out_shift),
                         _db(r.sqnr_db), _db(r.weight_sqnr_db), f"{r.saturated_pct:.2f}",
                         str(r.at_max), str(r.at_min)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        numeric = set(range(7, len(head)))
        out = []
        for k, row in enumerate(rows):
            cells = [c.rjust(w) if i in numeric else c.ljust(w)
                     for i, (c, w) in enumerate(zip(row, widths))]
            out.append("  ".join(cells).rstrip())
            if k == 0:
                out.append("  ".join("-" * w for w in widths))
        return "\n".join(out)

    def to_text(self) -> str:
        return (self.summary() + "\n\n" + self.table() + "\n\nsat %: values at the output "
                "format's limits (qmin not counted before a relu). SQNR inf = exact; before a "
                "relu it is taken after it (the negative side becomes 0 anyway). softmax "
                "compares CMSIS's base-2 softmax with the float one: judge it by the agreement.\n")

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("layers", "histograms")}
        d["layers"] = []
        for r in self.layers:
            row = asdict(r)
            row["saturated_pct"] = r.saturated_pct
            for k in ("sqnr_db", "weight_sqnr_db"):
                row[k] = row[k] if row[k] is not None and math.isfinite(row[k]) else None
            d["layers"].append(row)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)


def _int(v):
    return "-" if v is None else str(v)


def _db(v):
    if v is None:
        return "-"
    return f"{v:.1f}" if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def sqnr_db(signal: float, noise: float) -> float:
    """10 log10(signal / noise) with the exact cases made explicit (see module docstring)."""
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def _check_pair(float_graph, qgraph):
    if qgraph.quant.scheme is None or any(t.qformat is None for t in qgraph.tensors.values()):
        raise QuantizationError(f"graph '{qgraph.name}' is not quantized. help: quantize it first "
                                "(qsim.quantize / `qsim quantize`)")
    float_graph.require_hwc("evaluate")
    for name, info in qgraph.tensors.items():
        f = float_graph.tensors.get(name)
        if f is None or f.shape != info.shape:
            got = "is missing" if f is None else f"has shape {f.shape}"
            raise ShapeError(f"tensor '{name}' {info.shape} of the quantized graph {got} in the "
                             "float graph. help: pass the float model the quantized one was made "
                             "from")


def check_labels(y, n, classes):
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ShapeError(f"labels must have shape ({n},) (one class index per item), got {y.shape}"
                         + (". help: one-hot labels -> y.argmax(axis=1)" if y.ndim == 2 else ""))
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise ShapeError(f"labels must be integer class indices, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= classes):
        raise ShapeError(f"labels range over [{y.min()}, {y.max()}] but the model has {classes} "
                         f"outputs (classes 0..{classes - 1})")
    return y


def _layer_rows(qgraph):
    rows = [LayerStats(t, "input", t, None, None, str(qgraph.tensors[t].qformat))
            for t in qgraph.inputs]
    for n in qgraph.nodes:
        row = LayerStats(n.name, n.op, n.output, n.kernel, str(qgraph.input_q(n)),
                         str(qgraph.output_q(n)))
        if OPS[n.op].weighted:
            w = np.asarray(n.params["weight"], np.float64)
            wq = n.weight_q.dequantize(n.weight_q.quantize(w))
            row.weight_q, row.bias_q = str(n.weight_q), str(n.bias_q)
            row.bias_shift, row.out_shift = n.bias_shift, n.out_shift
            row.weight_sqnr_db = sqnr_db(float((w * w).sum()), float(((w - wq) ** 2).sum()))
        rows.append(row)
    return rows


def evaluate(float_graph, qgraph, X, y=None, *, batch_size=256, histograms=None, verbose=False):
    """Compare the quantized graph with its float original on a (labelled) data set.

    Parameters
    ----------
    float_graph : the HWC float Graph `qgraph` was quantized from (if the quantizer swapped H and
        W, graph.meta["swap_hw"], it is swapped the same way here)
    qgraph : Graph from qsim.quantize
    X : (N,) + input shape, HWC, batch first (converted to float32)
    y : optional (N,) integer class indices (argmax of the flattened output is the prediction)
    batch_size : items per float/simulated batch (bounds memory)
    histograms : optional {tensor: Log2Histogram} (e.g. from the calibration) for the profile;
        by default a Log2Histogram of every float tensor is computed over X
    verbose : tqdm progress bar

    Returns
    -------
    Report. Raises ShapeError (X, y or graphs that do not match) or QuantizationError.
    """
    float_graph = match_float_graph(float_graph, qgraph)     # H/W swapped by the quantizer?
    _check_pair(float_graph, qgraph)
    X = np.asarray(X)
    shape = qgraph.tensors[qgraph.inputs[0]].shape
    if X.ndim != len(shape) + 1 or X.shape[1:] != shape:
        raise ShapeError(f"data has shape {X.shape}; the model needs (N,) + {shape} (HWC, batch "
                         "first)")
    if len(X) == 0:
        raise ShapeError(f"data is empty; expected at least one item of shape {shape}")
    X = X.astype(np.float32, copy=False)
    out = qgraph.outputs[0]
    classes = int(np.prod(qgraph.tensors[out].shape))
    y = None if y is None else check_labels(y, len(X), classes)
    rows = _layer_rows(qgraph)
    relu_only = {r.tensor: qgraph.only_relus_read(r.tensor) for r in rows}
    acc = {r.tensor: [0.0, 0.0] for r in rows}        # sum f**2, sum (f - q)**2
    hists = {r.tensor: Log2Histogram() for r in rows} if histograms is None else None
    pred_f, pred_q = [], []
    with warnings.catch_warnings(), tqdm(total=len(X), disable=not verbose, desc="evaluate",
                                         unit="sample") as bar:
        warnings.simplefilter("ignore", SaturationWarning)      # counted below instead
        for s in range(0, len(X), batch_size):
            xb = X[s:s + batch_size]
            fenv = float_exec.run(float_graph, xb, trace=True)
            qenv = simulate(qgraph, xb, trace=True, batch_size=batch_size)
            for r in rows:
                f = fenv[r.tensor].astype(np.float64)
                q = qenv[r.tensor]
                fmt = qgraph.tensors[r.tensor].qformat
                fq = fmt.dequantize(q)
                if relu_only[r.tensor]:
                    f, fq = np.maximum(f, 0.0), np.maximum(fq, 0.0)
                acc[r.tensor][0] += float((f * f).sum())
                acc[r.tensor][1] += float(((f - fq) ** 2).sum())
                r.at_max += int(np.count_nonzero(q == fmt.qmax))
                r.at_min += int(np.count_nonzero(q == fmt.qmin))
                r.size += q.size
                if hists is not None:
                    hists[r.tensor].update(fenv[r.tensor])
            pred_f.append(np.argmax(fenv[out].reshape(len(xb), -1), axis=1))
            pred_q.append(np.argmax(qenv[out].reshape(len(xb), -1), axis=1))
            bar.update(len(xb))
    for r in rows:
        r.sqnr_db = sqnr_db(*acc[r.tensor])
        r.saturated = r.at_max + (0 if relu_only[r.tensor] else r.at_min)
    pf, pq = np.concatenate(pred_f), np.concatenate(pred_q)
    q = qgraph.quant
    rep = Report(qgraph.name, q.scheme, q.path, q.version, q.truncate, len(X),
                 float(np.mean(pf == pq)), layers=rows,
                 histograms=hists if hists is not None else dict(histograms))
    if y is not None:
        rep.float_accuracy, rep.quant_accuracy = float(np.mean(pf == y)), float(np.mean(pq == y))
        rep.delta = paired_delta(y, pf, pq)
    return rep
