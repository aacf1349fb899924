"""`qsim search MODEL --data X.npy --labels y.npy -o DIR`: the most accurate quantized variant
within a RAM / flash / instruction budget, and the Pareto front.

Candidates: the global schemes q7, q15, q7q15 (and per-layer widths when qsim.quantize offers
`layer_bits`), activation formats moved +-1..2 fraction bits from the calibrated ones (per
format group), the plain or `_opt` fully connected kernels, and with --qat-epochs a short QAT.
Each is quantized for --target's code path (cortex-m4: DSP, cortex-m3: REF) and --release,
simulated bit-exactly on the data (accuracy), planned and compiled by codegen (RAM = arena +
scratch; flash = weights + code) and costed by qsim.costmodel (instructions per inference).
The search is deterministic (baselines, then beam moves from the best, round by round): the
same front in the same order on 1 or N workers or a Dask cluster, and after an interruption.

Writes into DIR: candidates.jsonl (one line per evaluated candidate, as it goes: a second run
with the same model, data and settings resumes from it), front.csv and front.md (the front with
per-layer choices), front.png (accuracy vs each cost, budget lines) and best/ (the best
candidate within the budget, a quantized model folder for `qsim codegen`). A budget no candidate
meets is a result (exit 0): the closest candidates are printed with what each misses.
"""
import argparse

from qsim.search.budget import BYTES_HELP, COUNT_HELP

EPILOG = f"""\
budgets:   --ram / --flash in bytes: {BYTES_HELP}
           --instructions: {COUNT_HELP}
executors: --workers N local processes (default: the CPUs; 1 = in this process);
           --scheduler tcp://host:8786 an existing Dask scheduler (pip install 'qsim[cluster]')

examples:
  qsim search kws.onnx --data x_val.npy --labels y_val.npy --ram 16k --flash 64k \\
      --instructions 2M --target cortex-m4 -o search_kws/
  qsim codegen search_kws/best -o kws_c/
"""
TARGETS = ("cortex-m4", "cortex-m3")
from qsim.releases import TARGET_PATH  # noqa: E402
STRATEGIES = ("minmax", "percentile", "mse")


def register(subparsers):
    from qsim.releases import VERSIONS
    p = subparsers.add_parser(
        "search", help="most accurate quantized variant within a RAM/flash/instruction budget",
        description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="float model: .onnx or a saved qsim graph")
    p.add_argument("--data", required=True, metavar="X.npy",
                   help="inputs (N, H, W, C) on which accuracy is simulated (and calibrated "
                        "without --calib)")
    p.add_argument("--labels", required=True, metavar="y.npy", help="(N,) class indices")
    p.add_argument("--calib", metavar="CAL.json", default=None,
                   help="statistics of `qsim calibrate` (default: calibrate on --data)")
    p.add_argument("--ram", metavar="BYTES", default=None, help="RAM budget (arena + scratch)")
    p.add_argument("--flash", metavar="BYTES", default=None, help="flash budget (weights + code)")
    p.add_argument("--instructions", metavar="COUNT", default=None,
                   help="instructions per inference (cost model of --target)")
    p.add_argument("--target", choices=TARGETS, default="cortex-m4",
                   help="cortex-m4 (CMSIS-NN DSP path) or cortex-m3 (REF path) (default cortex-m4)")
    p.add_argument("--release", "--version", dest="release", choices=VERSIONS, default="5.9.0",
                   help="CMSIS_5 release simulated and generated (default 5.9.0)")
    p.add_argument("--strategy", choices=STRATEGIES, default="minmax",
                   help="how the calibrated formats are chosen (default minmax)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: the CPUs available)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask distributed scheduler, e.g. tcp://host:8786 (needs qsim[cluster])")
    p.add_argument("--budget-candidates", type=int, default=48, metavar="K",
                   help="evaluate at most K candidates (default 48)")
    p.add_argument("--beam", type=int, default=4, metavar="B",
                   help="parents expanded per round (default 4)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the QAT runs and of the QAT/evaluation split (default 0)")
    p.add_argument("--qat-epochs", type=int, default=0, metavar="E",
                   help="also try each parent with E epochs of QAT; the data is then split in "
                        "half (seeded): QAT trains on one half, every accuracy is measured on "
                        "the other (default 0: no QAT)")
    p.add_argument("--confirm", action="store_true",
                   help="run the best candidate's C on --target under QEMU against real CMSIS-NN "
                        "(--cmsis or $CMSIS_PATH): parity and the measured instructions")
    p.add_argument("--cmsis", metavar="PATH", default=None, help="CMSIS_5 checkout for --confirm")
    p.add_argument("--confirm-inputs", type=int, default=20, metavar="N",
                   help="inputs of the --confirm run (default 20)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true",
                   help="start over: replace DIR's earlier search (default: resume it)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    return p


def _budget(args):
    from qsim.search.budget import Budget, parse_bytes, parse_count
    return Budget(None if args.ram is None else parse_bytes(args.ram, "--ram"),
                  None if args.flash is None else parse_bytes(args.flash, "--flash"),
                  None if args.instructions is None else parse_count(args.instructions,
                                                                     "--instructions"))


def _check_dir(args):
    """DIR is new, empty, a search of ours (resume), or --force; refused before any work."""
    from pathlib import Path

    from qsim.errors import OutputExistsError
    from qsim.search.store import FILE

    from ._common import check_output
    check_output(args.output, True, folder=True,
                 inputs=(args.model, args.data, args.labels, args.calib))
    p = Path(args.output)
    if p.exists() and not args.force and any(p.iterdir()) and not (p / FILE).is_file():
        raise OutputExistsError(f"output {p} exists and is not a qsim search folder (no {FILE}). "
                                "help: choose another -o, or --force to replace it")
    return p


def _workers(args):
    import os

    from qsim.validate import check_count
    if args.workers is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:      # pragma: no cover - not Linux
            return os.cpu_count() or 1
    return check_count("--workers", args.workers)


def _split(x, y, seed, qat):
    """(x_eval, y_eval, x_train, y_train): everything for evaluation, or a seeded half split."""
    import numpy as np

    from qsim.errors import ArgumentError
    if not qat:
        return x, y, None, None
    if len(x) < 4:
        raise ArgumentError(f"--qat-epochs needs at least 4 items in --data to split (got {len(x)})")
    perm = np.random.default_rng(seed).permutation(len(x))
    half = len(x) // 2
    tr, ev = np.sort(perm[:half]), np.sort(perm[half:])
    return x[ev], y[ev], x[tr], y[tr]


def run(args):
    import warnings

    import numpy as np

    from qsim.metrics import check_labels
    from qsim.validate import check_count, check_seed

    from ._common import load_calibration, load_data, load_labels, load_model

    # -- every argument and input checked before DIR is touched -------------------------------
    budget = _budget(args)
    check_count("--budget-candidates", args.budget_candidates)
    check_count("--beam", args.beam)
    check_count("--qat-epochs", args.qat_epochs, 0)
    check_count("--confirm-inputs", args.confirm_inputs)
    check_seed("--seed", args.seed)
    workers = _workers(args)
    if args.scheduler is not None:
        from qsim.search.executors import require_dask
        require_dask()
    checkout = None
    if args.confirm:
        from cmsis_nn.locate import find_cmsis
        from harness.cortex_m import require_toolchain
        checkout = find_cmsis(args.cmsis)
        require_toolchain()
    out = _check_dir(args)
    graph = load_model(args.model)
    x = load_data(args.data, graph)
    classes = int(np.prod(graph.tensors[graph.outputs[0]].shape))
    y = check_labels(load_labels(args.labels, len(x)), len(x), classes)
    if args.calib is not None:
        from .quantize import check_calibration
        cal = load_calibration(args.calib)
        check_calibration(cal, graph, args.strategy, 99.99, args.calib)
        cal_note = f"calibration {args.calib}"
    else:
        from qsim.calibrate import calibrate
        stats = {"minmax": ("minmax",), "percentile": ("minmax", "percentile:99.99"),
                 "mse": ("minmax", "log2hist")}[args.strategy]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = calibrate(graph, x, stats=stats)
        cal_note = f"calibrated on --data ({len(x)} items)"
    x_eval, y_eval, x_train, y_train = _split(x, y, args.seed, args.qat_epochs)

    from qsim.search.evaluate import Context
    from qsim.search.executors import make_executor
    from qsim.search.space import Space
    from qsim.search.store import fingerprint
    ctx = Context(graph, cal, x_eval, y_eval, target=args.target, release=args.release,
                  strategy=args.strategy, seed=args.seed,
                  x_train=x_train, y_train=y_train)
    space = Space(graph, qat_epochs=args.qat_epochs)
    settings = {"model": str(args.model), "data": str(args.data), "labels": str(args.labels),
                "calibration": cal_note, "target": args.target, "release": args.release,
                "strategy": args.strategy, "seed": args.seed, "qat_epochs": args.qat_epochs}
    fp = fingerprint(ctx)

    # a scheduler that cannot be reached is refused before DIR exists
    executor = make_executor(ctx, 1 if args.scheduler else workers, args.scheduler)
    try:
        return _search(args, out, graph, ctx, space, fp, settings, cal_note, budget, workers,
                       executor, checkout)
    finally:
        executor.close()


def _search(args, out, graph, ctx, space, fp, settings, cal_note, budget, workers, executor,
            checkout):
    import sys

    from qsim.search.driver import search
    from qsim.search.store import Store

    # -- DIR: created (or resumed) only now ---------------------------------------------------
    if args.force and out.exists():
        import shutil
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    out.mkdir(parents=True, exist_ok=True)
    store = Store(out, fp, settings).open()
    print(f"qsim search: {graph.name}: {args.target} (CMSIS-NN {TARGET_PATH[args.target].upper()} "
          f"path), CMSIS_5 {args.release}; {len(ctx.y)} evaluation items; {cal_note}; budget "
          f"{budget.describe()}")
    print(f"space: schemes q7/q15/q7q15, per-layer widths "
          f"{'yes' if space.layer_bits else 'no (qsim.quantize has no layer_bits)'}, "
          f"{len(space.groups)} format groups +-{space.max_offset}, fc kernels "
          f"{'_opt/plain' if space.has_fc else '-'}, QAT {args.qat_epochs or 'off'}; at most "
          f"{args.budget_candidates} candidates")
    if store.records:
        print(f"resuming: {len(store.records)} candidates already in {store.path}"
              + (f" ({store.dropped} incomplete line(s) dropped)" if store.dropped else ""))

    where = (f"Dask scheduler {args.scheduler}" if args.scheduler
             else f"{workers} worker processes" if workers > 1 else "this process")
    print(f"evaluating on {where}")
    bar, progress = _progress(args, budget)
    try:
        result = search(space, executor, store, budget, args.budget_candidates, args.beam,
                        progress)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"\ninterrupted: {len(store.records)} candidates are in {store.path}; run the same "
              "command again to resume", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    return _finish(args, out, graph, ctx, result, checkout)


def _progress(args, budget):
    import sys
    if args.quiet or not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm
    bar = tqdm(total=args.budget_candidates, desc="search", unit="cand", file=sys.stderr)

    def update(rec, result):
        bar.update(1)
        best = result.best
        if best is None and result.ok:
            best = max(result.ok, key=lambda r: r["accuracy"])
        if best is not None:
            bar.set_postfix_str(f"best {100 * best['accuracy']:.2f}%"
                                + ("" if not budget.misses(best) else " (over budget)"))
    return bar, update


def _finish(args, out, graph, ctx, result, checkout):
    import warnings

    from qsim.fileio import atomic_dir, atomic_write
    from qsim.search.budget import fmt_cost
    from qsim.search.report import describe, front_csv, front_md, front_png

    budget = result.budget
    front = result.front
    failed = [r for r in result.visited if not r["ok"]]
    head = [f"# qsim search: {graph.name}",
            "",
            f"target {args.target}, CMSIS_5 {args.release}; budget {budget.describe()}; "
            f"{len(result.visited)} candidates ({len(failed)} refused by the quantizer), "
            f"{len(front)} on the front"]
    atomic_write(out / "front.csv", front_csv(front, budget))
    atomic_write(out / "front.md", front_md(front, budget, head))
    if result.ok:
        front_png(out / "front.png", result.ok, front, budget,
                  f"{graph.name}: accuracy vs cost ({args.target}, CMSIS_5 {args.release}; "
                  f"{budget.describe()})")
    elif (out / "front.png").exists():
        (out / "front.png").unlink()          # an earlier run's plot would not match
    print(f"{len(result.visited)} candidates: {result.evaluated} evaluated, {result.resumed} "
          f"from {out / 'candidates.jsonl'}; {len(failed)} refused by the quantizer")
    base = {r["key"]: r for r in result.visited}
    from qsim.search.space import Candidate
    for s in ("q7", "q15", "q7q15"):
        r = base.get(Candidate(s).key())
        if r is not None:
            print(f"  baseline {s:<6} " + (describe(r, budget) if r["ok"] else
                                            f"refused: {r['error'][:150]}"))
    print(f"Pareto front ({len(front)}; accuracy vs RAM, flash, instructions):")
    for i, r in enumerate(front[:12], 1):
        print(f"  {i:>2}. {describe(r, budget)}")
    if len(front) > 12:
        print(f"  ... {len(front) - 12} more in {out / 'front.md'}")
    best = result.best
    if best is None:
        if (out / "best").exists():            # an earlier run's winner does not fit this budget
            import shutil
            shutil.rmtree(out / "best")
        print(f"no candidate meets the budget ({budget.describe()}); the closest:")
        for r in result.closest(3):
            print(f"  {describe(r, budget)}")
        print(f"wrote {out / 'front.md'}, front.csv" + (", front.png" if result.ok else "")
              + " (no best/: nothing within the budget)")
        return 0
    from qsim.search.evaluate import build, accuracy, one_thread
    from qsim.search.space import Candidate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with one_thread():
            q = build(ctx, Candidate.from_dict(best["candidate"]))
            check = accuracy(q, ctx.x, ctx.y)
    if check != best["correct"]:      # pragma: no cover - records are deterministic
        print(f"qsim search: warning: the best candidate rebuilt scores {check} instead of "
              f"{best['correct']} correct; the record file may come from another qsim version")
    q.meta = dict(q.meta, quantized_from=str(args.model), strategy=args.strategy,
                  search={**q.meta.get("search", {}), "accuracy": best["accuracy"],
                          "ram": best["ram"], "flash": best["flash"],
                          "instructions": best["instructions"], "target": args.target})
    with atomic_dir(out / "best") as tmp:
        q.save(tmp)
    print(f"best within the budget: {describe(best, budget)}")
    print(f"  RAM {best['ram']} B = arena {best['arena']} + scratch {best['scratch']}; flash "
          f"{best['flash']} B = weights {best['weights']} + code "
          f"{best['code'] if best['code'] is not None else 'not measured'}"
          + (f" ({best['code_target']})" if best.get("code_target") else "")
          + f"; {fmt_cost('instructions', best['instructions'])} instructions (cost model)")
    print(f"wrote {out / 'best'} (qsim codegen {out / 'best'} -o DIR), front.md, front.csv, "
          "front.png")
    if checkout is not None:
        return _confirm(args, q, best, checkout)
    print("  not yet confirmed on the target: add --confirm (with --cmsis or $CMSIS_PATH and "
          "arm-none-eabi-gcc + qemu-system-arm) to run it under QEMU against the real CMSIS-NN")
    return 0


def _confirm(args, q, best, checkout):
    from harness.parity import run_network_parity
    n = args.confirm_inputs
    from ._common import load_data
    x = load_data(args.data, q)[:n]
    report = run_network_parity(q, x, target=args.target, cmsis=checkout)
    measured = sum(r.insns for r in report.layers if r.insns is not None)
    print(f"confirm on {args.target} (QEMU, {report.library}): {report.summary()}")
    if measured:
        err = 100 * (best["instructions"] - measured) / measured
        print(f"  instructions per inference: measured {measured:,.0f}, cost model "
              f"{best['instructions']:,} ({err:+.1f}%)")
    return 1 if report.mismatches else 0
