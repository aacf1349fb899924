"""The Variety options of the synthesized KWS set: intonation / pronunciation text, pitch contour,
recording channel, loud silence; all off = the clips as before, festival clips never changed."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from qsim.errors import QsimError
from qsim.kws import augment as aug
from qsim.kws import dataset as d
from qsim.kws import voices as vx

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
FS = 16000


def _freq(x):
    """Mean frequency of a sine-like signal from its upward zero crossings."""
    up = np.nonzero((x[:-1] < 0) & (x[1:] >= 0))[0]
    return (len(up) - 1) / ((up[-1] - up[0]) / FS)


def test_contour_bends_pitch_within_depth_and_is_deterministic():
    x = np.sin(2 * np.pi * 440 * np.arange(FS) / FS)
    assert aug.contour(x, np.random.default_rng(0), 0) is x
    a = aug.contour(x, np.random.default_rng(3), 2.0)
    assert np.array_equal(a, aug.contour(x, np.random.default_rng(3), 2.0))
    assert not np.array_equal(a, aug.contour(x, np.random.default_rng(4), 2.0))
    lo, hi = 440 * 2 ** (-2 / 12), 440 * 2 ** (2 / 12)
    assert 0.8 * FS < len(a) < 1.25 * FS and np.abs(a).max() <= 1 + 1e-9
    # local frequency (every 50 ms) stays inside the depth, and does move
    local = [_freq(a[k:k + 800]) for k in range(0, len(a) - 800, 800)]
    assert min(local) > lo - 15 and max(local) < hi + 15 and max(local) - min(local) > 15


def _band_gain(x, y, lo, hi):
    f = np.fft.rfftfreq(len(x), 1 / FS)
    sel = (f >= lo) & (f < hi)
    return 10 * np.log10(np.sum(np.abs(np.fft.rfft(y)[sel]) ** 2) / np.sum(np.abs(np.fft.rfft(x)[sel]) ** 2))


def test_channels():
    x = np.random.default_rng(0).normal(size=FS)
    t = aug.channel(x, np.random.default_rng(1), "telephone")
    assert np.isclose(np.abs(t).max(), np.abs(x).max())
    mid = _band_gain(x, t, 800, 2000)
    assert _band_gain(x, t, 20, 150) < mid - 20 and _band_gain(x, t, 5000, 8000) < mid - 20
    lap = aug.channel(x, np.random.default_rng(1), "laptop")
    assert _band_gain(x, lap, 20, 100) < _band_gain(x, lap, 1500, 6000) - 15
    up = [aug.channel(x, np.random.default_rng(s), "tilt") for s in range(20)]
    tilts = [_band_gain(x, u, 4000, 8000) - _band_gain(x, u, 200, 500) for u in up]
    assert max(tilts) > 10 and min(tilts) < -10          # +-6 dB/octave over ~4 octaves
    kinds = {aug.CHANNELS.index(k) for k in aug.CHANNELS}
    assert len(kinds) == 3
    with pytest.raises(ValueError, match="unknown kind"):
        aug.channel(x, np.random.default_rng(0), "radio")


def test_espeak_text_draws():
    rng = np.random.default_rng(0)
    assert all(d.espeak_text("yes", rng, d.NO_VARIETY) is None for _ in range(20))
    v = d.Variety(intonation=1.0, pronunciation=1.0)
    texts = [d.espeak_text("backward", np.random.default_rng(k), v) for k in range(40)]
    assert all("[[" in t for t in texts)
    assert any(t.startswith("<speak>") for t in texts) and any(not t.startswith("<") for t in texts)
    assert any(t.endswith("?") for t in texts)
    # unknown words get intonation, never a keyword's phonemes
    assert all("[[" not in (d.espeak_text("house", np.random.default_rng(k), v) or "")
               for k in range(20))
    assert texts == [d.espeak_text("backward", np.random.default_rng(k), v) for k in range(40)]


def _frame_db(x, n=320):
    e = np.mean(x[:len(x) // n * n].reshape(-1, n) ** 2, axis=1)
    return 10 * np.log10(e + 1e-20)


@pytest.mark.parametrize("kind", aug.EVENT_KINDS)
def test_event_noise_is_unit_rms_and_not_stationary(kind):
    """Each event kind is finite, unit RMS, reproducible from its Generator, and far less steady
    than coloured noise: the spread of 20 ms frame energies (10th to 90th percentile) is wide."""
    x = aug.events(np.random.default_rng(1), FS, kind)
    assert x.shape == (FS,) and np.isfinite(x).all()
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0, rel=1e-6)
    assert np.array_equal(x, aug.events(np.random.default_rng(1), FS, kind))
    spread = lambda y: np.subtract(*np.percentile(_frame_db(y), [90, 10]))   # noqa: E731
    steady = max(spread(aug.noise(np.random.default_rng(k), FS, c))
                 for k, c in enumerate(("white", "pink", "hum")))
    spreads = [spread(aug.events(np.random.default_rng(k), FS, kind)) for k in range(12)]
    assert steady < 7 and np.median(spreads) > 2 * steady, (steady, spreads)


def test_silence_events_only_when_asked():
    """Variety.events=0 leaves every _silence_ clip as before; events=1 makes them all
    non-stationary; festival clips ignore it."""
    v0, v1 = d.Variety(silence_top=-10.0), d.Variety(silence_top=-10.0, events=1.0)
    for i in range(8):
        a = d.make_clip(0, i, "_silence_", "en-us", 0.3, True, v0)[0]
        assert np.array_equal(a, d.make_clip(0, i, "_silence_", "en-us", 0.3, True, d.Variety(
            silence_top=-10.0, events=0.0))[0])
        b = d.make_clip(0, i, "_silence_", "en-us", 0.3, False, v1)[0].astype(np.float64)
        if np.abs(b).max() > 50:                       # not lost under 16-bit rounding
            assert np.subtract(*np.percentile(_frame_db(b), [90, 10])) > 3
        f = d.make_clip(0, i, "_silence_", "festival:kal_diphone", 0.3, True, v1)[0]
        assert np.array_equal(f, d.make_clip(0, i, "_silence_", "festival:kal_diphone", 0.3, True)[0])


def test_variety_checks():
    for bad in ({"intonation": 1.5}, {"contour": -1}, {"silence_top": 3}, {"channel": -0.1},
                {"events": 2.0}):
        with pytest.raises(QsimError, match="help"):
            d.Variety(**bad)


def test_loud_silence_levels():
    rms = lambda a: 20 * np.log10(np.sqrt(np.mean((a / 32768.0) ** 2)) + 1e-12)   # noqa: E731
    old = [rms(d.make_clip(0, i, "_silence_", "en-us", 0.3, True)[0]) for i in range(60)]
    same = [rms(d.make_clip(0, i, "_silence_", "en-us", 0.3, True, d.Variety(silence_top=-25.0))[0])
            for i in range(60)]
    assert old == same and max(old) < -24
    loud = [rms(d.make_clip(0, i, "_silence_", "en-us", 0.3, True, d.Variety(silence_top=-10.0))[0])
            for i in range(60)]
    assert -14 < max(loud) < -9.9 and min(loud) < -55 and sum(v > -25 for v in loud) > 10
    # festival (held-out) clips ignore the variety
    fest = [rms(d.make_clip(0, i, "_silence_", "festival:kal_diphone", 0.3, True,
                            d.Variety(silence_top=-10.0))[0]) for i in range(60)]
    assert fest == [rms(d.make_clip(0, i, "_silence_", "festival:kal_diphone", 0.3, True)[0])
                    for i in range(60)]


@needs_espeak
def test_variety_speech_clips():
    d._init_worker(None, {})
    v = d.Variety(intonation=1.0, pronunciation=1.0, contour=2.0, channel=1.0)
    base = [d.make_clip(5, i, "backward", "en-us", 0.3, False)[0] for i in range(3)]
    assert all(np.array_equal(b, d.make_clip(5, i, "backward", "en-us", 0.3, False, d.NO_VARIETY)[0])
               for i, b in enumerate(base))
    var = [d.make_clip(5, i, "backward", "en-us", 0.3, False, v)[0] for i in range(3)]
    assert all(not np.array_equal(a, b) for a, b in zip(base, var))
    assert all(np.array_equal(a, d.make_clip(5, i, "backward", "en-us", 0.3, False, v)[0])
               for i, a in enumerate(var))
    peak = [np.abs(a.astype(np.int32)).max() for a in var]
    assert all(p > 3000 for p in peak)                # still a spoken word at -20 dBFS or louder
    # household-noise backgrounds: only the noise changes (same word, start and gain draws)
    ev = d.Variety(background_events=1.0)
    bg = [d.make_clip(5, i, "backward", "en-us", 0.3, False, ev)[0] for i in range(3)]
    assert any(not np.array_equal(a, b) for a, b in zip(base, bg))
    assert all(np.array_equal(a, d.make_clip(5, i, "backward", "en-us", 0.3, False, ev)[0])
               for i, a in enumerate(bg))
    assert all(np.corrcoef(a.astype(float), b.astype(float))[0, 1] > 0.5 for a, b in zip(base, bg))


@needs_espeak
def test_synthesize_text_forms():
    plain = vx.synthesize("en-us", "yes")
    for text in ("yes?", "[[j'E:s]]", '<speak><prosody range="x-high">yes?</prosody></speak>'):
        x = vx.synthesize("en-us", "yes", text=text)
        assert len(x) > 1600 and np.abs(x).max() > 0.1
        assert len(x) != len(plain) or not np.allclose(x, plain)
    with pytest.raises(QsimError, match="espeak-ng"):
        vx.synthesize("flite:awb", "yes", text="yes?")


def test_demo_dataset_key_follows_variety(monkeypatch, tmp_path):
    from qsim.kws import demo
    made = []

    def fake(out, **kw):
        made.append(kw["variety"])
        out.mkdir(parents=True)
    monkeypatch.setattr(demo, "synthesize_kws", fake)
    keys = []
    for v in (d.NO_VARIETY, d.Variety(contour=1.0), d.Variety(contour=2.0), d.Variety(contour=1.0)):
        (path, cached), key = demo._dataset(demo.DemoSettings(variety=v), tmp_path, False)
        keys.append(key)
    assert len(set(keys[:3])) == 3 and keys[3] == keys[1]
    assert made == [d.NO_VARIETY, d.Variety(contour=1.0), d.Variety(contour=2.0)]   # 4th: cached


def test_confusers_left_out_of_training_words_only():
    v = d.Variety(confusers=False)
    full = [d.clip_word(0, i, "_unknown_", True) for i in range(3000)]
    assert full == [d.clip_word(0, i, "_unknown_", True, d.NO_VARIETY) for i in range(3000)]
    assert set(full) & set(d.CONFUSERS)
    less = [d.clip_word(0, i, "_unknown_", True, v) for i in range(3000)]
    assert not set(less) & set(d.CONFUSERS) and len(set(less)) == len(d.unknown_words(True)) - len(d.CONFUSERS)
    assert set(d.CONFUSERS) <= set(d.unknown_words(True))
    assert d.clip_word(0, 1, "yes", True, v) == "yes" and d.clip_word(0, 1, "_silence_", True, v) == ""


@pytest.mark.parametrize("augment", [False, True])
def test_data_kws_augment_is_the_demos_setting(tmp_path, monkeypatch, augment):
    """`qsim data kws --augment` synthesizes what the demo trains on (its Variety too)."""
    from qsim.cli import main
    from qsim.kws import dataset
    from qsim.kws.demo import DemoSettings
    seen = {}

    def fake(out, **kw):
        seen.update(kw)
        return Path(out) / "manifest.csv"
    monkeypatch.setattr(dataset, "synthesize_kws", fake)
    args = ["data", "kws", "--out", str(tmp_path / "set"), "--per-class", "2"]
    assert main(args + (["--augment"] if augment else [])) == 0
    assert seen["augment"] is augment
    assert seen["variety"] == (DemoSettings().variety if augment else dataset.NO_VARIETY)


@needs_espeak
def test_words_start_anywhere_in_the_second():
    """The time shift places a word anywhere in the clip, as in real one-second recordings
    (Speech Commands words peak at 0.13-0.71 s, 5th-95th percentile), not always at its start:
    a padded word left no room to shift and every synthesized word began within 0.07 s."""
    d._init_worker(None, {})
    onsets = []
    for i in range(24):
        x = d.make_clip(3, i, "yes", "en-us", 0.3, True, d.NO_VARIETY)[0].astype(np.float64)
        e = np.convolve(x ** 2, np.ones(800) / 800, "same")
        onsets.append(np.nonzero(e > 0.05 * e.max())[0][0] / 16000)
    assert max(onsets) > 0.4 and np.median(onsets) > 0.15, onsets
    assert min(onsets) < 0.15, onsets


@needs_espeak
def test_household_noise_stays_out_of_the_test_split(tmp_path):
    """Variety.events changes training / validation _silence_ only: the test split's clips are
    those of the same set made without it (the synthesized benchmark stays comparable)."""
    voices = ["en-us", "en-gb", "en", "en-sc", "en-029", "en-gb-x-rp"]
    sets = {}
    for name, v in (("plain", d.Variety(silence_top=-10.0)), ("events", d.Variety(silence_top=-10.0, events=1.0))):
        d.synthesize_kws(tmp_path / name, seed=4, per_class=20, voices=voices, workers=2, variety=v)
        sets[name] = d.load_kws(tmp_path / name)
    (xa, ya, sa), (xb, yb, sb) = sets["plain"], sets["events"]
    assert np.array_equal(ya, yb) and np.array_equal(sa, sb) and {"train", "test"} <= set(sa)
    sil = ya == d.LABELS.index("_silence_")
    assert (sil & (sa == "test")).any() and np.array_equal(xa[sa == "test"], xb[sb == "test"])
    assert np.array_equal(xa[~sil], xb[~sil])                     # words untouched (no background_events)
    changed = [not np.array_equal(a, b) for a, b in zip(xa[sil & (sa != "test")], xb[sil & (sb != "test")])]
    assert changed and all(changed)
