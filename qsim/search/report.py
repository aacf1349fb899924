"""What `qsim search` writes and prints: the front table (CSV + Markdown), the PNG, the summary.

front.csv / front.md  one row per Pareto-front candidate (accuracy vs RAM, flash, instructions),
                      in canonical order (accuracy descending, then costs, then key), with
                      whether it meets the budget, which constraints it misses, and the per-layer
                      choices (kernel, input -> output format, weight format of every layer
                      with weights or a format change; candidates.jsonl has every layer)
front.png             accuracy against each cost: every feasible candidate (grey), the front
                      (joined), the candidates within the budget (filled), the budget lines
"""
import csv
import io

from .budget import COSTS, fmt_cost


def _layers_text(rec):
    """Layers with weights or a format change (a relu or max pool in place repeats its input)."""
    return "; ".join(f"{l['name']}={l['kernel']} {l['in']}->{l['out']}"
                     + (f" w{l['w']}" if "w" in l else "") for l in rec["layers"]
                     if "w" in l or l["in"] != l["out"])


def _misses_text(rec, budget):
    m = budget.misses(rec)
    return ", ".join(f"{c} {fmt_cost(c, v)} > {fmt_cost(c, lim)}" for c, (v, lim) in m.items())


COLUMNS = ("rank", "accuracy", "ram", "flash", "instructions", "in_budget", "misses", "candidate",
           "scheme", "fc_opt", "offsets", "qat_epochs", "layers", "key")


def rows(front, budget):
    out = []
    for i, r in enumerate(front, 1):
        c = r["candidate"]
        out.append({"rank": i, "accuracy": f"{r['accuracy']:.6f}", "ram": r["ram"],
                    "flash": r["flash"], "instructions": r["instructions"],
                    "in_budget": "yes" if not budget.misses(r) else "no",
                    "misses": _misses_text(r, budget), "candidate": r["label"],
                    "scheme": c["scheme"] + (" (per layer)" if c["layer_bits"] else ""),
                    "fc_opt": c["fc_opt"],
                    "offsets": " ".join(f"{t}{o:+d}" for t, o in c["offsets"]),
                    "qat_epochs": c["qat_epochs"], "layers": _layers_text(r), "key": r["key"]})
    return out


def front_csv(front, budget) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows(front, budget))
    return buf.getvalue().encode()


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def front_md(front, budget, header_lines=()) -> bytes:
    lines = [*header_lines, "",
             "| # | accuracy | RAM B | flash B | instructions | in budget | candidate | per-layer choices |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows(front, budget):
        ib = row["in_budget"] if row["in_budget"] == "yes" else f"no: {row['misses']}"
        lines.append(f"| {row['rank']} | {100 * float(row['accuracy']):.2f}% | {row['ram']} | "
                     f"{row['flash']} | {row['instructions']} | {_md(ib)} | {_md(row['candidate'])} "
                     f"| {_md(row['layers'])} |")
    return ("\n".join(lines) + "\n").encode()


def front_png(path, records, front, budget, title):
    """accuracy vs RAM, flash and instructions (three panels), written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from ..fileio import atomic_write
    fig = Figure(figsize=(15, 4.6), dpi=100)
    axes = fig.subplots(1, 3, sharey=True)
    limits = budget.limits()
    for ax, cost in zip(axes, COSTS):
        k = 1e6 if cost == "instructions" else 1024.0       # plotted in millions / KiB

        def xs(recs, cost=cost, k=k):
            return [r[cost] / k for r in recs]
        ax.scatter(xs(records), [100 * r["accuracy"] for r in records], s=14, c="0.7",
                   label="candidates")
        fr = sorted(front, key=lambda r: r[cost])
        ax.plot(xs(fr), [100 * r["accuracy"] for r in fr], "-", c="tab:blue", lw=1, alpha=0.5)
        inb = [r for r in front if not budget.misses(r)]
        out = [r for r in front if budget.misses(r)]
        ax.scatter(xs(out), [100 * r["accuracy"] for r in out], s=30,
                   facecolors="none", edgecolors="tab:blue", label="front, over budget")
        ax.scatter(xs(inb), [100 * r["accuracy"] for r in inb], s=30,
                   c="tab:green", label="front, within budget")
        if cost in limits:
            ax.axvline(limits[cost] / k, c="tab:red", ls="--", lw=1,
                       label=f"budget {fmt_cost(cost, limits[cost])}")
        ax.set_xlabel({"ram": "RAM, KiB (arena + scratch)", "flash": "flash, KiB (weights + code)",
                       "instructions": "instructions per inference, millions (cost model)"}[cost])

        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("accuracy (%, bit-exact simulation)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write(path, buf.getvalue())


def describe(rec, budget):
    misses = _misses_text(rec, budget)
    return (f"{100 * rec['accuracy']:.2f}%  RAM {fmt_cost('ram', rec['ram'])}  flash "
            f"{fmt_cost('flash', rec['flash'])}  {fmt_cost('instructions', rec['instructions'])} "
            f"instructions  [{rec['label']}]" + (f"  misses: {misses}" if misses else ""))
