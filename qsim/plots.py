"""The pictures: hls4ml-style profile plots (PNG), log2 distributions with each QFormat's range
overlaid, and SQNR per layer (the numbers come from qsim.metrics).

    write_profile(report, qgraph, "out/")   # activations.png, weights.png, sqnr.png

activations.png  one row per activation tensor (flatten/reshape outputs are skipped: same values):
                 the share of |x| per power of two (bin [2**e, 2**(e+1)), from a Log2Histogram),
                 and a grey box from the format's step 2**-frac_bits to its largest value. Bars
                 right of the box saturate (red), bars more than one bin left of it round to zero
                 (orange); the black tick is the largest |x| seen, the right margin the share of
                 exact zeros (and magnitudes below 2**-24).
weights.png      the same for every weight and bias array with its weight_q / bias_q.
sqnr.png         SQNR (dB) and saturated share per layer, from a qsim.metrics.Report.
Figures are built with matplotlib's object API on the Agg canvas (no pyplot, no global backend
change), rendered to memory and written atomically (temporary file + rename).
"""
import io
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .fileio import atomic_write
from .ops import OPS
from .stats import Log2Histogram

_IN, _SAT, _ZERO = "#3b75af", "#c0392b", "#e69138"


def _rows_plot(rows, title):
    """rows: (label, Log2Histogram, QFormat). One ridge row per entry, top to bottom."""
    fig = Figure(figsize=(10, 1.2 + 0.42 * max(len(rows), 2)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lo_x, hi_x = math.inf, -math.inf
    for i, (label, h, q) in enumerate(rows):
        y0 = len(rows) - 1 - i
        total = int(h.counts.sum()) + h.zeros
        frac = h.counts / max(total, 1)
        top = frac.max() if frac.size and frac.max() > 0 else 1.0
        e = h.edges[:-1]
        rng_lo, rng_hi = -q.frac_bits, math.log2(q.max)
        color = np.where(e >= rng_hi, _SAT, np.where(e < rng_lo - 1, _ZERO, _IN))
        used = frac > 0
        height = np.maximum(0.8 * frac[used] / top, 0.06)      # keep thin tails visible
        ax.bar(e[used], height, width=1.0, bottom=y0 - 0.4, align="edge",
               color=color[used], edgecolor="white", linewidth=0.3)
        ax.add_patch(Rectangle((rng_lo, y0 - 0.45), rng_hi - rng_lo, 0.9, facecolor="0.5",
                               alpha=0.22, edgecolor="0.3", linewidth=0.8))
        lo, hi = h.range()
        m = max(abs(lo), abs(hi)) if np.isfinite(lo) and np.isfinite(hi) else 0.0
        if m > 0:
            ax.plot([math.log2(m)] * 2, [y0 - 0.45, y0 + 0.45], color="black", linewidth=1.5)
        ax.text(1.005, (y0 + 0.5) / len(rows), f"zero {100 * h.zeros / max(total, 1):.1f}%",
                transform=ax.transAxes, va="center", fontsize=7)
        lo_x = min(lo_x, rng_lo, e[used].min() if used.any() else rng_lo)
        hi_x = max(hi_x, rng_hi, e[used].max() + 1 if used.any() else rng_hi)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{label}  {q}" for label, _, q in reversed(rows)], fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(lo_x - 1, hi_x + 1)
    ax.set_xlabel("log2 |x|  (bin e holds 2**e <= |x| < 2**(e+1))")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=10, loc="right")
    ax.legend(handles=[Rectangle((0, 0), 1, 1, color=_IN), Rectangle((0, 0), 1, 1, color=_SAT),
                       Rectangle((0, 0), 1, 1, color=_ZERO),
                       Rectangle((0, 0), 1, 1, facecolor="0.5", alpha=0.3)],
              labels=["representable", "saturates", "rounds to 0", "format range"],
              loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7, ncol=4, frameon=False)
    fig.tight_layout()
    return fig


def plot_activations(qgraph, histograms, title=None) -> Figure:
    """Log2 distribution of every activation tensor with its QFormat range (see module doc)."""
    rows = []
    for t, info in qgraph.tensors.items():
        prod = qgraph.producer(t)
        if t not in histograms or (prod is not None
                                   and OPS[prod.op].data_move):
            continue
        rows.append((t if prod is None else prod.name, histograms[t], info.qformat))
    return _rows_plot(rows, title or f"{qgraph.name}: activations ({qgraph.quant.scheme})")


def plot_weights(qgraph, title=None) -> Figure:
    """Log2 distribution of every weight and bias array with its weight_q / bias_q."""
    rows = []
    for n in qgraph.nodes:
        if not OPS[n.op].weighted:
            continue
        for key, q in (("weight", n.weight_q), ("bias", n.bias_q)):
            h = Log2Histogram()
            h.update(np.asarray(n.params[key], np.float64))
            rows.append((f"{n.name} {key}", h, q))
    return _rows_plot(rows, title or f"{qgraph.name}: weights and biases ({qgraph.quant.scheme})")


def plot_sqnr(report, title=None) -> Figure:
    """SQNR in dB and saturated share per layer (exact layers drawn hatched at the top)."""
    rows = report.layers
    fig = Figure(figsize=(10, 1.2 + 0.35 * max(len(rows), 2)), dpi=100)
    FigureCanvasAgg(fig)
    ax, ax2 = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1]})
    y = np.arange(len(rows))[::-1]
    finite = [r.sqnr_db for r in rows if math.isfinite(r.sqnr_db)]
    cap = max(finite + [1.0]) * 1.1
    vals = [r.sqnr_db if math.isfinite(r.sqnr_db) else (cap if r.sqnr_db > 0 else 0.0)
            for r in rows]
    bars = ax.barh(y, vals, color=[_IN if r.op != "softmax" else "0.6" for r in rows])
    for b, r in zip(bars, rows):
        if math.isinf(r.sqnr_db):
            b.set_hatch("//")
        ax.text(b.get_width(), b.get_y() + b.get_height() / 2,
                f" {r.sqnr_db:.1f}" if math.isfinite(r.sqnr_db) else " exact", va="center",
                fontsize=7)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{r.name} ({r.op})" for r in rows], fontsize=8)
    ax.set_xlabel("SQNR (dB), float vs dequantized simulation")
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlim(min(0.0, min(vals)) - 1, cap * 1.12)
    ax.grid(axis="x", alpha=0.3)
    pct = [r.saturated_pct for r in rows]
    ax2.barh(y, pct, color=_SAT)
    for yi, p in zip(y, pct):
        ax2.text(p, yi, f" {p:.2f}", va="center", fontsize=7)
    ax2.set_xlim(0, max(pct + [1.0]) * 1.35)
    ax2.set_xlabel("saturated (%)")
    ax2.grid(axis="x", alpha=0.3)
    q = report
    fig.suptitle(title or f"{q.model}: {q.scheme}, {q.path}, CMSIS {q.version} "
                 f"({q.num_samples} samples; grey: base-2 softmax)", fontsize=10)
    fig.tight_layout()
    return fig


def save_png(fig, path) -> Path:
    """Render `fig` to PNG in memory, then write it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    path = Path(path)
    atomic_write(path, buf.getvalue())
    return path


def write_profile(report, qgraph, out_dir) -> list:
    """Write activations.png, weights.png and sqnr.png into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [save_png(plot_activations(qgraph, report.histograms), out / "activations.png")]
    if any(OPS[n.op].weighted for n in qgraph.nodes):
        paths.append(save_png(plot_weights(qgraph), out / "weights.png"))
    paths.append(save_png(plot_sqnr(report), out / "sqnr.png"))
    return paths
