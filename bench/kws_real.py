"""A KWS model folder on real recordings in the Speech Commands layout: recall per label, float,
q7 and q15 side by side, and the QAT nets `qsim demo` saves beside them (q7_qat) (measurement
only: nothing here trains or tunes anything).

    python bench/kws_real.py --data DIR --model MODEL_DIR [--model MODEL_DIR2 ...] [--source S]

DIR holds one folder per word (`yes/`, `no/`, `up/`, ...) and optionally `_silence_/` with
one-second clips of no speech; `_background_noise_/`, `_unlabeled_/`, `long/` and hidden entries
are skipped. Each word folder maps to the model's label of the same name, every other word to
`_unknown_`, `_silence_/` to `_silence_`. Clips must be 16 kHz mono PCM of at most one second
(qsim.kws.speech_commands.read_clip; shorter ones are zero-padded at the end, as TF does).
A file name `<source>__<name>.wav` (how a local collection may tag where a clip came from) adds a
per-source line, so a canonical test set can be read apart from the rest; `--source S` reads only
the clips tagged `S__` (e.g. the Speech Commands v0.02 test set within a larger collection), so every
number printed (overall accuracy over all labels, recall per label, confusion) is that source's.

Real recordings stay out of the repository and out of the tests; BENCHMARKS.md says which ones
were measured.
"""
import argparse
import sys
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qsim.errors import QsimError  # noqa: E402
from qsim.kws.features import float_probs, mfcc_float, quant_outputs  # noqa: E402
from qsim.kws.flow import KwsModel  # noqa: E402
from qsim.metrics import paired_delta  # noqa: E402
from qsim.kws.speech_commands import read_clip  # noqa: E402

SKIP = {"_background_noise_", "_unlabeled_", "long"}


def source_of(name):
    """The `<source>` of a file name `<source>__<name>.wav`, '-' for an untagged name."""
    return name.split("__", 1)[0] if "__" in name else "-"


def load_folder(root, source=None):
    """(audio int16 (N, 16000), folder word per clip, source per clip) of every clip under root
    (only those whose file name is tagged `<source>__` if source is given)."""
    root = Path(root)
    audio, words, sources = [], [], []
    seen = Counter()
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name in SKIP or sub.name.startswith("."):
            continue
        for f in sorted(sub.glob("*.wav")):
            seen[source_of(f.name)] += 1
            if source is not None and source_of(f.name) != source:
                continue
            audio.append(read_clip(f))
            words.append(sub.name)
            sources.append(source_of(f.name))
    if not audio:
        if source is not None and seen:
            raise QsimError(f"{root}: no clip of source {source!r} (file names '{source}__*.wav'). "
                            "help: pick --source among " + ", ".join(sorted(seen)))
        raise QsimError(f"{root}: no word folders with .wav clips")
    return np.stack(audio), np.array(words), np.array(sources)


def target_labels(words, labels):
    """The model's label for each folder word (other words -> _unknown_)."""
    unknown = "_unknown_"
    if unknown not in labels:
        raise QsimError(f"the model has no _unknown_ label ({', '.join(labels)})")
    return np.array([labels.index(w if w in labels else unknown) for w in words])


def extra_engines(folder):
    """{name: quantized graph} of the QAT nets `qsim demo` saves beside the schemes
    (MODEL/q7_qat, ...): measured like the schemes."""
    from qsim.graph import Graph
    return {p.name: Graph.load(p) for p in sorted(Path(folder).glob("*_qat"))
            if (p / "model.json").is_file()}


def predictions(model, audio, extra=None):
    """{engine: predicted label index (N,)} for float, every quantized scheme of the model and
    the `extra` {name: qgraph}."""
    m = model.features(audio)
    out = {"float": float_probs(model.float_graph, mfcc_float(m)).argmax(1)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for scheme, q in {**model.qgraphs, **(extra or {})}.items():
            out[scheme] = quant_outputs(q, m).argmax(1)
    return out


def table(labels, y, preds, mask, title):
    lines = [title, "| engine | " + " | ".join(labels) + " | all clips |",
             "|---|" + "---|" * (len(labels) + 1)]
    for engine, p in preds.items():
        cells = []
        for k in range(len(labels)):
            sel = mask & (y == k)
            cells.append(f"{100 * np.mean(p[sel] == k):.1f}% ({sel.sum()})" if sel.any() else "-")
        cells.append(f"{100 * np.mean(p[mask] == y[mask]):.2f}% ({mask.sum()})")
        lines.append(f"| {engine} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def confusion(labels, y, p, mask):
    lines = ["confusion (rows true, columns predicted): " + " ".join(f"{lab[:8]:>9}" for lab in labels)]
    for k, lab in enumerate(labels):
        c = Counter(p[mask & (y == k)].tolist())
        lines.append(f"  {lab[:12]:>12} " + " ".join(f"{c.get(j, 0):9d}" for j in range(len(labels))))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder in the Speech Commands layout")
    ap.add_argument("--model", required=True, action="append", help="KWS model folder (repeatable)")
    ap.add_argument("--source", help="only the clips whose file name starts with '<SOURCE>__' "
                    "(default: every clip, plus a table per source)")
    args = ap.parse_args(argv)
    try:
        audio, words, sources = load_folder(args.data, args.source)
    except QsimError as e:
        sys.exit(f"error: {e}")
    print(f"data: {args.data}{f' (source {args.source})' if args.source else ''}: {len(audio)} clips; per folder: "
          + ", ".join(f"{w} {n}" for w, n in sorted(Counter(words.tolist()).items())))
    for folder in args.model:
        model = KwsModel.load(folder)
        labels = list(model.labels)
        y = target_labels(words, labels)
        preds = predictions(model, audio, extra_engines(folder))
        print(f"\nmodel: {folder} (front end {model.frontend}; labels {', '.join(labels)})")
        print(table(labels, y, preds, np.ones(len(y), bool), "all clips, recall per label"))
        by_source = defaultdict(list)
        for i, s in enumerate(sources):
            by_source[s].append(i)
        if len(by_source) > 1:
            for s in sorted(by_source):
                mask = np.zeros(len(y), bool)
                mask[by_source[s]] = True
                print(table(labels, y, preds, mask, f"\nsource {s}"))
        print(confusion(labels, y, preds["float"], np.ones(len(y), bool)))
        for scheme in [e for e in preds if e != "float"]:
            agree = np.mean(preds[scheme] == preds["float"])
            print(f"{scheme} agrees with float on {100 * agree:.2f}% of clips; {scheme} - float "
                  + paired_delta(y, preds["float"], preds[scheme]).describe(scheme, unit="clips"))


if __name__ == "__main__":
    main()
