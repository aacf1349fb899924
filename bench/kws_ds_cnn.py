"""DS-CNN-S vs the seed's net on the KWS demo data: accuracies (float, q7, q15, q7q15), RAM/flash,
Cortex-M4 instructions per inference, from two `qsim demo` runs on one cache.

    CMSIS_PATH=~/cmsis-5.9.0 python -m qsim.cli demo --arch ds_cnn --cache C -o D_DSCNN
    CMSIS_PATH=~/cmsis-5.9.0 python -m qsim.cli demo --cache C -o D_SEED
    python bench/kws_ds_cnn.py --cache C D_DSCNN D_SEED [--cmsis ~/cmsis-5.9.0] [--m4-inputs 5]

Each demo folder gives the float net and its q7 / q15 nets (quantized as the demo does: per scheme
the strategy best on validation). q7q15 is quantized here from the same float net with the same
calibration (qsim.kws.flow.calibrate_quantize). Test = the demo's held-out espeak/flite voices;
held-out synthesizer = festival clips. RAM/flash are codegen's (arena + scratch; weights + code for
the host compiler, as in the demo's summary). Instructions: `qsim parity --target cortex-m4`'s
per-layer counts (QEMU mps2-an386, CMSIS-NN DSP path, real CMSIS-NN) summed, on test clips, for
the net quantized again with path "dsp" (its test accuracy is in the JSON as m4_graph_test);
where the DSP path has no legal kernel (q15 convs with an odd output width), the REF-path net's
count on Cortex-M3 (mps2-an385) instead.
"""
import argparse
import dataclasses
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def load_cached_features(cache):
    """(M, y, split) of the demo's features file in `cache` (the one there, else an error)."""
    files = sorted(Path(cache).glob("features-*.npz"))
    if len(files) != 1:
        sys.exit(f"error: expected one features-*.npz in {cache}, found {len(files)}")
    with np.load(files[0], allow_pickle=False) as z:
        return z["M"], z["y"], z["split"].astype(str)


def measure(demo, M, y, split, checkout, m4_inputs):
    from cmsis_nn.standin import include_dirs
    from codegen.generate import write_network
    from codegen.memory_report import measure_code_size, memory_report
    from harness.parity import run_network_parity
    from qsim.errors import SaturationWarning, UnsupportedOpError
    from qsim.kws import features as kws
    from qsim.kws.flow import KwsModel, TrainSettings, calibrate_quantize, evaluate

    model = KwsModel.load(Path(demo) / "model")
    if model.mfcc.coeff_shift:           # the cache holds the features before the model's scaling
        M = kws.scale_coeffs(M, model.mfcc.coeff_shift)
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    train = {k: v for k, v in model.info["train"].items() if k in fields}
    settings = TrainSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in train.items()})
    tr, va, te, ho = (split == s for s in ("train", "val", "test", "heldout"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SaturationWarning)
        extra, _ = calibrate_quantize(model.float_graph, M[tr], M[va], y[va], settings, schemes=("q7q15",))
        qgraphs = dict(model.qgraphs, q7q15=extra["q7q15"][0])
        acc = evaluate(model.float_graph, qgraphs, M[te], y[te])
        held = evaluate(model.float_graph, qgraphs, M[ho], y[ho]) if ho.any() else None
    rows = {}
    for scheme, q in qgraphs.items():
        with tempfile.TemporaryDirectory() as tmp:
            gen = write_network(q, Path(tmp), name=f"kws_{scheme}", force=True)
            code = measure_code_size(Path(tmp) / f"kws_{scheme}.c", [Path(tmp), *include_dirs()])
            mem = memory_report(gen.plan, gen.weight_bytes, code)
        row = {"test": acc[scheme], "heldout": held[scheme] if held else None,
               "ram": mem.ram_bytes, "flash": mem.flash_bytes}
        if checkout is not None and m4_inputs:
            # the demo quantizes for the REF path; a Cortex-M4 build runs the DSP path, whose
            # legal kernels differ (q15 convs: H/W swapped by quantize): quantized again for it
            dsp = dataclasses.replace(settings, path="dsp", version=checkout.version)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SaturationWarning)
                    qd = calibrate_quantize(model.float_graph, M[tr], M[va], y[va], dsp,
                                            schemes=(scheme,))[0][scheme][0]
            except UnsupportedOpError as e:        # e.g. q15 conv with an odd output width
                row["m4_refused"] = str(e).split(". help:")[0]
                x = kws.mfcc_to_input(M[te][:m4_inputs], q.tensors[q.inputs[0]].qformat)
                rep = run_network_parity(q, x, target="cortex-m3", name=f"kws_{scheme}", cmsis=checkout)
                row["m3_insns"] = sum(r.insns or 0 for r in rep.layers)
                row["m3_mismatches"] = rep.mismatches
                rows[scheme] = row
                continue
            row["m4_graph_test"] = evaluate(model.float_graph, {scheme: qd}, M[te], y[te])[scheme]
            x = kws.mfcc_to_input(M[te][:m4_inputs], qd.tensors[qd.inputs[0]].qformat)
            rep = run_network_parity(qd, x, target="cortex-m4", name=f"kws_{scheme}", cmsis=checkout)
            row["m4_insns"] = sum(r.insns or 0 for r in rep.layers)
            row["m4_mismatches"] = rep.mismatches
            row["m4_layers"] = len(rep.layers)
            fp = rep.footprint
            row["m4_footprint"] = None if fp is None else {k: v for k, v in vars(fp).items()
                                                           if isinstance(v, (int, float, str))}
        rows[scheme] = row
    return {"float": {"test": acc["float"], "heldout": held["float"] if held else None},
            "schemes": rows, "strategy": model.info.get("metrics", {}).get("strategy"),
            "q7q15_strategy": extra["q7q15"][1], "arch": settings.arch,
            "split_sizes": {k: int(np.sum(split == k)) for k in ("train", "val", "test", "heldout")}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demos", nargs="+", help="output folders of `qsim demo` runs on the same cache")
    ap.add_argument("--cache", required=True, help="the demo runs' --cache folder (features)")
    ap.add_argument("--cmsis", default=os.environ.get("CMSIS_PATH"))
    ap.add_argument("--m4-inputs", type=int, default=5, help="test clips run on Cortex-M4 (0: skip)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(args.cmsis) if args.cmsis else None
    M, y, split = load_cached_features(args.cache)
    out = {}
    pct = lambda v: "-" if v is None else f"{100 * v:.2f}%"   # noqa: E731
    print("| net | scheme | test | held-out synth | RAM B | flash B | M4 insns/inference | M4 parity |")
    print("|---|---|---|---|---|---|---|---|")
    for demo in args.demos:
        r = measure(demo, M, y, split, checkout, args.m4_inputs)
        out[demo] = r
        print(f"| {r['arch']} | float | {pct(r['float']['test'])} | {pct(r['float']['heldout'])} | | | | |")
        for scheme, s in r["schemes"].items():
            m4 = f"{s['m4_insns']:,.0f}" if "m4_insns" in s else "-"
            if "m3_insns" in s:
                m4 = f"refused (M3 REF: {s['m3_insns']:,.0f}, {s['m3_mismatches']} bad)"
            par = (f"{s['m4_mismatches']} bad / {s['m4_layers']} layers x {args.m4_inputs}"
                   if "m4_insns" in s else "-")
            print(f"| {r['arch']} | {scheme} | {pct(s['test'])} | {pct(s['heldout'])} | {s['ram']:,} | "
                  f"{s['flash']:,} | {m4} | {par} |", flush=True)
        for scheme, s in r["schemes"].items():
            if "m4_refused" in s:
                print(f"  {r['arch']} {scheme} on Cortex-M4 (DSP path): {s['m4_refused']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
