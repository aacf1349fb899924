"""Synthesized _unknown_ and _silence_ clips added to the training split of a real data set.

A Speech Commands folder often holds few "other" words (the _unknown_ class then learns those few
words, not "anything else") and only its `_background_noise_/` recordings for _silence_ (the
class then learns those few noises). qsim's synthesizer widens both without a download:

    _unknown_  words of qsim.kws.dataset's vocabulary (UNKNOWN_WORDS + MORE_UNKNOWN_WORDS) that are
               not among the keywords and not near one (dataset.CONFUSERS), spoken by the
               espeak-ng / flite voices with the demo's augmentation (make_clip, augment=True,
               warp 0.3: speed, pitch, formant warp, reverb, microphone EQ, gain, time shift,
               coloured noise / hum / babble of the same vocabulary)
    _silence_  white / pink / brown noise or mains hum, sometimes two at once, at -70..-10 dB RMS

Only the training split gets them; validation and test stay real. Counts are percentages of the
training split's keyword clips, as TF's silence / unknown percentages are.
"""
import dataclasses
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..errors import DatasetError
from . import dataset as d
from . import voices as vx
from .speech_commands import check_percentage

WARP = 0.3
# the variety the 12-label measurements used (BENCHMARKS.md): the demo's, without its household-
# noise _silence_ (a real folder's _background_noise_ already gives real household noise)
VARIETY = dataclasses.replace(d.DEMO_VARIETY, events=0.0)


def vocabulary(keywords):
    """The synthesized _unknown_ words for these keywords (none of them, none near them)."""
    kw = {w.lower() for w in keywords}
    return tuple(w for w in d.unknown_words(True) if w not in kw and w not in d.CONFUSERS)


def _clip(job):
    seed, index, label, voice, words = job
    return d.make_clip(seed, index, label, voice, WARP, True, VARIETY, vocabulary=words)[0]


def synthesize_extras(keywords, n_unknown, n_silence, seed=0, workers=2):
    """(audio int16 (n_unknown + n_silence, 16000), labels: '_unknown_' then '_silence_').

    Every clip follows from (seed, its index) alone (qsim.kws.dataset.make_clip), so the result
    does not depend on `workers`. Needs espeak-ng (flite voices join when installed).
    """
    if n_unknown + n_silence == 0:
        return np.zeros((0, d.SAMPLE_RATE), np.int16), []
    vx._exe("espeak-ng")
    words = vocabulary(keywords)
    if n_unknown and not words:
        raise DatasetError("no synthesized _unknown_ word is left besides the keywords. help: drop "
                           "--synth-unknown-percentage")
    voices = d.default_voices()                      # espeak-ng and flite, never festival
    pick = np.random.default_rng([seed, 8])
    labels = ["_unknown_"] * n_unknown + ["_silence_"] * n_silence
    jobs = [(seed, 500000 + i, lab, voices[int(pick.integers(len(voices)))], words)
            for i, lab in enumerate(labels)]
    babble = d.babble_bank(voices, seed, 40, words=words or d.UNKNOWN_WORDS)
    with ProcessPoolExecutor(max_workers=workers, initializer=d._init_worker,
                             initargs=(babble, {})) as pool:
        audio = np.stack(list(pool.map(_clip, jobs, chunksize=16)))
    return audio, labels


def add_to_training(audio, y, split, labels, synth_unknown_percentage=0.0,
                    synth_silence_percentage=0.0, seed=0, workers=2):
    """audio, y, split with the synthesized clips appended to the training split."""
    check_percentage("synth_unknown_percentage", synth_unknown_percentage)
    check_percentage("synth_silence_percentage", synth_silence_percentage)
    keywords = [lab for lab in labels if not lab.startswith("_")]
    kw_idx = [labels.index(w) for w in keywords]
    n_kw = int(np.sum((split == "train") & np.isin(y, kw_idx)))
    n_unk = int(math.ceil(n_kw * synth_unknown_percentage / 100))
    n_sil = int(math.ceil(n_kw * synth_silence_percentage / 100))
    if n_unk + n_sil == 0:
        return audio, y, split
    for lab, n in (("_unknown_", n_unk), ("_silence_", n_sil)):
        if n and lab not in labels:
            raise DatasetError(f"the labels have no {lab}; synthesized {lab} clips need it")
    extra, names = synthesize_extras(keywords, n_unk, n_sil, seed, workers)
    return (np.concatenate([audio, extra]),
            np.concatenate([y, np.array([labels.index(n) for n in names], y.dtype)]),
            np.concatenate([split, np.array(["train"] * len(names), dtype=split.dtype)]))
