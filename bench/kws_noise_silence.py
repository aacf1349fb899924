"""_silence_ recall of KWS model folders on one-second cuts of long noise recordings, per file:
float and q7, cuts at full volume and at a uniform volume in [0, 1) (how TF's input_data makes
_silence_). Measurement only: nothing here trains or tunes anything.

    python bench/kws_noise_silence.py --noise DIR --model MODEL [--model MODEL2 ...] [--cuts 100]

DIR holds 16 kHz mono PCM .wav files longer than one second (e.g. a Speech Commands folder's
`_background_noise_/`). Real recordings stay out of the repository and out of the tests;
BENCHMARKS.md says which ones were measured.
"""
import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qsim.errors import QsimError  # noqa: E402
from qsim.kws.audio import load_wav  # noqa: E402
from qsim.kws.features import float_probs, mfcc_float, quant_outputs  # noqa: E402
from qsim.kws.flow import KwsModel  # noqa: E402

CLIP = 16000


def cuts(folder, n, seed):
    """(clips int16 (M, 16000), file stem per clip, "full" | "uniform" per clip): n random cuts
    per file, each once at full volume and once scaled by a uniform draw in [0, 1)."""
    rng = np.random.default_rng(seed)
    clips, names, vols = [], [], []
    files = sorted(Path(folder).glob("*.wav"))
    if not files:
        raise QsimError(f"{folder}: no .wav files")
    for f in files:
        x = load_wav(f, clip_seconds=None)
        if len(x) < CLIP:
            raise QsimError(f"{f}: {len(x)} samples, shorter than one second")
        for _ in range(n):
            off = int(rng.integers(0, len(x) - CLIP + 1))
            cut = x[off:off + CLIP].astype(np.float64)
            for vol, g in (("full", 1.0), ("uniform", rng.uniform(0, 1))):
                clips.append(np.round(cut * g).astype(np.int16))
                names.append(f.stem)
                vols.append(vol)
    return np.stack(clips), np.array(names), np.array(vols)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", required=True, help="folder of long noise recordings (.wav)")
    ap.add_argument("--model", required=True, action="append", help="KWS model folder (repeatable)")
    ap.add_argument("--cuts", type=int, default=100, help="cuts per file (default 100)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    try:
        audio, names, vols = cuts(args.noise, args.cuts, args.seed)
        for folder in args.model:
            model = KwsModel.load(folder)
            if "_silence_" not in model.labels:
                raise QsimError(f"{folder}: the model has no _silence_ label")
            sil = list(model.labels).index("_silence_")
            m = model.features(audio)
            pred = {"float": float_probs(model.float_graph, mfcc_float(m)).argmax(1)}
            if "q7" in model.qgraphs:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pred["q7"] = quant_outputs(model.qgraphs["q7"], m).argmax(1)
            print(f"model: {folder}; _silence_ recall % ({' / '.join(pred)}), {args.cuts} cuts per file")
            stems = sorted(set(names))
            print("| volume | all | " + " | ".join(stems) + " |")
            print("|---|---|" + "---|" * len(stems))
            for vol in ("full", "uniform"):
                cell = lambda s: " / ".join(f"{100 * np.mean(p[s] == sil):.1f}" for p in pred.values())  # noqa: E731
                print(f"| {vol} | {cell(vols == vol)} | "
                      + " | ".join(cell((vols == vol) & (names == st)) for st in stems) + " |")
    except QsimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
