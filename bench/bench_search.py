"""`qsim search` (issue 17) on the KWS demo net and the CIFAR-style net: the front against the
all-q7 / all-q15 baselines, and the wall time with 1 and 2 local workers.

    python bench/bench_search.py [--nets kws cifar] [--candidates 48] [--workers 1 2]
                                 [--kws-per-class 300] [--kws-epochs 20] [--cifar-epochs 4]
                                 [--eval-items 1000] [--out bench/out/search]

Nets and data:
    kws     the demo's seed net (qsim.kws.net.kws_spec: conv 28, 30, fc 58, 128) trained with the
            demo's recipe (qsim.kws.flow.train_float, --kws-epochs) on a reduced demo set
            (--kws-per-class clips per label synthesized by qsim.kws.dataset, cached in
            data/cache like `qsim demo`); searched on the float MFCC features of the validation
            and test speakers (never trained on)
    cifar   CMSIS-NN's CIFAR-10 example net (qsim.importers.spec.CIFAR10_SPEC) trained on the
            digits (qsim.datasets.digits, --cifar-epochs), searched on the test split
Each search is `qsim search NET --data X --labels Y --target cortex-m4 --budget-candidates K
--workers W -o OUT/NET-wW --force` with the budget below (about what all-q15 needs, so the
question is what fits), run for each --workers; the fronts of all worker counts must be equal
(checked). The code-size cache (~/.cache/qsim/code-size) is cleared before each run, so every
run compiles every candidate's C. Printed: float accuracy, the baselines, the front, the best
in budget, wall and CPU time per worker count (CPU = user + system of this process, its
workers and the compilers they ran) and the speed-up. On a machine shared with other jobs the
wall-time speed-up is bounded by the cores actually free (the load average is printed).
"""
import argparse
import csv
import json
import os
import resource
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from qsim.cli import main as qsim_main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUDGETS = {"kws": ("--ram", "16k", "--flash", "192k", "--instructions", "6M"),
           "cifar": ("--ram", "48k", "--flash", "64k", "--instructions", "13M")}


def kws_net(args, out):
    from qsim.kws import features as kws
    from qsim.kws.demo import DemoSettings, _dataset, _features
    from qsim.kws.flow import TrainSettings, train_float
    s = DemoSettings(per_class=args.kws_per_class, heldout_per_class=0, workers=2)
    cache = ROOT / "data/cache"
    (data_dir, _), key = _dataset(s, cache, verbose=False)
    ((M, y, split), _), _, _ = _features(s, data_dir, key, cache)
    fpath = out / f"kws-float-{key}-e{args.kws_epochs}"
    if not (fpath / "model.json").exists():
        t = TrainSettings(epochs=args.kws_epochs)
        graph, _ = train_float(M, y, split, t, int(y.max()) + 1, verbose=False)
        graph.save(fpath)
    held = split != "train"         # validation + test speakers: never trained on
    return fpath, kws.mfcc_float(M[held]), y[held]


def cifar_net(args, out):
    import qsim
    from qsim.datasets.digits import load_digits
    from qsim.importers.spec import CIFAR10_SPEC
    from qsim.train import train
    d = load_digits()
    fpath = out / f"cifar-float-e{args.cifar_epochs}"
    if not (fpath / "model.json").exists():
        net = qsim.Sequential.from_dict(CIFAR10_SPEC).build(seed=0)
        net, _ = train(net, d.x_train, d.y_train, d.x_val, d.y_val, epochs=args.cifar_epochs,
                       batch_size=32, lr=1e-3, seed=0)
        net.save(fpath)
    return fpath, d.x_test, d.y_test


def float_acc(model, x, y):
    import qsim
    g = qsim.load(model)
    out = np.concatenate([qsim.run_float(g, x[i:i + 256]).reshape(len(x[i:i + 256]), -1)
                          for i in range(0, len(x), 256)])
    return float(np.mean(np.argmax(out, axis=1) == y))


def front(folder):
    with open(folder / "front.csv") as f:
        return list(csv.DictReader(f))


def records(folder):
    lines = (folder / "candidates.jsonl").read_text().splitlines()[1:]
    return {json.loads(ln)["label"]: json.loads(ln) for ln in lines}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", default=["kws", "cifar"], choices=["kws", "cifar"])
    ap.add_argument("--candidates", type=int, default=48)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--kws-per-class", type=int, default=300)
    ap.add_argument("--kws-epochs", type=int, default=20)
    ap.add_argument("--cifar-epochs", type=int, default=4)
    ap.add_argument("--eval-items", type=int, default=1000)
    ap.add_argument("--out", default="bench/out/search")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    for net in args.nets:
        model, x, y = (kws_net if net == "kws" else cifar_net)(args, out)
        x, y = x[:args.eval_items], y[:args.eval_items]
        np.save(out / f"{net}_x.npy", x.astype(np.float32))
        np.save(out / f"{net}_y.npy", y)
        print(f"\n== {net}: {model.name}, {len(x)} test items, float accuracy "
              f"{100 * float_acc(model, x, y):.2f}%; budget {' '.join(BUDGETS[net])}")
        times, fronts, cpu, load = {}, {}, {}, {}
        for w in args.workers:
            shutil.rmtree(Path(os.environ.get("QSIM_CACHE_DIR") or Path.home() / ".cache/qsim")
                          / "code-size", ignore_errors=True)
            d = out / f"{net}-w{w}"
            cmd = ["search", str(model), "--data", str(out / f"{net}_x.npy"), "--labels",
                   str(out / f"{net}_y.npy"), "--target", "cortex-m4", "--budget-candidates",
                   str(args.candidates), "--workers", str(w), "--quiet", "--force", "-o", str(d),
                   *BUDGETS[net]]
            print("qsim " + " ".join(cmd))
            t, r0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), \
                resource.getrusage(resource.RUSAGE_CHILDREN)
            rc = qsim_main(cmd)
            r1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            times[w] = time.perf_counter() - t
            cpu[w] = sum(b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime
                         for a, b in ((r0, r1), (c0, c1)))
            load[w] = os.getloadavg()[0]
            if rc != 0:
                sys.exit(f"qsim search exited {rc}")
            fronts[w] = [(r["key"], r["accuracy"]) for r in front(d)]
        same = len({tuple(f) for f in fronts.values()}) == 1
        d = out / f"{net}-w{args.workers[0]}"
        recs = records(d)
        print(f"\n-- {net} summary")
        for s in ("q7", "q15", "q7q15"):
            r = recs.get(s)
            if r and r["ok"]:
                print(f"  baseline {s:<6} {100 * r['accuracy']:6.2f}%  RAM {r['ram']:>7} B  flash "
                      f"{r['flash']:>7} B  instructions {r['instructions']:>10,}")
            elif r:
                print(f"  baseline {s:<6} refused: {r['error'][:100]}")
        for r in front(d):
            print(f"  front  {100 * float(r['accuracy']):6.2f}%  RAM {r['ram']:>7} B  flash "
                  f"{r['flash']:>7} B  instructions {int(r['instructions']):>10,}  "
                  f"{'in budget' if r['in_budget'] == 'yes' else 'over':<9}  {r['candidate']}")
        for w in args.workers:
            print(f"  {w} worker(s): wall {times[w]:.1f} s, CPU {cpu[w]:.1f} s (this process + "
                  f"workers + compilers), load average after {load[w]:.1f}"
                  + (f"; speed-up {times[args.workers[0]] / times[w]:.2f}x"
                     if w != args.workers[0] else ""))
        print(f"  fronts identical across worker counts: {same}")
        if not same:
            sys.exit("fronts differ between worker counts")


if __name__ == "__main__":
    main()
