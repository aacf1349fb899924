"""A Speech Commands folder the test writes (numpy-synthesized clips): labels, splits, proportions,
bad inputs, and `qsim train kws --data` / `qsim data kws --from` / `qsim kws` end to end."""
import hashlib
import math
import re
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import soundfile as sf

from qsim.cli import main
from qsim.errors import DatasetError
from qsim.kws import speech_commands as sc
from qsim.kws.flow import MASKS

pytestmark = pytest.mark.filterwarnings("ignore::qsim.errors.SaturationWarning",
                                        "ignore::qsim.errors.QuantizationWarning")
SR = 16000
WORDS = {"yes": (300, 900), "no": (500, 350), "up": (700, 1400), "cat": (250, 2000),
         "dog": (1100, 600)}
SPEAKERS = [f"{i:08x}" for i in (0x1a2b3c4d, 0x0badcafe, 0x12345678, 0x0f0f0f0f, 0x3c3c3c3c,
                                 0x77777777, 0x2468ace0, 0x13579bdf, 0x0c0ffee0, 0x55aa55aa,
                                 0x31415926, 0x27182818)]
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
TINY = ["--epochs", "2", "--conv", "4", "4", "--fc", "8", "--batch-size", "16"]


def twin_which_set(name):
    """TF input_data.which_set written out again (10% validation, 10% testing)."""
    h = hashlib.sha1(re.sub(r"_nohash_.*$", "", name).encode()).hexdigest()
    p = (int(h, 16) % (2 ** 27)) * (100.0 / (2 ** 27 - 1))
    return "val" if p < 10 else "test" if p < 20 else "train"


def clip(word, speaker, n, length=SR):
    """A two-tone 'word' whose pitch depends on the speaker, at a random place in the clip."""
    rng = np.random.default_rng([int(speaker, 16), n, len(word)])
    f1, f2 = WORDS[word]
    k = 1 + (int(speaker, 16) % 7) / 20
    t = np.arange(SR // 2) / SR
    tone = np.sin(2 * np.pi * f1 * k * t) + 0.5 * np.sin(2 * np.pi * f2 * k * t)
    tone *= np.hanning(len(t)) * rng.uniform(0.2, 0.8)
    x = np.zeros(length)
    start = int(rng.integers(0, length - len(t) + 1))
    x[start:start + len(t)] = tone
    return np.round(x * 32767).astype(np.int16)


def write_folder(root, lists=False, clips_per_speaker=2):
    for w in WORDS:
        (root / w).mkdir(parents=True)
        for s in SPEAKERS:
            for n in range(clips_per_speaker):
                length = SR if n % 2 == 0 else SR - 1234          # short clips are padded
                sf.write(root / w / f"{s}_nohash_{n}.wav", clip(w, s, n, length), SR, subtype="PCM_16")
    (root / sc.BACKGROUND).mkdir()
    rng = np.random.default_rng(0)
    for i, n in enumerate((3 * SR, 2 * SR + 17)):
        sf.write(root / sc.BACKGROUND / f"noise{i}.wav",
                 np.round(rng.normal(size=n) * 3000).astype(np.int16), SR, subtype="PCM_16")
    if lists:
        (root / "validation_list.txt").write_text("".join(f"{w}/{SPEAKERS[0]}_nohash_{n}.wav\n"
                                                          for w in WORDS for n in range(2)))
        (root / "testing_list.txt").write_text("".join(f"{w}/{SPEAKERS[1]}_nohash_{n}.wav\n"
                                                       for w in WORDS for n in range(2)))
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("sc") / "speech_commands")


def test_which_set_is_tf_rule_and_speaker_disjoint(folder):
    for s in SPEAKERS + ["0a7c2a8d", "ffffffff"]:
        assert sc.which_set(f"yes/{s}_nohash_0.wav") == twin_which_set(f"{s}_nohash_0.wav")
    assert sc.speaker_of("up/0a7c2a8d_nohash_3.wav") == "0a7c2a8d"
    labels, rows = sc.index(folder, ("yes", "no", "up"))
    split_of = {}
    for r in rows:
        if r["speaker"]:
            split_of.setdefault(r["speaker"], set()).add(r["split"])
    assert all(len(v) == 1 for v in split_of.values())
    assert {next(iter(v)) for v in split_of.values()} == {twin_which_set(s) for s in SPEAKERS}


def test_labels_and_proportions(folder):
    labels, rows = sc.index(folder, ("yes", "no"))
    assert labels == ("_silence_", "_unknown_", "yes", "no")
    for split in ("train", "val", "test"):
        mine = [r for r in rows if r["split"] == split]
        n_kw = sum(r["label"] in ("yes", "no") for r in mine)
        expect_kw = 2 * 2 * sum(twin_which_set(s) == split for s in SPEAKERS)
        assert n_kw == expect_kw
        avail_unk = 3 * 2 * sum(twin_which_set(s) == split for s in SPEAKERS)   # up, cat, dog
        assert sum(r["label"] == "_unknown_" for r in mine) == min(avail_unk, math.ceil(n_kw / 10))
        assert sum(r["label"] == "_silence_" for r in mine) == math.ceil(n_kw / 10)
        for r in mine:
            if r["label"] == "_unknown_":
                assert r["path"].split("/")[0] in ("up", "cat", "dog")
    X, y, split, labels2 = sc.load_speech_commands(folder, ("yes", "no"))
    assert labels2 == labels and X.shape == (len(rows), SR) and X.dtype == np.int16
    assert [labels[i] for i in y] == [r["label"] for r in rows]
    # a val/test keyword clip is the file as recorded, padded with zeros to one second
    i = next(i for i, r in enumerate(rows) if r["split"] != "train" and r["label"] == "yes"
             and r["path"].endswith("_1.wav"))
    s, n = rows[i]["path"].split("/")[1].split("_nohash_")
    np.testing.assert_array_equal(X[i], np.pad(clip("yes", s, 1, SR - 1234), (0, 1234)))
    # silence clips are scaled cuts of the background files, no louder than them
    sil = X[y == 0].astype(np.int64)
    assert len(sil) and np.abs(sil).max() <= 4 * 3000 * 1.0 + 1


def test_lists_define_splits(tmp_path):
    root = write_folder(tmp_path / "sc", lists=True)
    labels, rows = sc.index(root, ("yes", "no", "up"))
    for r in rows:
        if r["speaker"]:
            want = "val" if r["speaker"] == SPEAKERS[0] else "test" if r["speaker"] == SPEAKERS[1] else "train"
            assert r["split"] == want, r


@pytest.mark.parametrize("breakage, match", [
    ("rate", "8000 Hz, need 16000"), ("stereo", "2 channels"), ("mp3", "not a .wav"),
    ("empty", "empty word folder"), ("long", "longer than the one-second"),
    ("nobg", "_background_noise_"), ("missing", "no folder for the word"),
    ("onelist", "only one of"), ("emptybg", "empty")])
def test_bad_folders_named_errors(tmp_path, breakage, match):
    root = tmp_path / "sc"
    for w in ("yes", "no", "cat"):
        (root / w).mkdir(parents=True)
        sf.write(root / w / "aaaa_nohash_0.wav", clip(w if w in WORDS else "cat", "0000aaaa", 0),
                 SR, subtype="PCM_16")
    (root / sc.BACKGROUND).mkdir()
    sf.write(root / sc.BACKGROUND / "n.wav", np.zeros(2 * SR, np.int16), SR, subtype="PCM_16")
    bad = root / "yes" / "bbbb_nohash_0.wav"
    if breakage == "rate":
        sf.write(bad, np.zeros(8000, np.int16), 8000, subtype="PCM_16")
    elif breakage == "stereo":
        sf.write(bad, np.zeros((SR, 2), np.int16), SR, subtype="PCM_16")
    elif breakage == "mp3":
        (root / "yes" / "x.mp3").write_bytes(b"ID3")
    elif breakage == "empty":
        (root / "dog").mkdir()
    elif breakage == "long":
        sf.write(bad, np.zeros(SR + 1, np.int16), SR, subtype="PCM_16")
    elif breakage == "nobg":
        (root / sc.BACKGROUND / "n.wav").unlink()
        (root / sc.BACKGROUND).rmdir()
    elif breakage == "missing":
        (root / "no" / "aaaa_nohash_0.wav").unlink()
        (root / "no").rmdir()
    elif breakage == "onelist":
        (root / "testing_list.txt").write_text("yes/aaaa_nohash_0.wav\n")
    elif breakage == "emptybg":
        (root / sc.BACKGROUND / "n.wav").unlink()
    with pytest.raises(DatasetError, match=match):
        X, *_ = sc.load_speech_commands(root, ("yes", "no"))
    rc = main(["data", "kws", "--from", str(root), "--words", "yes", "no"])
    assert rc == 2


def test_train_and_classify_end_to_end(folder, tmp_path, capsys):
    rc = main(["data", "kws", "--from", str(folder), "--words", "yes", "no"])
    out = capsys.readouterr().out
    assert rc == 0 and "_unknown_" in out and "speakers" in out
    model = tmp_path / "m"
    assert main(["train", "kws", "--data", str(folder), "--words", "yes", "no", "-o", str(model),
                 *TINY]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out
    import json
    doc = json.loads((model / "kws.json").read_text())
    assert doc["labels"] == ["_silence_", "_unknown_", "yes", "no"] and doc["frontend"] == "q15"
    assert (doc["train"]["time_mask"], doc["train"]["freq_mask"]) == MASKS["recorded"]
    n = doc["metrics"]["split_sizes"]
    assert n["train"] > n["val"] > 0 and n["test"] > 0
    wav = tmp_path / "yes.wav"
    sf.write(wav, clip("yes", SPEAKERS[2], 0), SR, subtype="PCM_16")
    assert main(["kws", str(wav), "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "yes.wav" in out
    with pytest.raises(SystemExit):
        main(["train", "kws", "--data", str(folder), "--words", "yes", "-o", str(model), "--frontend", "x"])


@pytest.mark.parametrize("silence, unknown", [(0, 0), (25, 50), (100, 1000)])
def test_settable_proportions(folder, silence, unknown):
    """TF's --silence_percentage / --unknown_percentage: ceil(P% of the split's keyword clips),
    unknown capped by the clips available."""
    labels, rows = sc.index(folder, ("yes", "no"), silence_percentage=silence,
                            unknown_percentage=unknown)
    for split in ("train", "val", "test"):
        mine = [r for r in rows if r["split"] == split]
        n_kw = sum(r["label"] in ("yes", "no") for r in mine)
        avail_unk = 3 * 2 * sum(twin_which_set(s) == split for s in SPEAKERS)
        assert sum(r["label"] == "_unknown_" for r in mine) == min(avail_unk, math.ceil(n_kw * unknown / 100))
        assert sum(r["label"] == "_silence_" for r in mine) == math.ceil(n_kw * silence / 100)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                 st.booleans(), st.text(max_size=5)))
def test_bad_proportion_is_a_named_error(folder, value):
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and 0 <= value <= sc.MAX_PERCENTAGE)
    for key in ("silence_percentage", "unknown_percentage"):
        if ok:
            sc.index(folder, ("yes", "no"), **{key: value})
        else:
            with pytest.raises(DatasetError, match="percentage"):
                sc.index(folder, ("yes", "no"), **{key: value})


def test_proportion_flags_on_the_command_line(folder, tmp_path, capsys):
    assert main(["data", "kws", "--from", str(folder), "--words", "yes", "no",
                 "--unknown-percentage", "0", "--silence-percentage", "50"]) == 0
    out = capsys.readouterr().out
    labels, rows = sc.index(folder, ("yes", "no"), silence_percentage=50, unknown_percentage=0)
    assert out.startswith(sc.summary(labels, rows))
    assert main(["data", "kws", "--from", str(folder), "--silence-percentage", "-1"]) == 2
    assert "percentage" in capsys.readouterr().err
    # a synthesized set has fixed proportions: refused with a help line, no traceback
    assert main(["data", "kws", "--out", str(tmp_path / "x"), "--unknown-percentage", "5"]) == 2
    assert "--from" in capsys.readouterr().err


@needs_gcc
def test_demo_on_a_speech_commands_folder(folder, tmp_path, capsys):
    """`qsim demo --data SC_DIR`: the whole flow (train, quantize, QAT, codegen, parity, report)
    on recordings in the Speech Commands layout, labels from the folder, cached by its content."""
    out, cache = tmp_path / "demo", tmp_path / "cache"
    args = ["demo", "--data", str(folder), "--words", "yes", "no", "-o", str(out), "--cache",
            str(cache), "--standin", *TINY]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "KWS demo: _silence_ / _unknown_ / yes / no" in text and f"data: {folder}" in text
    assert "held-out synthesizer" not in text
    for f in ("summary.json", "model/kws.json", "c/kws_q7/kws_q7.c", "c/kws_q7/kws_q7_features.h",
              "report_q7/report.txt", "parity.txt"):
        assert (out / f).is_file(), f
    import json
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labels"] == ["_silence_", "_unknown_", "yes", "no"]
    assert all(p["mismatches"] == 0 and p["layers"] > 0 for p in summary["parity"].values())
    assert json.loads((out / "model" / "kws.json").read_text())["labels"] == summary["labels"]
    # second run: features and training cached; a changed folder is read again
    assert main(args) == 0
    stages = {r["stage"]: r["note"] for r in json.loads((out / "summary.json").read_text())["stages"]}
    assert stages["train"] == stages["features (arm_mfcc_q15)"] == "cached"
    capsys.readouterr()
    extra = folder / "yes" / f"{SPEAKERS[0]}_nohash_9.wav"
    sf.write(extra, clip("yes", SPEAKERS[0], 9), SR, subtype="PCM_16")
    try:
        assert main(args) == 0
        stages = {r["stage"]: r["note"] for r in json.loads((out / "summary.json").read_text())["stages"]}
        assert stages["features (arm_mfcc_q15)"] != "cached"
    finally:
        extra.unlink()
    capsys.readouterr()
    # user mistakes: named errors, exit 2
    assert main(["demo", "--words", "yes", "-o", str(out), "--cache", str(cache)]) == 2
    assert main(["demo", "--data", str(folder), "--per-class", "5", "-o", str(out)]) == 2
    notsc = tmp_path / "notsc"
    notsc.mkdir()
    (notsc / "a.txt").write_text("x")
    assert main(["demo", "--data", str(notsc), "-o", str(out), "--cache", str(cache)]) == 2
    err = capsys.readouterr().err
    assert "--data SC_DIR" in err and "--per-class" in err and "Speech Commands layout" in err


def test_reading_some_splits_gives_the_same_clips(folder):
    X, y, split, labels = sc.load_speech_commands(folder, ("yes", "no"))
    for want in (("test",), ("train", "val")):
        Xs, ys, ss, labels2 = sc.load_speech_commands(folder, ("yes", "no"), splits=want)
        keep = np.isin(split, want)
        assert labels2 == labels and set(ss) <= set(want)
        np.testing.assert_array_equal(Xs, X[keep])
        np.testing.assert_array_equal(ys, y[keep])


def test_empty_test_split(tmp_path, capsys):
    """No clip in the test split (an empty testing_list.txt): `train kws` still writes the model
    and says there is no test accuracy; `demo` (which measures on the test split) stops with a
    named error before training and leaves no output folder. Neither prints a traceback."""
    root = write_folder(tmp_path / "sc", lists=True, clips_per_speaker=1)
    (root / "testing_list.txt").write_text("")
    model = tmp_path / "m"
    assert main(["train", "kws", "--data", str(root), "--words", "yes", "no", "-o", str(model),
                 *TINY]) == 0
    out, err = capsys.readouterr()
    assert "0 test clips" in out and "test split is empty" in out and "Traceback" not in err
    assert (model / "kws.json").is_file()
    demo = tmp_path / "demo"
    assert main(["demo", "--data", str(root), "--words", "yes", "no", "-o", str(demo), "--cache",
                 str(tmp_path / "cache"), "--standin", *TINY]) == 2
    out, err = capsys.readouterr()
    assert "no clip falls in the test split" in err and "testing_list.txt" in err
    assert not demo.exists()
