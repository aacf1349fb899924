"""A synthetic keyword-spotting set spoken by espeak-ng: yes / no / backward / _unknown_ / _silence_.

Every clip is 1 s of 16 kHz mono int16. A clip is fully determined by (seed, clip index): its own
numpy Generator draws the voice, word, speed, pitch and augmentation, so results do not depend on
the order in which the process pool finishes. Voices are espeak-ng's English voices (not the
mb-* MBROLA ones), plain and combined with every `!v` variant; the split key is the speaker (the
variant, or the base voice for a plain one), so no test speaker is heard in training.

Output: DIR/<label>/<index>.wav and DIR/manifest.csv (path, label, word, voice, split), written to a
temporary sibling directory and renamed into place when complete.
"""
import csv
import io
import logging
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .audio import fix_length, load_wav, resample, to_int16
from ..errors import QsimError, ToolchainMissing

log = logging.getLogger(__name__)

KEYWORDS = ("yes", "no", "backward")
LABELS = KEYWORDS + ("_unknown_", "_silence_")
# No homophone of a keyword ("know" sounds exactly like "no"): it would make the labels contradict.
UNKNOWN_WORDS = ("up", "down", "left", "right", "on", "off", "stop", "go", "zero", "one", "two",
                 "three", "four", "five", "six", "seven", "eight", "nine", "bed", "bird", "cat",
                 "dog", "happy", "house", "marvin", "sheila", "tree", "wow", "forward", "follow",
                 "learn", "visual", "yellow", "nose", "background", "yet", "now")
SAMPLE_RATE = 16000
SPLIT_FRACTIONS = (("test", 0.15), ("val", 0.15))


def _espeak():
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ToolchainMissing("espeak-ng is not installed; the KWS set is synthesized with it. "
                               "help: apt-get install espeak-ng")
    return exe


def _espeak_list(exe, arg):
    out = subprocess.run([exe, f"--voices={arg}"], capture_output=True, text=True, check=True).stdout
    return [line.split()[4] for line in out.splitlines()[1:] if len(line.split()) >= 5]


def default_voices():
    """Plain English espeak-ng voices (no mb-*) times (no variant + every !v variant)."""
    exe = _espeak()
    bases = sorted({f.split("/")[-1] for f in _espeak_list(exe, "en")
                    if not f.startswith(("mb/", "!v/"))})
    variants = sorted(f.split("/")[-1] for f in _espeak_list(exe, "variant"))
    return bases + [f"{b}+{v}" for v in variants for b in bases]


def speaker(voice):
    """The split key: the variant for 'base+variant', else the base voice."""
    return voice.split("+", 1)[1] if "+" in voice else voice


def assign_splits(voices, seed):
    """{speaker: 'train'|'val'|'test'}: a seeded shuffle of speakers, ~15% test, ~15% val."""
    speakers = sorted({speaker(v) for v in voices})
    order = np.random.default_rng([seed, 1]).permutation(len(speakers))
    n = len(speakers)
    n_test = max(1, round(SPLIT_FRACTIONS[0][1] * n)) if n >= 2 else 0
    n_val = round(SPLIT_FRACTIONS[1][1] * n) if n >= 3 else 0
    split = {}
    for rank, i in enumerate(order):
        split[speakers[i]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return split


def _noise(rng, n):
    """White, pink or brown noise (unit RMS), or mains hum with harmonics."""
    kind = rng.integers(4)
    if kind == 3:
        t = np.arange(n) / SAMPLE_RATE
        f0 = rng.choice([50.0, 60.0])
        x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) / h for h in (1, 2, 3, 5))
        x = x + 0.1 * rng.normal(size=n)
    else:
        spec = np.fft.rfft(rng.normal(size=n))
        f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
        spec /= f ** (kind / 2.0)                       # 0 white, 1 pink, 2 brown
        x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def _synthesize(exe, voice, word, speed, pitch):
    res = subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
                         capture_output=True)
    if res.returncode != 0 or not res.stdout:
        raise QsimError(f"espeak-ng failed for voice {voice!r}: {res.stderr.decode().strip()}. "
                        "help: list voices with `espeak-ng --voices=en` and `--voices=variant`")
    import soundfile as sf
    data, rate = sf.read(io.BytesIO(res.stdout), dtype="float64")
    return resample(data, rate, SAMPLE_RATE)


def warp_formants(speech, factor):
    """Scale every frequency (pitch and formants, a vocal-tract-length change) by `factor`; the
    duration changes by 1/factor. FFT resampling to len/factor samples, played at the same rate."""
    import scipy.signal
    return scipy.signal.resample(speech, max(1, int(round(len(speech) / factor))))


def make_clip(exe, seed, index, label, voice, warp=0.0):
    """One augmented clip (16000,) int16 and the word spoken ('' for silence).

    warp : if > 0, frequencies are scaled by a factor drawn log-uniformly from
        [1/(1+warp), 1+warp] (warp_formants); 0 leaves the clips exactly as before.
    """
    rng = np.random.default_rng([seed, 2, index])
    n = SAMPLE_RATE
    if label == "_silence_":
        level = 10 ** (rng.uniform(-70, -25) / 20)
        return to_int16(np.clip(_noise(rng, n) * level, -1, 1)), ""
    word = rng.choice(UNKNOWN_WORDS) if label == "_unknown_" else label
    speech = _synthesize(exe, voice, word, int(rng.integers(130, 211)), int(rng.integers(25, 76)))
    if warp > 0:
        speech = warp_formants(speech, float(np.exp(rng.uniform(-1, 1) * np.log1p(warp))))
    active = np.nonzero(np.abs(speech) > 0.02 * np.abs(speech).max())[0]
    speech = speech[active[0]:active[-1] + 1] if len(active) else speech
    speech = fix_length(speech, n)                       # a rare over-long word loses its tail
    start = int(rng.integers(0, n - len(speech) + 1))    # time shift
    clip = np.zeros(n)
    clip[start:start + len(speech)] = speech
    clip *= 10 ** (rng.uniform(-20, -1) / 20) / (np.abs(clip).max() + 1e-12)   # gain (peak dBFS)
    if rng.random() < 0.8:                               # background noise at a random SNR
        rms = np.sqrt(np.mean(speech ** 2)) * 10 ** (rng.uniform(-20, -1) / 20) / (np.abs(speech).max() + 1e-12)
        clip += _noise(rng, n) * rms * 10 ** (-rng.uniform(5, 30) / 20)
    return to_int16(np.clip(clip, -1, 1 - 2 ** -15)), str(word)


def _job(args):
    exe, seed, index, label, voice, path, warp = args
    import soundfile as sf
    audio, word = make_clip(exe, seed, index, label, voice, warp)
    sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
    return word


def synthesize_kws(out, seed=0, per_class=400, voices=None, workers=2, force=False, verbose=False,
                   warp=0.0):
    """Synthesize the set into directory `out`; returns the manifest path.

    Parameters
    ----------
    out : target directory; must not exist unless force (then it is replaced when done).
    seed : everything (voice, word, speed, pitch, shift, gain, noise, split) follows from it.
    per_class : clips per label (5 labels).
    voices : espeak-ng voice specs ('en-us', 'en-gb+Alex'); default default_voices().
    workers : process pool size.
    warp : formant / pitch warp augmentation (make_clip); 0 (default) = none.
    """
    exe = _espeak()
    out = Path(out)
    if out.exists() and not force:
        raise QsimError(f"{out} already exists. help: pass --force to replace it or choose --out")
    voices = list(voices) if voices else default_voices()
    split_of = assign_splits(voices, seed)
    pick = np.random.default_rng([seed, 3])
    jobs, rows = [], []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for label in LABELS:
            (tmp / label).mkdir()
            for k in range(per_class):
                index = len(jobs)
                voice = voices[int(pick.integers(len(voices)))]
                rel = f"{label}/{index:06d}.wav"
                jobs.append((exe, seed, index, label, voice, str(tmp / rel), warp))
                rows.append([rel, label, "", voice, split_of[speaker(voice)]])
        with ProcessPoolExecutor(max_workers=workers) as pool:
            words = list(tqdm(pool.map(_job, jobs, chunksize=16), total=len(jobs), desc="kws",
                              unit="clip", disable=not verbose))
        for row, word in zip(rows, words):
            row[2] = word
        with open(tmp / "manifest.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "label", "word", "voice", "split"])
            w.writerows(rows)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %d clips to %s", len(rows), out)
    return out / "manifest.csv"


def load_kws(root, splits=None):
    """Load a synthesized set: (X int16 (N, 16000), y int64 indices into LABELS, split str (N,)).

    splits : optional iterable of split names to keep ('train', 'val', 'test').
    """
    root = Path(root)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise QsimError(f"no manifest.csv in {root}. help: create the set with `qsim data kws --out {root}`")
    with open(manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f) if splits is None or r["split"] in set(splits)]
    X = np.zeros((len(rows), SAMPLE_RATE), np.int16)
    for i, r in enumerate(rows):
        X[i] = load_wav(root / r["path"], SAMPLE_RATE)
    y = np.array([LABELS.index(r["label"]) for r in rows], np.int64)
    return X, y, np.array([r["split"] for r in rows])
