"""A tiny espeak-ng synthesis: labels, splits by speaker, determinism, atomic output, loading."""
import shutil

import numpy as np
import pytest

from qsim.kws.dataset import LABELS, assign_splits, load_kws, speaker, synthesize_kws
from qsim.errors import QsimError

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng not installed (apt-get install espeak-ng)")

VOICES = ["en-us", "en-gb+Alex"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("kws") / "set"
    synthesize_kws(out, seed=7, per_class=4, voices=VOICES, workers=2)
    return out


def test_layout_and_manifest(tiny):
    X, y, split = load_kws(tiny)
    assert X.shape == (20, 16000) and X.dtype == np.int16
    assert np.bincount(y, minlength=len(LABELS)).tolist() == [4] * 5
    assert set(split) <= {"train", "test"} and len(set(split)) == 2
    lines = (tiny / "manifest.csv").read_text().splitlines()
    assert lines[0] == "path,label,word,voice,split"
    for line in lines[1:]:
        path, label, word, voice, sp = line.split(",")
        assert voice in VOICES and path.startswith(label + "/")
        assert word == ("" if label == "_silence_" else label if label in LABELS[:3] else word)
    # speech clips are audible, silence clips are quiet
    peak = np.abs(X.astype(np.int32)).max(1)
    rms = np.sqrt(np.mean(X.astype(np.float64) ** 2, axis=1))
    assert np.all(peak[y < 4] > 3000) and np.all(rms[y == 4] < 2000)   # gain >= -20 dBFS peak; noise <= -25 dBFS rms
    assert not list(tiny.parent.glob(".set.tmp-*"))


def test_split_by_speaker_and_deterministic(tiny, tmp_path):
    splits = assign_splits(["en-us+Alex", "en-gb+Alex", "en-us+m3", "en-us", "en-gb"], 0)
    assert set(splits) == {"Alex", "m3", "en-us", "en-gb"}
    _, _, split = load_kws(tiny)
    rows = (tiny / "manifest.csv").read_text().splitlines()[1:]
    by_speaker = {}
    for r in rows:
        by_speaker.setdefault(speaker(r.split(",")[3]), set()).add(r.split(",")[4])
    assert all(len(s) == 1 for s in by_speaker.values())
    again = tmp_path / "again"
    synthesize_kws(again, seed=7, per_class=4, voices=VOICES, workers=1)
    X1, y1, _ = load_kws(tiny)
    X2, y2, _ = load_kws(again)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)


def test_existing_dir_and_filter(tiny):
    with pytest.raises(QsimError, match="--force"):
        synthesize_kws(tiny, seed=7, per_class=1, voices=VOICES)
    X, y, split = load_kws(tiny, splits=["test"])
    assert len(X) > 0 and set(split) == {"test"}
    with pytest.raises(QsimError, match="qsim data kws"):
        load_kws(tiny / "nowhere")
