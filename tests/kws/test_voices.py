"""Synthesizers (espeak-ng, flite, festival), the held-out synthesizer split and the augmentations."""
import csv
import logging
import shutil

import numpy as np
import pytest

from qsim.kws import augment as aug
from qsim.kws import voices as vx
from qsim.kws.dataset import LABELS, load_kws, synthesize_kws

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
HAVE_ALL = all(vx.available(s) for s in ("espeak-ng", "flite", "festival"))


def test_speakers_are_people_across_synthesizers():
    assert vx.speaker("en-gb+Alex") == "Alex" and vx.speaker("en-us") == "en-us"
    assert vx.speaker("flite:kal16") == vx.speaker("festival:kal_diphone") == "kal"
    assert vx.speaker("flite:slt") == vx.speaker("festival:cmu_us_slt_arctic_hts")
    assert vx.synthesizer("flite:awb") == "flite" and vx.synthesizer("en-029") == "espeak-ng"


def test_missing_synthesizer_is_said(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(vx.shutil, "which", lambda name: None if name in ("flite", "festival")
                        else real(name))
    msgs = vx.missing_synthesizers()
    assert len(msgs) == 2 and "apt-get install flite" in msgs[0] and "festvox" in msgs[1]
    assert vx.flite_voices() == [] and vx.festival_voices() == []


@needs_espeak
def test_no_festival_leaves_heldout_out(monkeypatch, tmp_path, caplog):
    real = shutil.which
    monkeypatch.setattr(vx.shutil, "which", lambda name: None if name == "festival" else real(name))
    with caplog.at_level(logging.WARNING):
        synthesize_kws(tmp_path / "s", seed=1, per_class=1, voices=["en-us", "en-gb"],
                       heldout_per_class=2, workers=1)
    assert "held-out synthesizer split is left out" in caplog.text
    _, _, split = load_kws(tmp_path / "s")
    assert "heldout" not in set(split) and len(split) == 5


@pytest.mark.skipif(not HAVE_ALL, reason="needs espeak-ng, flite and festival (make deps)")
def test_heldout_synthesizer_split(tmp_path):
    out = tmp_path / "s"
    synthesize_kws(out, seed=2, per_class=3, voices=["en-us", "en-gb+Alex", "flite:awb", "flite:slt",
                                                    "flite:kal16"],
                   heldout_per_class=2, augment=True, workers=2, flite_share=0.5)
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    X, y, split = load_kws(out)
    assert np.bincount(y, minlength=5).tolist() == [5] * 5
    held = [r for r in rows if r["split"] == "heldout"]
    assert len(held) == 10 and all(r["voice"].startswith("festival:") for r in held)
    trained = {r["voice"] for r in rows if r["split"] != "heldout"}
    # the people festival speaks with (kal, slt) are never in the other splits
    assert not trained & {"flite:slt", "flite:kal16"} and {vx.synthesizer(v) for v in trained} <= {
        "espeak-ng", "flite"}
    split_of = {}
    for r in rows:
        split_of.setdefault(vx.speaker(r["voice"]), set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())
    peak = np.abs(X.astype(np.int32)).max(1)
    assert np.all(peak[y != LABELS.index("_silence_")] > 3000)


def test_augmentations():
    rng = np.random.default_rng(0)
    x = rng.normal(size=16000)
    r = aug.reverb(x, rng)
    assert len(r) > len(x) and np.isclose(np.abs(r).max(), np.abs(x).max())
    e = aug.mic_eq(x, np.random.default_rng(1))
    spec_in, spec_out = np.abs(np.fft.rfft(x)) ** 2, np.abs(np.fft.rfft(e)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    band = (f > 1000) & (f < 2000)
    gain = lambda sel: 10 * np.log10(spec_out[sel].sum() / spec_in[sel].sum())   # noqa: E731
    assert gain(f > 7600) < gain(band) - 3 and gain(f < 40) < gain(band) - 3
    for kind in aug.NOISE_KINDS:
        n = aug.noise(np.random.default_rng(2), 16000, kind, babble=rng.normal(size=40000))
        assert np.isclose(np.sqrt(np.mean(n ** 2)), 1.0)
    white = np.abs(np.fft.rfft(aug.noise(rng, 16000, "white"))) ** 2
    brown = np.abs(np.fft.rfft(aug.noise(rng, 16000, "brown"))) ** 2
    assert brown[1:200].sum() / brown.sum() > 10 * white[1:200].sum() / white.sum()
    fast = aug.speed(x, 1.25)
    assert abs(len(fast) - len(x) / 1.25) <= 2
