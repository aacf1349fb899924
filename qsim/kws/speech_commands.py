"""Read a folder in the Speech Commands layout as a labelled KWS set (the standard 12-label setup).

The layout (Warden 2018, "Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition"):

    DIR/<word>/<speaker>_nohash_<n>.wav     one folder per word, 16 kHz mono 16-bit clips <= 1 s
    DIR/_background_noise_/*.wav            long noise recordings (silence clips are cut from them)
    DIR/validation_list.txt                 optional: relative paths of the validation clips
    DIR/testing_list.txt                    optional: relative paths of the test clips

Labels are ("_silence_", "_unknown_", *words), the order of TF's speech_commands input_data.py.
Splits: the two lists when present (everything else is train); without them TF's `which_set`
rule: the SHA-1 of the speaker (the file name up to `_nohash_`) picks the split, so every clip of a
speaker lands in the same split, stable when files are added. Per split, as input_data.py does with
silence_percentage = unknown_percentage = 10 (both settable, `qsim train kws --silence-percentage
--unknown-percentage` as TF's flags): ceil(10% of the split's keyword clips) _unknown_ clips
drawn (seeded) from the other words' folders (all of them when there are fewer), and as many
_silence_ clips, each a random
one-second cut of a background file at a random volume in [0, 1). Clips shorter than one second
are zero-padded at the end (as TF's decoder does). Every clip is checked: 16 kHz, mono, PCM WAV,
at most one second; a folder that breaks the layout stops with a named error (DatasetError).
"""
import hashlib
import math
import re
from pathlib import Path

import numpy as np

from ..errors import DatasetError

SAMPLE_RATE = 16000
CLIP = 16000
WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE, UNKNOWN = "_silence_", "_unknown_"
BACKGROUND = "_background_noise_"
MAX_NUM_WAVS_PER_CLASS = 2 ** 27 - 1      # input_data.py: ~134M, the hash's modulus
SILENCE_PERCENTAGE = UNKNOWN_PERCENTAGE = 10.0
MAX_PERCENTAGE = 1000.0              # 10 _unknown_ / _silence_ clips per keyword clip at most
VALIDATION_PERCENTAGE = TESTING_PERCENTAGE = 10.0
SPLIT_NAMES = {"training": "train", "validation": "val", "testing": "test"}


def is_speech_commands(root) -> bool:
    """A folder holding word sub-folders and no qsim manifest.csv (the synthesized set has one)."""
    root = Path(root)
    return root.is_dir() and not (root / "manifest.csv").exists() and any(
        p.is_dir() and not p.name.startswith((".", "_")) for p in root.iterdir())


def speaker_of(path) -> str:
    """`<speaker>_nohash_<n>.wav` -> speaker (the whole stem when there is no `_nohash_`)."""
    return re.sub(r"_nohash_.*$", "", Path(path).name)


def which_set(path, validation_percentage=VALIDATION_PERCENTAGE,
              testing_percentage=TESTING_PERCENTAGE) -> str:
    """'train' / 'val' / 'test' by the SHA-1 of the speaker, TF's input_data.which_set rule."""
    h = int(hashlib.sha1(speaker_of(path).encode()).hexdigest(), 16)
    percentage = (h % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage < validation_percentage:
        return "val"
    if percentage < testing_percentage + validation_percentage:
        return "test"
    return "train"


def read_clip(path, max_samples=CLIP):
    """A 16 kHz mono PCM WAV as int16, zero-padded to max_samples (None: full length, no pad)."""
    import soundfile as sf
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise DatasetError(f"{path}: not a .wav file. help: a Speech Commands folder holds only "
                           "16 kHz mono WAV clips; remove or convert it (ffmpeg -i IN -ar 16000 -ac 1 OUT.wav)")
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError, sf.LibsndfileError) as e:
        raise DatasetError(f"{path}: cannot read as WAV ({e}). help: re-download or delete the "
                           "file") from None
    if info.samplerate != SAMPLE_RATE:
        raise DatasetError(f"{path}: {info.samplerate} Hz, need {SAMPLE_RATE} Hz. help: resample "
                           "the folder (ffmpeg -i IN -ar 16000 OUT.wav); qsim does not resample "
                           "training data silently")
    if info.channels != 1:
        raise DatasetError(f"{path}: {info.channels} channels, need mono. help: mix down "
                           "(ffmpeg -i IN -ac 1 OUT.wav)")
    if info.frames == 0:
        raise DatasetError(f"{path}: holds no samples. help: delete the file")
    if max_samples is not None and info.frames > max_samples:
        raise DatasetError(f"{path}: {info.frames / SAMPLE_RATE:.2f} s, longer than the one-second "
                           "clips of this layout. help: cut it to 1 s (no clip is truncated silently)")
    data, _ = sf.read(str(path), dtype="int16")
    if max_samples is not None and len(data) < max_samples:
        data = np.pad(data, (0, max_samples - len(data)))
    return data.astype(np.int16)


def _wavs(folder):
    files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    bad = [p for p in files if p.is_dir() or p.suffix.lower() != ".wav"]
    if bad:
        raise DatasetError(f"{bad[0]}: not a .wav clip (word folders hold only .wav files). help: "
                           "move it out of the dataset folder")
    return files


def _read_list(root, name):
    f = root / name
    if not f.is_file():
        return None
    return {line.strip() for line in f.read_text().splitlines() if line.strip()}


def check_percentage(name, v, note=""):
    """A clip-count percentage from the user: a number (not bool, not NaN) in 0..MAX_PERCENTAGE."""
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= MAX_PERCENTAGE:
        raise DatasetError(f"--{name.replace('_', '-')} {v!r}: need a number in 0..{MAX_PERCENTAGE} "
                           f"(percent of the split's keyword clips{'; ' + note if note else ''})")


def index(root, words=WORDS, seed=59185, silence_percentage=SILENCE_PERCENTAGE,
          unknown_percentage=UNKNOWN_PERCENTAGE):
    """The clip list without reading audio: (labels, rows).

    rows: dicts {"path": relative path or None (silence), "label", "split", "speaker", "silence":
    (background file, offset, volume) or None}, ordered by split then as drawn.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder. help: give the folder holding yes/, no/, ... "
                           "and _background_noise_/")
    check_percentage("silence_percentage", silence_percentage, "TF's default is 10")
    check_percentage("unknown_percentage", unknown_percentage, "TF's default is 10")
    words = tuple(words)
    if not words or len(set(words)) != len(words) or any(w.startswith("_") for w in words):
        raise DatasetError(f"--words {' '.join(words)}: need distinct word folder names (not "
                           "_silence_ / _unknown_ / _background_noise_)")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    names = {p.name for p in folders}
    missing = [w for w in words if w not in names]
    if missing:
        raise DatasetError(f"{root}: no folder for the word(s) {', '.join(missing)} (found: "
                           f"{', '.join(sorted(names)) or 'none'}). help: pick --words among the folders")
    val_list, test_list = _read_list(root, "validation_list.txt"), _read_list(root, "testing_list.txt")
    if (val_list is None) != (test_list is None):
        raise DatasetError(f"{root}: has only one of validation_list.txt / testing_list.txt. help: "
                           "provide both, or neither (then splits follow the speaker hash)")
    rng = np.random.default_rng(seed)
    kw = {s: [] for s in ("train", "val", "test")}
    unk = {s: [] for s in ("train", "val", "test")}
    for folder in folders:
        files = _wavs(folder)
        if not files:
            raise DatasetError(f"{folder}: empty word folder. help: remove it or add its clips")
        for f in files:
            rel = f"{folder.name}/{f.name}"
            if val_list is not None:
                split = "val" if rel in val_list else "test" if rel in test_list else "train"
            else:
                split = which_set(rel)
            row = {"path": rel, "label": folder.name if folder.name in words else UNKNOWN,
                   "split": split, "speaker": speaker_of(f), "silence": None}
            (kw if folder.name in words else unk)[split].append(row)
    background = []
    bg_dir = root / BACKGROUND
    if silence_percentage > 0:
        if not bg_dir.is_dir():
            raise DatasetError(f"{root}: no {BACKGROUND}/ folder, needed for the _silence_ clips. "
                               "help: add long noise recordings there")
        background = _wavs(bg_dir)
        if not background:
            raise DatasetError(f"{bg_dir}: empty. help: add long noise recordings (WAV, 16 kHz mono)")
    bg_len = {}
    rows = []
    for split in ("train", "val", "test"):
        n_kw = len(kw[split])
        rows += kw[split]
        n_unk = int(math.ceil(n_kw * unknown_percentage / 100))
        if unk[split] and n_unk:
            pick = rng.permutation(len(unk[split]))[:n_unk]
            rows += [unk[split][i] for i in pick]
        for _ in range(int(math.ceil(n_kw * silence_percentage / 100)) if background else 0):
            f = background[int(rng.integers(len(background)))]
            if f not in bg_len:
                bg_len[f] = len(read_clip(f, max_samples=None))
                if bg_len[f] < CLIP:
                    raise DatasetError(f"{f}: background file shorter than one second. help: "
                                       "remove it or give a longer recording")
            rows.append({"path": None, "label": SILENCE, "split": split, "speaker": "",
                         "silence": (f, int(rng.integers(0, bg_len[f] - CLIP + 1)),
                                     float(rng.uniform(0, 1)))})
    if not kw["train"]:
        raise DatasetError(f"{root}: no training clip of {', '.join(words)}. help: check the "
                           "folder and the lists")
    return (SILENCE, UNKNOWN) + words, rows


def load_speech_commands(root, words=WORDS, seed=59185, background_frequency=0.8,
                         background_volume=0.1, splits=None, **kw):
    """(X int16 (N, 16000), y indices into labels, split str (N,), labels) of a Speech Commands folder.

    Training clips (not _silence_) get, with probability background_frequency, a random cut of a
    background file at a volume in [0, background_volume) added (TF's train-time mixing, drawn
    once here rather than every epoch); validation and test clips are left as recorded.
    splits : optional iterable of split names to read ('train', 'val', 'test'); every clip kept
    is the same as in a full read (the mixing draws are made for training clips only).
    """
    root = Path(root)
    labels, rows = index(root, words, seed, **kw)
    if splits is not None:
        rows = [r for r in rows if r["split"] in set(splits)]
    X = np.zeros((len(rows), CLIP), np.int16)
    noise = {}

    def background(f):
        if f not in noise:
            noise[f] = read_clip(f, max_samples=None).astype(np.float64)
        return noise[f]
    bg_files = sorted({r["silence"][0] for r in rows if r["silence"] is not None})
    mix = np.random.default_rng([seed, 1])
    for i, r in enumerate(rows):
        if r["silence"] is None:
            X[i] = read_clip(root / r["path"])
            if r["split"] == "train" and bg_files and mix.random() < background_frequency:
                b = background(bg_files[int(mix.integers(len(bg_files)))])
                off = int(mix.integers(0, len(b) - CLIP + 1))
                x = X[i] + b[off:off + CLIP] * mix.uniform(0, background_volume)
                X[i] = np.clip(np.round(x), -32768, 32767).astype(np.int16)
        else:
            f, off, vol = r["silence"]
            X[i] = np.round(background(f)[off:off + CLIP] * vol).astype(np.int16)
    y = np.array([labels.index(r["label"]) for r in rows], np.int64)
    return X, y, np.array([r["split"] for r in rows]), labels


def check(root, rows):
    """Read every clip of `rows` once (format and length checks of read_clip), keeping nothing."""
    for r in rows:
        if r["path"] is not None:
            read_clip(Path(root) / r["path"])


def summary(labels, rows) -> str:
    """Clips per label and split, speakers per split (what `qsim data kws --from` prints)."""
    lines = [f"{'label':<12} {'train':>7} {'val':>7} {'test':>7}"]
    for lab in labels:
        n = [sum(1 for r in rows if r["label"] == lab and r["split"] == s) for s in ("train", "val", "test")]
        lines.append(f"{lab:<12} {n[0]:>7} {n[1]:>7} {n[2]:>7}")
    spk = [len({r["speaker"] for r in rows if r["split"] == s and r["speaker"]})
           for s in ("train", "val", "test")]
    lines.append(f"{'speakers':<12} {spk[0]:>7} {spk[1]:>7} {spk[2]:>7}")
    return "\n".join(lines)

