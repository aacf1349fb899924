"""How much closer to the float net qsim.tune.tune_formats brings the q7 net, and what it costs.

    python bench/tune_formats.py [--features data/cache/features-<key>.npz --model MODEL_DIR ...]
                                 [--calib 1000] [--eval 2000] [--scheme q7]

For each net: the q7 net of each strategy (minmax, mse) and the same tuned (formats moved for
fidelity on calibration data, no labels), measured on other data: relative mean-square error of
the logits against the float net, top-1 agreement with the float net, and the tuning time.

Nets: the acceptance nets of qsim.zoo (random weights, N(0, 1) inputs: calibration seed 0,
evaluation seed 1), and each --model (a KWS model folder of `qsim demo` / `qsim train kws`) on
--features (the demo's cached features: calibration = --calib clips of the training split,
evaluation = the val, test and held-out splits).
"""
import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qsim import float_exec, zoo  # noqa: E402
from qsim.calibrate import calibrate  # noqa: E402
from qsim.importers.onnx_import import load_onnx  # noqa: E402
from qsim.quantize import quantize  # noqa: E402
from qsim.simulate import simulate  # noqa: E402
from qsim.tune import _targets, tune_formats  # noqa: E402


def fidelity(g, q, x):
    """(relative mean-square logit error, top-1 agreement %) of q against g on x."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trace = simulate(q, x, trace=True)
    ref = float_exec.run(g, x, dtype=np.float64, trace=True)
    t = _targets(g)[0]
    z = q.tensors[t].qformat.dequantize(trace[t])
    err = float(np.mean((z - ref[t]) ** 2) / np.mean(ref[t] ** 2))
    n = len(x)
    agree = np.mean(z.reshape(n, -1).argmax(1) == ref[t].reshape(n, -1).argmax(1))
    return err, 100 * float(agree)


def rows_for(name, g, x_cal, x_eval, scheme):
    cal = calibrate(g, x_cal, stats=("minmax", "log2hist"))
    out = []
    for strategy in ("minmax", "mse"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base = quantize(g, cal, scheme=scheme, strategy=strategy)
            t0 = time.perf_counter()
            tuned, rep = tune_formats(g, cal, x_cal, scheme=scheme, strategy=strategy)
            dt = time.perf_counter() - t0
        e0, a0 = fidelity(g, base, x_eval)
        e1, a1 = fidelity(g, tuned, x_eval)
        out.append(f"| {name} | {strategy} | {e0:.4g} -> {e1:.4g} ({e1 / e0:.2f}x) | "
                   f"{a0:.2f} -> {a1:.2f} ({a1 - a0:+.2f}) | {len(rep.moves)} | "
                   f"{rep.evaluated} | {dt:.1f} s |")
        print(out[-1], flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", help="the demo's cached features .npz (M, y, split)")
    ap.add_argument("--model", action="append", default=[], help="KWS model folder (repeatable)")
    ap.add_argument("--calib", type=int, default=1000, help="calibration / tuning items")
    ap.add_argument("--eval", type=int, default=2000, help="evaluation items of the zoo nets")
    ap.add_argument("--scheme", default="q7")
    args = ap.parse_args()
    print(f"scheme {args.scheme}; calibration and tuning on {args.calib} items, evaluation on "
          "other data\n")
    print("| net | strategy | logit error (rel. MSE), plain -> tuned | agreement with float %, "
          "plain -> tuned | moves | candidates | tuning time |")
    print("|---|---|---|---|---|---|---|")
    for name in sorted(zoo.ACCEPTANCE):
        build, shape, _ = zoo.ACCEPTANCE[name]
        g = load_onnx(build(seed=1))
        hwc = tuple(g.tensors[g.inputs[0]].shape)
        x_cal = np.random.default_rng(0).normal(size=(args.calib,) + hwc).astype(np.float32)
        x_eval = np.random.default_rng(1).normal(size=(args.eval,) + hwc).astype(np.float32)
        rows_for(name, g, x_cal, x_eval, args.scheme)
    if args.model:
        from qsim.kws.features import mfcc_float
        from qsim.kws.flow import KwsModel
        d = np.load(args.features)
        M, split = d["M"], d["split"].astype(str)
        tr = np.flatnonzero(split == "train")
        pick = np.random.default_rng([0, 5]).permutation(len(tr))[:args.calib]
        x_cal = mfcc_float(M[tr[pick]])
        x_eval = mfcc_float(M[np.isin(split, ["val", "test", "heldout"])])
        for m in args.model:
            model = KwsModel.load(m)
            rows_for(f"KWS {Path(m).parent.name}", model.float_graph, x_cal, x_eval, args.scheme)


if __name__ == "__main__":
    main()
