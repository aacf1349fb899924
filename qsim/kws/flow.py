"""The KWS model folder and the flow that fills it: features -> train -> calibrate -> quantize.

A model folder (written by `qsim train kws` and `qsim demo`, read by `qsim kws`):

    kws.json     labels, MFCC settings, input shift, accuracies, training settings
    float/       the float graph (Graph.save), input = raw features m / 128 (normalization folded)
    q7/, q15/    the quantized graphs (qsim.quantize), input = mfcc_to_input(m)
    kws.onnx     the float graph as ONNX (onnxruntime reproduces float/)

`fit(...)` does the work on arrays; callers decide where and when to write (atomically).
"""
import dataclasses
import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..calibrate import calibrate
from ..errors import DatasetError, ModelFormatError, SaturationWarning, ShapeError
from ..metrics import paired_delta
from ..quantize import quantize
from ..schemes import act_bits
from ..tune import tune_formats
from . import features as kws
from .dataset import load_kws
from .mfcc import MfccConfig
from .net import train_kws

log = logging.getLogger(__name__)

SCHEMES = ("q7", "q15")


@dataclass
class TrainSettings:
    """Everything training depends on (part of the demo's cache key)."""
    # Defaults picked on the validation split of the demo set (best mean val accuracy over seeds
    # 0, 1); keep="last": on validation halves (pick the epoch on one half, score it on the other;
    # seeds 0-2, 10000 clips) the best-epoch pick and the last epoch tie (96.75% vs 96.69%), and
    # the last epoch of the annealed schedule does not hinge on a noisy argmax (BENCHMARKS.md).
    epochs: int = 80
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int | None = None              # None: all epochs run
    keep: str = "last"                       # "best" val epoch or "last" (qsim.train.train)
    seed: int = 0
    conv: tuple = (28, 30)
    fc: tuple = (58, 128)
    lr_schedule: str | None = "cosine"       # None or "cosine" (qsim.train.train)
    label_smoothing: float = 0.1
    # train-time MFCC augmentation (qsim.kws.net.augment_mfcc); the device pipeline is unchanged
    shift: int = 3                           # random time shift, frames
    # SpecAugment masks, None: by the kind of data (MASKS, resolve_for_data)
    time_mask: int | None = None             # SpecAugment time mask, max frames
    freq_mask: int | None = None             # SpecAugment frequency mask, max coefficients
    # added to the _unknown_ logit after training, before quantization (shift_unknown_prior);
    # None: by the kind of data (UNKNOWN_LOGIT_BIAS)
    unknown_logit_bias: float | None = None
    noise: float = 0.0                       # Gaussian noise on the normalized features
    mixup: float = 0.0                       # mixup alpha (qsim.train.train); 0 = off
    calib_samples: int = 1000
    strategies: tuple = ("minmax", "mse")     # per scheme, the best on the validation split wins
    # each strategy also with its formats tuned on the calibration clips for fidelity to the
    # float net (qsim.tune.tune_formats; no labels): candidates "minmax+tuned", "mse+tuned" for
    # 8-bit activations (16-bit ones are within ~1e-7 of float already: DS-CNN's q15 tuning took
    # 43 s to move its relative logit error from 3.3e-7 to 2.8e-7)
    tune_formats: bool = True
    version: str = "5.7.0"                   # CMSIS_5 release and code path of the q7/q15 models
    path: str = "ref"                        # (`qsim train kws` defaults to qsim.releases')
    arch: str = "seed"                        # "seed" or "ds_cnn" (qsim.kws.net.ARCHS)
    # "balanced": a power-of-two scale per MFCC coefficient chosen on the training split
    # (features.balance_shifts, recorded as MfccConfig.coeff_shift), "none": features as they come
    coeff_scale: str = "none"


@dataclass
class KwsModel:
    float_graph: object
    qgraphs: dict                       # scheme -> quantized Graph
    labels: tuple
    mfcc: MfccConfig = MfccConfig()
    info: dict = field(default_factory=dict)
    frontend: str = "q15"               # qsim.kws.features.FRONTENDS

    def features(self, audio):
        """q8.7 features of int16 clips (N, clip_len) by this model's front end."""
        return kws.features(audio, self.mfcc, self.frontend)

    def save(self, folder):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        from ..exporters import export_onnx
        self.float_graph.save(folder / "float")
        for scheme, q in self.qgraphs.items():
            q.save(folder / scheme)
        export_onnx(self.float_graph, folder / "kws.onnx")
        doc = {"format": "qsim-kws", "labels": list(self.labels),
               "mfcc": dataclasses.asdict(self.mfcc), "frontend": self.frontend, "schemes": list(self.qgraphs),
               "input_shift": {s: kws.input_shift(q.tensors[q.inputs[0]].qformat)
                               for s, q in self.qgraphs.items()}, **self.info}
        (folder / "kws.json").write_text(json.dumps(doc, indent=1, default=_jsonable) + "\n")

    @classmethod
    def load(cls, folder):
        from ..graph import Graph
        folder = Path(folder)
        meta = folder / "kws.json"
        if not meta.is_file() and (folder / "model.json").is_file():
            return cls.load_imported(folder)
        if not meta.is_file():
            raise ModelFormatError(f"{folder} is not a KWS model folder (no kws.json). help: create "
                                   "one with `qsim train kws -o DIR` or `qsim demo`")
        doc, labels, mfcc = read_kws_json(meta)
        qgraphs = {s: Graph.load(folder / s) for s in doc.get("schemes", [])}
        info = {k: v for k, v in doc.items()
                if k not in ("format", "labels", "mfcc", "schemes", "frontend")}
        frontend = doc.get("frontend", "q15")            # folders written before the option: q15
        if frontend not in kws.FRONTENDS:
            raise ModelFormatError(f"{meta}: unknown front end {str(frontend)[:40]!r}. help: "
                                   f"re-train the model (front ends: {', '.join(kws.FRONTENDS)})")
        fgraph = Graph.load(folder / "float")
        for what, g in [("float", fgraph)] + list(qgraphs.items()):
            out = g.tensors[g.outputs[0]].size if len(g.outputs) == 1 else None
            if out != len(labels):
                raise ModelFormatError(f"{folder / what}: the net has {out} outputs but {meta} "
                                       f"lists {len(labels)} labels. help: use the folder as "
                                       "`qsim train kws` wrote it")
        return cls(fgraph, qgraphs, labels, mfcc, info, frontend)


    @classmethod
    def load_imported(cls, folder):
        """An integer-only model: a quantized model folder (`qsim import-c`) whose graph.meta["kws"]
        gives labels and front end (imported_settings). No float graph: its float scale is unknown."""
        from ..graph import Graph
        g = Graph.load(folder)
        labels, mfcc, frontend = imported_settings(g, Path(folder) / "model.json")
        scheme = "q7" if g.tensors[g.inputs[0]].qformat.bits == 8 else "q15"
        return cls(None, {scheme: g}, labels, mfcc, {"imported": True}, frontend)


# `qsim import-c` front end keys (qsim.importers.cnet.FRONTEND_KEYS) -> MfccConfig fields
_IMPORTED_FE = {"num_mel_bins": "n_mels", "num_mfcc": "n_coeffs",
                "mel_low_hz": "fmin", "mel_high_hz": "fmax", "window": "window"}


def imported_settings(g, where):
    """(labels, MfccConfig, front end) of a quantized graph's meta["kws"] {"labels": [...],
    "frontend": {"name": "q15" | "float", sample_rate, frame_len_ms, frame_shift_ms, num_frames,
    num_mfcc, num_mel_bins, mel_low_hz, mel_high_hz, dec_bits, window}}; frames are rounded to
    whole samples, fft_len is the smallest CMSIS-DSP RFFT length that holds a frame, a clip is one
    second, the float MFCC is rounded to dec_bits = the input's frac_bits (the default). Every
    field checked; ModelFormatError naming it otherwise."""
    from ..errors import QsimError
    from ..importers.cnet import FRONTEND_KEYS
    from .rfft_q15 import RFFT_LENGTHS

    def bad(what):
        return ModelFormatError(f"{where}: kws settings: {what}. help: set 'labels' and 'frontend' "
                                "in the `qsim import-c` spec and import again")
    kw = g.meta.get("kws")
    if not isinstance(kw, dict):
        raise ModelFormatError(f"{where} is neither a KWS model folder (no kws.json) nor a model with "
                               "KWS settings. help: give 'labels' (and 'frontend') in the `qsim "
                               "import-c` spec, or create a folder with `qsim train kws`")
    if set(kw) - {"labels", "frontend"}:
        raise bad(f"unknown keys {sorted(map(str, set(kw) - {'labels', 'frontend'}))[:5]}")
    labels = _check_labels(kw.get("labels"), bad)
    n_out = g.tensors[g.outputs[0]].size if len(g.outputs) == 1 else None
    if n_out != len(labels):
        raise bad(f"the net has {n_out} outputs but {len(labels)} labels")
    fe = kw.get("frontend", {"name": "q15"})
    if not isinstance(fe, dict) or fe.get("name") not in ("q15", "float"):
        raise bad(f"frontend {str(fe)[:80]} must be an object with name 'q15' or 'float'")
    unknown = sorted(map(str, set(fe) - FRONTEND_KEYS))
    if unknown:
        raise bad(f"frontend: unknown keys {unknown[:5]}; known: {sorted(FRONTEND_KEYS)}")
    for k, v in fe.items():
        if k in ("name", "window"):
            if not isinstance(v, str):
                raise bad(f"frontend {k}={repr(v)[:40]} is not a string")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0 \
                or v > 1e6:
            raise bad(f"frontend {k}={repr(v)[:40]} is not a number in 0..1e6")
    if fe.get("window", "hann") != "hann":
        raise bad(f"frontend window {fe['window']!r}: only 'hann' is known")
    qf = g.tensors[g.inputs[0]].qformat
    name = fe["name"]
    dec = fe.get("dec_bits", qf.frac_bits if name == "float" else 7)
    if name == "q15" and dec != 7:
        raise bad(f"frontend dec_bits={dec}: arm_mfcc_q15 gives q8.7 (7 bits); leave dec_bits out")
    if dec != qf.frac_bits and name == "float":
        raise bad(f"frontend dec_bits={dec} but the input format is {qf} ({qf.frac_bits} "
                  "fractional bits); they must agree")
    sr = fe.get("sample_rate", 16000)
    if sr != int(sr) or not 1000 <= sr <= 192000:
        raise bad(f"frontend sample_rate={sr} must be a whole number of Hz in 1000..192000")
    sr = int(sr)
    frame, hop = (round(fe.get(k, d) * sr / 1000) for k, d in (("frame_len_ms", 40), ("frame_shift_ms", 20)))
    fft = next((n for n in RFFT_LENGTHS if n >= frame), None)
    if fft is None or frame < 1 or hop < 1:
        raise bad(f"frontend frame_len_ms/frame_shift_ms give frames of {frame} samples every {hop}; "
                  f"need 1..{RFFT_LENGTHS[-1]} samples and a hop of at least one")
    args = {f: fe[k] for k, f in _IMPORTED_FE.items() if k in fe}
    for f in ("n_mels", "n_coeffs"):
        if f in args and (args[f] != int(args[f]) or not 1 <= args[f] <= 512):
            raise bad(f"frontend {f}={args[f]} must be a whole number in 1..512")
        if f in args:
            args[f] = int(args[f])
    args.setdefault("window", "hann")
    try:
        mfcc = MfccConfig(**args, sample_rate=sr, frame_len=frame, hop=hop, fft_len=fft, clip_len=sr,
                          frac_bits=int(dec))
    except (QsimError, ValueError, TypeError) as e:
        raise bad(f"frontend settings refused ({e})") from None
    if "num_frames" in fe and fe["num_frames"] != mfcc.n_frames:
        raise bad(f"frontend num_frames={fe['num_frames']} but {frame}-sample frames every {hop} "
                  f"give {mfcc.n_frames} per second")
    size = g.tensors[g.inputs[0]].size
    if size != mfcc.n_frames * mfcc.n_coeffs:
        raise bad(f"the front end gives {mfcc.n_frames} x {mfcc.n_coeffs} features but the net's "
                  f"input has {size} values")
    return tuple(labels), mfcc, name


_MFCC_TYPES = {f.name: f.type for f in dataclasses.fields(MfccConfig)}


def _check_labels(labels, bad):
    if not isinstance(labels, list) or len(labels) < 2 or len(set(map(str, labels))) != len(labels) \
            or not all(isinstance(x, str) and 0 < len(x) <= 64 and x.isprintable() for x in labels):
        raise bad(f"labels {str(labels)[:80]} are not two or more distinct names (1-64 printable "
                  "characters: they are printed as they are)")
    return labels


def read_kws_json(path):
    """(doc, labels, MfccConfig) from a kws.json; ModelFormatError naming the field otherwise:
    bad JSON, labels missing or fewer than two distinct strings, schemes missing, empty or unknown, unknown MFCC
    keys or values of the wrong type."""
    from ..errors import QsimError

    def bad(what):
        return ModelFormatError(f"{path}: {what}. help: use the kws.json `qsim train kws` or "
                                "`qsim demo` wrote")
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError) as e:
        raise bad(f"not valid JSON ({str(e)[:120]})") from None
    if not isinstance(doc, dict) or doc.get("format", "qsim-kws") != "qsim-kws":
        raise bad("not a qsim-kws file")
    labels = _check_labels(doc.get("labels"), bad)
    schemes = doc.get("schemes")
    if (not isinstance(schemes, list) or not schemes or not all(isinstance(v, str) for v in schemes)
            or not set(schemes) <= set(SCHEMES) or len(set(schemes)) != len(schemes)):
        raise bad(f"schemes {str(schemes)[:80]} must name the model's quantized nets: one or more "
                  f"of {list(SCHEMES)}, each once")
    m = doc.get("mfcc", {})
    if not isinstance(m, dict):
        raise bad("mfcc is not an object")
    unknown = sorted(set(m) - set(_MFCC_TYPES))
    if unknown:
        raise bad(f"unknown mfcc key(s) {unknown[:5]}; known: {sorted(_MFCC_TYPES)}")
    for k, v in m.items():
        t = getattr(_MFCC_TYPES[k], "__name__", _MFCC_TYPES[k])
        if not _mfcc_value_ok(t, v):
            raise bad(f"mfcc {k}={repr(v)[:40]} is not a valid {t}")
    try:
        mfcc = MfccConfig(**m)
    except (QsimError, ValueError, TypeError) as e:
        raise bad(f"mfcc settings refused ({e})") from None
    return doc, tuple(labels), mfcc


def _mfcc_value_ok(t, v):
    """Whether a kws.json mfcc value fits its MfccConfig field type `t` (a type name)."""
    whole = lambda e: isinstance(e, int) and not isinstance(e, bool)   # noqa: E731
    if t == "tuple":
        return isinstance(v, list) and len(v) <= 512 and all(whole(e) for e in v)
    if t == "str":
        return isinstance(v, str)
    if t == "int":
        return whole(v) and v > 0
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1e9


def _jsonable(v):
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    raise TypeError(f"not JSON-able: {type(v)}")


SYNTH_KEYS = ("synth_unknown_percentage", "synth_silence_percentage")


def load_dataset(data_dir, words=None, splits=None, **proportions):
    """(audio int16 (N, 16000), y, split, labels) of a synthesized set (qsim.kws.dataset, has a
    manifest.csv) or a folder in the Speech Commands layout (qsim.kws.speech_commands;
    ``proportions``: its silence_percentage / unknown_percentage, and synth_unknown_percentage /
    synth_silence_percentage: synthesized clips added to its training split,
    qsim.kws.synth_extras); ``splits``: only those."""
    proportions = dict(proportions)
    from . import speech_commands as sc
    from .dataset import LABELS
    if sc.is_speech_commands(data_dir):
        synth = {k: proportions.pop(k) for k in SYNTH_KEYS if k in proportions}
        audio, y, split, labels = sc.load_speech_commands(
            data_dir, words=tuple(words) if words else sc.WORDS, splits=splits, **proportions)
        if synth and (splits is None or "train" in splits):
            from .synth_extras import add_to_training
            audio, y, split = add_to_training(audio, y, split, list(labels), **synth)
        return audio, y, split, labels
    given = (["--words"] if words else []) + [f"--{k.replace('_', '-')}" for k in proportions]
    if given:
        raise DatasetError(f"{' / '.join(given)} applies to a Speech Commands folder; {data_dir} is "
                           "a synthesized set (manifest.csv) with the fixed labels "
                           f"{', '.join(LABELS)}. help: drop {' and '.join(given)}")
    audio, y, split = load_kws(data_dir, splits=splits)
    return audio, y, split, LABELS


def load_features(data_dir, cfg=MfccConfig(), words=None, frontend="q15", **proportions):
    """(M int16 q8.7 (N, 49, 10, 1), y, split, labels) of a dataset folder (load_dataset)."""
    audio, y, split, labels = load_dataset(data_dir, words, **proportions)
    return kws.features(audio, cfg, frontend), y, split, labels


def accuracy(pred, y):
    return float(np.mean(np.asarray(pred) == np.asarray(y))) if len(y) else float("nan")


def calibrate_quantize(graph, M_train, M_val, y_val, s: TrainSettings, schemes=SCHEMES):
    """({scheme: (qgraph, strategy, val accuracy)}, calibration). Candidates per scheme: each of
    s.strategies, and with s.tune_formats (8-bit activations only) each also tuned for fidelity
    to the float net on the calibration clips (qsim.tune). The quantized net's job is to do what
    the float net does, so the candidate agreeing with the float net on most validation clips
    wins (ties: the more accurate, then the first); without validation clips, the first one."""
    rng = np.random.default_rng([s.seed, 5])
    pick = rng.permutation(len(M_train))[:s.calib_samples]
    x_cal = kws.mfcc_float(M_train[pick])
    cal = calibrate(graph, x_cal, stats=("minmax", "log2hist"))
    pf = kws.float_probs(graph, kws.mfcc_float(M_val)).argmax(1) if len(y_val) else None
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SaturationWarning)
        for scheme in schemes:
            best = None
            for strategy in s.strategies:
                kw = dict(scheme=scheme, strategy=strategy, path=s.path, version=s.version)
                cands = [(strategy, quantize(graph, cal, **kw))]
                if s.tune_formats and act_bits(scheme) == 8:   # 16-bit: ~1e-7 error, no gain
                    cands.append((strategy + "+tuned", tune_formats(graph, cal, x_cal, **kw)[0]))
                for name, q in cands:
                    if pf is None:
                        score = (0.0, 0.0)
                    else:
                        pq = kws.quant_outputs(q, M_val).argmax(1)
                        score = (accuracy(pq, pf), accuracy(pq, y_val))
                    if best is None or score > best[3]:
                        best = (q, name, score[1], score)
            q, name, acc, (agree, _) = best
            q.meta = dict(q.meta, selected_on="agreement with the float net on validation",
                          val_accuracy=acc, val_agreement=agree)
            out[scheme] = best[:3]
    return out, cal


# SpecAugment (time_mask, freq_mask) by data, each chosen on real voices never trained on (Speech
# Commands training-folder clips without any test speaker; BENCHMARKS.md, issue 15):
#   synthesized  6 / 2 -> 14 / 4 after the words' time shift was fixed: mean recall of yes / no /
#                _unknown_ / _silence_ on real voices 89.0 -> 90.2% (seed 0), 88.4 -> 89.7% (seed 1)
#   recorded     14 / 4 instead of 6 / 2 on the 12-label task: keywords 89.2 -> 88.8%, an unknown
#                word never trained on 54.9 -> 53.0% (seed 0): no gain, 6 / 2 kept
MASKS = {"synthesized": (14, 4), "recorded": (6, 2)}
# The _unknown_ logit's offset (nats; exp(1.25) = 3.5x its prior odds) by data. A model trained on
# synthesized voices is too sure that a real word it has not heard is a keyword: on the same
# real-voice development set, real _unknown_ recall was 77.1 / 76.7% (seeds 0 / 1) against 90.9-95%
# for yes / no; 1.25 maximizes the smallest of the four recalls for both seeds (86.8 / 87.0%,
# mean 90.6 / 89.7%; BENCHMARKS.md, issue 15). Recorded data: no offset.
UNKNOWN_LOGIT_BIAS = {"synthesized": 1.25, "recorded": 0.0}


def resolve_for_data(settings: TrainSettings, synthesized: bool) -> TrainSettings:
    """`settings` with the masks and unknown_logit_bias left None filled in for the kind of
    training data."""
    kind = "synthesized" if synthesized else "recorded"
    tm, fm = MASKS[kind]
    pick = (lambda v, d: d if v is None else v)
    return dataclasses.replace(settings, time_mask=pick(settings.time_mask, tm),
                               freq_mask=pick(settings.freq_mask, fm),
                               unknown_logit_bias=pick(settings.unknown_logit_bias,
                                                       UNKNOWN_LOGIT_BIAS[kind]))


def shift_unknown_prior(graph, labels, bias):
    """A copy of the float graph with `bias` added to the _unknown_ output's bias (the last fc
    before the softmax): softmax(z + bias * e_unknown), the same as multiplying the _unknown_
    prior odds by exp(bias). Done before calibration, so float, q7, q15 and the C all carry it;
    recorded per class in graph.meta["logit_offset"], which quantize keeps and QAT reads so that
    fine-tuning does not learn the offset away."""
    if not bias:
        return graph
    if "_unknown_" not in labels:
        raise DatasetError(f"unknown_logit_bias {bias}: the labels ({', '.join(labels)}) have no "
                           "_unknown_. help: leave it at 0")
    if not np.isfinite(bias) or abs(bias) > 20:
        raise DatasetError(f"unknown_logit_bias {bias!r}: need a finite number within +-20 nats")
    g = graph.copy()
    fc = g.nodes[-2] if g.nodes[-1].op == "softmax" else g.nodes[-1]
    if fc.op != "fc" or fc.params["bias"].shape != (len(labels),):
        raise DatasetError(f"layer {fc.name!r}: the _unknown_ bias needs the net to end in an fc "
                           f"with {len(labels)} outputs (+ softmax), found {fc.op}")
    b = fc.params["bias"].copy()
    b[labels.index("_unknown_")] += np.asarray(bias, b.dtype)
    fc.params["bias"] = b
    offset = list(g.meta.get("logit_offset") or [0.0] * len(labels))
    offset[labels.index("_unknown_")] += float(bias)
    g.meta = dict(g.meta, logit_offset=offset)     # QAT keeps it (qsim.qat.finetune)
    return g


def train_float(M, y, split, settings: TrainSettings, classes, verbose=False):
    """Train the float net on the train split (early stopping on val); returns (graph, history).
    Masks left None are the recorded-data ones (resolve_for_data: callers that know the data set
    them first)."""
    settings = resolve_for_data(settings, synthesized=False)
    tr, va = (split == "train"), (split == "val")
    X = kws.mfcc_float(M)
    return train_kws(X[tr], y[tr], X[va] if va.any() else None, y[va] if va.any() else None,
                     conv=settings.conv, fc=settings.fc, classes=classes,
                     epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
                     weight_decay=settings.weight_decay, patience=settings.patience,
                     seed=settings.seed, verbose=verbose, lr_schedule=settings.lr_schedule,
                     label_smoothing=settings.label_smoothing, shift=settings.shift,
                     time_mask=settings.time_mask, freq_mask=settings.freq_mask,
                     noise=settings.noise, keep=settings.keep, arch=settings.arch,
                     mixup=settings.mixup)


COEFF_SCALES = ("balanced", "none")


def scale_for_training(M, split, settings: TrainSettings, cfg: MfccConfig = MfccConfig()):
    """(M, cfg) with settings.coeff_scale applied: "balanced" picks MfccConfig.coeff_shift on the
    training split (kws.balance_shifts) and scales every split with it; "none", or a cfg that
    already has shifts (features computed with them), leaves both as they are."""
    if settings.coeff_scale not in COEFF_SCALES:
        raise ShapeError(f"coeff_scale {settings.coeff_scale!r}: use one of {', '.join(COEFF_SCALES)}")
    if settings.coeff_scale == "none" or cfg.coeff_shift:
        return M, cfg
    shifts = kws.balance_shifts(M[split == "train"])
    return kws.scale_coeffs(M, shifts), dataclasses.replace(cfg, coeff_shift=shifts)


def finish(graph, hist, M, y, split, settings: TrainSettings, labels, times=None, frontend="q15",
           mfcc: MfccConfig = MfccConfig()):
    """Calibrate, quantize (q7, q15) and test a trained float graph; returns (KwsModel, metrics).
    M are the features of `mfcc` (scale_for_training's)."""
    times = {} if times is None else times
    settings = resolve_for_data(settings, synthesized=False)
    graph = shift_unknown_prior(graph, list(labels), settings.unknown_logit_bias)
    tr, va, te = (split == "train"), (split == "val"), (split == "test")
    t = time.perf_counter()
    quant, _ = calibrate_quantize(graph, M[tr], M[va], y[va], settings)
    times["quantize"] = time.perf_counter() - t
    t = time.perf_counter()
    metrics = evaluate(graph, {s: v[0] for s, v in quant.items()}, M[te], y[te])
    metrics["strategy"] = {s: v[1] for s, v in quant.items()}
    metrics["epochs_run"] = len(hist["loss"])
    metrics["best_epoch"] = hist["best_epoch"]
    metrics["val_accuracy"] = hist["val_acc"][hist["best_epoch"]] if hist["val_acc"] else None
    metrics["split_sizes"] = {k: int(np.sum(split == k)) for k in ("train", "val", "test")}
    times["evaluate"] = time.perf_counter() - t
    info = {"train": dataclasses.asdict(settings), "metrics": metrics}
    model = KwsModel(graph, {s: v[0] for s, v in quant.items()}, tuple(labels), mfcc=mfcc, info=info,
                     frontend=frontend)
    return model, metrics


def fit(M, y, split, settings: TrainSettings, labels, verbose=False, times=None, frontend="q15",
        mfcc: MfccConfig = MfccConfig()):
    """scale_for_training + train_float + finish; `times` (optional dict) gets "train",
    "quantize", "evaluate" seconds. M must come from `frontend` and `mfcc` (recorded in the model)."""
    times = {} if times is None else times
    M, mfcc = scale_for_training(M, split, settings, mfcc)
    t = time.perf_counter()
    graph, hist = train_float(M, y, split, settings, len(labels), verbose)
    times["train"] = time.perf_counter() - t
    return finish(graph, hist, M, y, split, settings, labels, times, frontend, mfcc)


def evaluate(graph, qgraphs, M, y):
    """Test accuracies {"float": a, scheme: a, "agreement": {scheme: a}, "delta": {scheme: the
    scheme's accuracy - float's paired over the clips (qsim.metrics.paired_delta, as a dict)}}
    on q8.7 features. No clips (an empty test split): every accuracy is None."""
    if not len(y):
        return {"float": None, **{s: None for s in qgraphs}, "agreement": {}, "delta": {},
                "test_samples": 0}
    pf = kws.float_probs(graph, kws.mfcc_float(M)).argmax(1)
    res = {"float": accuracy(pf, y), "agreement": {}, "delta": {}, "test_samples": int(len(y))}
    for scheme, q in qgraphs.items():
        pq = kws.quant_outputs(q, M).argmax(1)
        res[scheme] = accuracy(pq, y)
        res["agreement"][scheme] = accuracy(pq, pf)
        res["delta"][scheme] = dataclasses.asdict(paired_delta(y, pf, pq))
    return res
