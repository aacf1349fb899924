"""Keyword spotting end to end on a tiny synthesized set: train kws, kws on WAVs, the demo, ONNX.

The tiny flow (20 clips of 4 voices, 1 epoch, a narrow net, stand-in parity) runs in CI; the
full demo is marked slow. Integer steps are compared exactly; float vs onnxruntime with the
tolerance of tests/test_onnx_export.py (float32 vs float64 sums over a few hundred terms).
"""
import argparse
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qsim import float_exec
from qsim.cli import main
from qsim.errors import ShapeError
from qsim.fixedpoint import QFormat
from qsim.importers.spec import Sequential
from qsim.kws import features as kws
from qsim.kws.net import augment_mfcc, fold_input_norm, kws_spec

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
VOICES = ["en-us", "en-gb+Alex", "en+Andy", "en-029"]      # 4 speakers: train, val and test
TINY = ["--epochs", "1", "--conv", "4", "4", "--fc", "8", "--batch-size", "16"]
pytestmark = pytest.mark.filterwarnings("ignore::qsim.errors.SaturationWarning",
                                        "ignore::qsim.errors.QuantizationWarning")


@pytest.fixture
def cli(capsys):
    def run(*args):
        rc = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return rc, out, err
    return run


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    if not HAVE_ESPEAK:
        pytest.skip("espeak-ng not installed")
    from qsim.kws.dataset import synthesize_kws
    out = tmp_path_factory.mktemp("kws") / "set"
    synthesize_kws(out, seed=3, per_class=4, voices=VOICES, workers=2)
    return out


@pytest.fixture(scope="module")
def tiny_model(tiny_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "m"
    assert main(["train", "kws", "--data", str(tiny_set), "-o", str(out), *TINY]) == 0
    return out


@pytest.mark.parametrize("bits", [8, 16])
def test_mfcc_to_input_is_quantize_of_dequantized(bits):
    m = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16)
    for frac in range(-2, bits + 3):
        q = QFormat(bits, frac)
        np.testing.assert_array_equal(kws.mfcc_to_input(m, q), q.quantize(kws.mfcc_float(m)),
                                      err_msg=f"{q}")


COEFF_SHIFTS = [(), (3, 1, 0, 0, 0, 0, 0, -1, -1, -1), (8, -8, 7, -7, 2, -2, 1, 0, 5, -4)]


@needs_gcc
@pytest.mark.parametrize("frac", [1, 4, 7, 9])
@pytest.mark.parametrize("coeff_shift", COEFF_SHIFTS)
def test_features_header_matches_python(tmp_path, frac, coeff_shift):
    """The generated C step == scale_coeffs then mfcc_to_input on every int16 value, each value
    seen at every coefficient position."""
    q = QFormat(8 if frac < 8 else 16, frac)
    (tmp_path / "f.h").write_text(kws.features_header(q, "net", coeff_shift=coeff_shift))
    ct = "int8_t" if q.bits == 8 else "int16_t"
    (tmp_path / "m.c").write_text(f"""#include <stdio.h>
#include "f.h"
int main(void) {{ static int16_t m[65536]; static {ct} o[65536]; long i;
  for (i = 0; i < 65536; ++i) m[i] = (int16_t)(i - 32768);
  net_input_from_mfcc_q15(m, o, 65536);
  for (i = 0; i < 65536; ++i) printf("%d\\n", o[i]);
  return 0; }}""")
    exe = tmp_path / "m"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-O2", str(tmp_path / "m.c"), "-o", str(exe)],
                   check=True)
    got = np.array(subprocess.run([str(exe)], capture_output=True, text=True, check=True)
                   .stdout.split(), np.int64)
    m = np.arange(-32768, 32768).astype(np.int16)
    want = kws.mfcc_to_input(kws.scale_coeffs(m[:-6].reshape(-1, 10), coeff_shift).reshape(-1)
                             if coeff_shift else m, q)
    np.testing.assert_array_equal(got[:len(want)], want)
    if coeff_shift:           # shifted by one position: every value meets another coefficient
        np.testing.assert_array_equal(
            got[3:3 + 65530], kws.mfcc_to_input(kws.scale_coeffs(m[3:3 + 65530].reshape(-1, 10),
                                                                 np.roll(coeff_shift, -3)).reshape(-1), q))


@pytest.mark.parametrize("r", range(-8, 9))
def test_scale_coeffs_is_rounded_power_of_two(r):
    """scale_coeffs == round half up of m / 2**r, saturated to int16, per coefficient."""
    m = np.arange(-32768, 32768).astype(np.int16)[:-6].reshape(-1, 10)
    shifts = np.full(10, r)
    shifts[3] = 0
    got = kws.scale_coeffs(m, tuple(shifts)).astype(np.int64)
    want = np.clip(np.floor(m.astype(np.float64) / 2.0 ** shifts + 0.5), -32768, 32767)
    np.testing.assert_array_equal(got, want)
    assert got.shape == m.shape


def test_scale_coeffs_refuses_bad_shapes():
    with pytest.raises(ShapeError, match="3 shifts for 10"):
        kws.scale_coeffs(np.zeros((2, 49, 10, 1), np.int16), (1, 2, 3))
    with pytest.raises(ShapeError, match="int16"):
        kws.scale_coeffs(np.zeros((2, 10)), (0,) * 10)


def test_balance_shifts_equalizes_ranges(rng):
    """Coefficients 16x, 1x and 1/4x the median spread get shifts 4, 0, -2; after scaling every
    range is within a factor 1.5 of the median."""
    spread = np.array([1600, 100, 100, 100, 100, 100, 100, 25, 25, 100])
    m = np.clip(rng.normal(0, 1, (500, 49, 10, 1)) * spread[:, None], -32768, 32767).astype(np.int16)
    shifts = kws.balance_shifts(m)
    assert shifts == (4, 0, 0, 0, 0, 0, 0, -2, -2, 0)
    a = np.percentile(np.abs(kws.scale_coeffs(m, shifts)[..., 0].reshape(-1, 10)), 99.9, axis=0)
    assert a.max() / np.median(a) < 1.5 and np.median(a) / a.min() < 1.5


def test_mfcc_config_coeff_shift_is_checked():
    from qsim.kws.mfcc import MfccConfig
    assert MfccConfig(coeff_shift=[1] * 10).coeff_shift == (1,) * 10
    for bad in ([1] * 9, [9] + [0] * 9, [True] * 10, "0000000000", [0.5] * 10):
        with pytest.raises(ShapeError, match="coeff_shift"):
            MfccConfig(coeff_shift=bad)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.lists(st.one_of(st.integers(-20, 20), st.floats(allow_nan=True), st.booleans(),
                                    st.text(max_size=3), st.none()), max_size=12),
                 st.text(max_size=12), st.integers(), st.none(), st.dictionaries(st.text(max_size=3),
                                                                                st.integers(), max_size=2)))
def test_kws_json_coeff_shift_is_checked(tmp_path_factory, value):
    """A kws.json's mfcc.coeff_shift is untrusted: it loads only as ten whole numbers in -8..8,
    anything else is a ModelFormatError naming it."""
    from qsim.errors import ModelFormatError
    from qsim.kws.flow import read_kws_json
    p = tmp_path_factory.mktemp("kj") / "kws.json"
    p.write_text(json.dumps({"labels": ["a", "b"], "schemes": ["q7"], "mfcc": {"coeff_shift": value}}))
    ok = isinstance(value, list) and (value == [] or (
        len(value) == 10 and all(type(v) is int and -8 <= v <= 8 for v in value)))
    if ok:
        assert read_kws_json(p)[2].coeff_shift == tuple(value)
    else:
        with pytest.raises(ModelFormatError, match="coeff_shift"):
            read_kws_json(p)


def test_warp_formants_scales_every_frequency():
    from qsim.kws.dataset import warp_formants
    x = np.sin(2 * np.pi * 500 * np.arange(8000) / 16000)
    y = warp_formants(x, 1.25)
    assert len(y) == 6400
    assert np.fft.rfftfreq(len(y), 1 / 16000)[np.abs(np.fft.rfft(y)).argmax()] == pytest.approx(625, abs=3)


def test_cli_defaults_match_train_settings():
    import dataclasses

    from qsim.commands.train import DEFAULTS
    from qsim.kws.flow import TrainSettings
    d = dataclasses.asdict(TrainSettings())
    assert {k: d[k] for k in DEFAULTS} == DEFAULTS


def test_augment_mfcc(rng):
    x = rng.normal(0.0, 1.0, (8, 49, 10, 1)).astype(np.float32)
    assert np.array_equal(augment_mfcc(x, np.random.default_rng(0)), x)
    a = augment_mfcc(x, np.random.default_rng(0), time_mask=6, freq_mask=2)
    assert a.shape == x.shape and a.dtype == np.float32
    assert ((a == 0).all(axis=(2, 3)).sum(1) <= 6).all()
    assert ((a == 0).all(axis=(1, 3)).sum(1) <= 2).all()
    assert (a == 0).any() and np.all((a == x) | (a == 0))
    # wider masks (issue 15's experiments: 14 frames / 4 coefficients): runs up to that wide,
    # and the widest are used
    x = rng.normal(0.0, 1.0, (256, 49, 10, 1)).astype(np.float32)
    a = augment_mfcc(x, np.random.default_rng(0), time_mask=14, freq_mask=4)
    frames, coeffs = (a == 0).all(axis=(2, 3)).sum(1), (a == 0).all(axis=(1, 3)).sum(1)
    assert frames.max() == 14 and coeffs.max() == 4
    s = augment_mfcc(x, np.random.default_rng(1), shift=3)
    for i in range(len(x)):   # every frame is a frame of the clip, in order, shifted by <= 3
        k = next(k for k in range(-3, 4)
                 if np.array_equal(s[i], x[i, np.clip(np.arange(49) - k, 0, 48)]))
        assert abs(k) <= 3


def test_fold_input_norm(rng):
    g = Sequential.from_dict(kws_spec(5, (4, 4), (8,))).build(seed=0)
    x = rng.normal(-3.0, 10.0, (6, 49, 10, 1)).astype(np.float32)
    folded = fold_input_norm(g, -3.0, 10.0)
    want = float_exec.run(g, (x + 3.0) / 10.0, dtype=np.float64)
    np.testing.assert_allclose(float_exec.run(folded, x, dtype=np.float64), want, rtol=1e-4, atol=1e-6)


@needs_espeak
def test_train_kws_writes_model(tiny_model):
    from qsim.kws.flow import KwsModel
    m = KwsModel.load(tiny_model)
    assert m.labels == ("yes", "no", "backward", "_unknown_", "_silence_")
    assert set(m.qgraphs) == {"q7", "q15"} and (tiny_model / "kws.onnx").is_file()
    doc = json.loads((tiny_model / "kws.json").read_text())
    assert doc["input_shift"]["q7"] == 7 - m.qgraphs["q7"].tensors["input"].qformat.frac_bits
    assert 0 <= doc["metrics"]["float"] <= 1 and "q15" in doc["metrics"]["agreement"]
    for s in ("q7", "q15"):          # paired over the test clips, consistent with the accuracies
        d = doc["metrics"]["delta"][s]
        assert d["gained"] - d["lost"] == round(d["n"] * (doc["metrics"][s] - doc["metrics"]["float"]))


@needs_espeak
def test_train_kws_balances_coefficients(tiny_model, tiny_set, tmp_path):
    """--coeff-scale balanced: shifts picked on the training split, recorded in kws.json, and
    the loaded model's front end applies them (its features are the scaled ones); the default
    (none) records no shifts."""
    from qsim.kws.dataset import load_kws
    from qsim.kws.flow import KwsModel, load_features
    assert KwsModel.load(tiny_model).mfcc.coeff_shift == ()
    tiny_model = tmp_path / "bal"
    assert main(["train", "kws", "--data", str(tiny_set), "-o", str(tiny_model), *TINY,
                 "--coeff-scale", "balanced"]) == 0
    m = KwsModel.load(tiny_model)
    M, _, split, _ = load_features(tiny_set)
    shifts = kws.balance_shifts(M[split == "train"])
    assert m.mfcc.coeff_shift == shifts and any(shifts)
    assert json.loads((tiny_model / "kws.json").read_text())["mfcc"]["coeff_shift"] == list(shifts)
    audio = load_kws(tiny_set)[0][:6]
    np.testing.assert_array_equal(m.features(audio), kws.scale_coeffs(kws.features(audio), shifts))


@needs_espeak
def test_train_kws_says_and_records_release_and_path(cli, tiny_model, tiny_set, tmp_path):
    """Issue 11 item 9: `qsim train kws` defaults to 5.9.0 / ref like `qsim quantize`, and says so."""
    from qsim.kws.flow import KwsModel
    assert {(q.quant.version, q.quant.path) for q in KwsModel.load(tiny_model).qgraphs.values()} == \
        {("5.9.0", "ref")}
    rc, out, _ = cli("train", "kws", "--data", tmp_path / "missing", "-o", tmp_path / "x", *TINY)
    assert rc == 2 and out.splitlines()[0] == "CMSIS_5 5.9.0 (default; --release), path ref (default; --path)"
    rc, out, err = cli("train", "kws", "--data", tiny_set, "-o", tmp_path / "m", "--release", "5.7.0",
                       "--path", "dsp", *TINY)
    assert rc == 0, err
    assert out.splitlines()[0] == "CMSIS_5 5.7.0, path dsp"
    m = KwsModel.load(tmp_path / "m")
    assert {(q.quant.version, q.quant.path) for q in m.qgraphs.values()} == {("5.7.0", "dsp")}
    assert json.loads((tmp_path / "m" / "kws.json").read_text())["train"]["path"] == "dsp"


@needs_espeak
def test_onnx_export_reproduces_float_model(tiny_model, tiny_set):
    ort = pytest.importorskip("onnxruntime")
    from qsim.kws.flow import KwsModel, load_features
    model = KwsModel.load(tiny_model)
    M, _, _, _ = load_features(tiny_set)
    x = kws.mfcc_float(M)
    sess = ort.InferenceSession(str(tiny_model / "kws.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    want = float_exec.run(model.float_graph, x, dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@needs_espeak
@needs_gcc
def test_kws_command_on_wavs(cli, tiny_model, tiny_set, tmp_path):
    wavs = sorted((tiny_set / "yes").glob("*.wav"))[:2] + sorted((tiny_set / "_silence_").glob("*.wav"))[:1]
    rc, out, err = cli("kws", *wavs, "--model", tiny_model, "--standin")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["file", "float", "p", "q7", "q7", "p", "[int]", "q15", "q15", "p",
                                "[int]", "C", "q7"]
    assert len(lines) == 2 + 3 + 2 and "stand-in" in lines[-2]
    from qsim.kws.audio import load_wav
    from qsim.kws.classify import classify
    from qsim.kws.flow import KwsModel
    model = KwsModel.load(tiny_model)
    rows = classify(model, np.stack([load_wav(w) for w in wavs]))
    for line, (lab, p, q, _, conf) in zip(lines[2:], rows):
        cells = line.split()
        assert cells[1] == lab and float(cells[2]) == pytest.approx(p, abs=1e-3)
        assert [cells[3], cells[6]] == [q["q7"], q["q15"]]
        for s, c in (("q7", cells[4:6]), ("q15", cells[7:9])):
            assert float(c[0]) == pytest.approx(conf[s][0], abs=1e-3) and c[1] == f"[{conf[s][1]}]"
            assert 0 <= conf[s][1] < (128 if s == "q7" else 32768)
    # The C built against the stand-in agrees with the simulated q7 net label for label.
    assert all(line.split()[3] == line.split()[-1] for line in lines[2:5])
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00not a wave")
    rc, out, err = cli("kws", wavs[0], bad, "--model", tiny_model)
    assert rc == 2 and "bad.wav" in err and "cannot read audio" in err and out == ""


@needs_espeak
@needs_gcc
def test_tiny_demo_and_cache(tmp_path):
    from qsim.commands.train import settings_from
    from qsim.kws.demo import DemoSettings, run_demo
    ns = argparse.Namespace(epochs=1, seed=0, lr=2e-3, batch_size=16, conv=[4, 4], fc=[8], keep="last",
                            coeff_scale="balanced")
    s = DemoSettings(per_class=4, voices=tuple(VOICES), train=settings_from(ns), parity_inputs=4,
                     report_samples=8)
    out, cache = tmp_path / "demo", tmp_path / "cache"
    summary = run_demo(out, s, cache=cache, standin=True)
    for f in ("summary.txt", "summary.json", "parity.txt", "model/kws.json", "model/kws.onnx",
              "c/kws_q7/kws_q7.c", "c/kws_q7/kws_q7_features.h", "report_q7/sqnr.png",
              "report_q15/activations.png"):
        assert (out / f).is_file(), f
    assert summary["library"].startswith("stand-in")
    assert all(p["mismatches"] == 0 and p["layers"] > 0 for p in summary["parity"].values())
    from qsim.kws.flow import MASKS, UNKNOWN_LOGIT_BIAS
    train = json.loads((out / "model" / "kws.json").read_text())["train"]
    assert (train["time_mask"], train["freq_mask"]) == MASKS["synthesized"]
    assert train["unknown_logit_bias"] == UNKNOWN_LOGIT_BIAS["synthesized"]
    shifts = json.loads((out / "model" / "kws.json").read_text())["mfcc"]["coeff_shift"]
    assert len(shifts) == 10 and any(shifts)
    assert f"kws_q7_coeff_shift[10] = {{{', '.join(map(str, shifts))}}};" in \
        (out / "c/kws_q7/kws_q7_features.h").read_text()
    stages = {r["stage"]: r["note"] for r in summary["stages"]}
    assert stages["dataset"] != "cached"
    again = run_demo(out, s, cache=cache, standin=True)
    stages = {r["stage"]: r["note"] for r in again["stages"]}
    assert stages["dataset"] == stages["train"] == stages["features (arm_mfcc_q15)"] == "cached"
    assert again["accuracy"] == summary["accuracy"]
    assert "KWS demo" in (out / "summary.txt").read_text()
    # q7, q15, q7_qat against float, paired over the test clips: consistent with the accuracies
    acc, text = summary["accuracy"], (out / "summary.txt").read_text()
    assert set(acc["delta"]) == {k for k in ("q7", "q15", "q7_qat") if k in acc} and acc["delta"]
    for k, d in acc["delta"].items():
        assert d["n"] == acc["test_samples"]
        assert d["delta"] == pytest.approx(acc[k] - acc["float"], abs=1e-12)
        assert f"{100 * d['delta']:+.2f} points" in text
    assert "McNemar p" in text and "paired over the same test clips" in text


def _full_demo():
    from qsim.kws.demo import DemoSettings, run_demo
    return run_demo(Path("out/demo_test"), DemoSettings(), cache=Path("data/cache"), standin=True)


@pytest.mark.slow
@needs_espeak
def test_full_demo_quantized_close_to_float():
    """The real demo (minutes, seconds once data/cache holds it): q7 within 1 point of float,
    q15 within 0.2 points, every layer of the C equal to the simulator."""
    s = _full_demo()
    a = s["accuracy"]
    assert a["float"] - a["q7"] <= 0.01 and abs(a["float"] - a["q15"]) <= 0.002
    assert all(p["mismatches"] == 0 for p in s["parity"].values())


@pytest.mark.slow
@needs_espeak
def test_full_demo_float_accuracy_target():
    """Issue 5's target: >= 95% over the 5 classes on voices never heard in training."""
    assert _full_demo()["accuracy"]["float"] >= 0.95


def test_masks_by_kind_of_data():
    """SpecAugment masks left None follow the data (synthesized 14 / 4, recorded 6 / 2, each
    chosen on real voices); masks given are kept."""
    from qsim.kws.flow import MASKS, TrainSettings, resolve_for_data
    assert MASKS["synthesized"] == (14, 4) and MASKS["recorded"] == (6, 2)
    t = TrainSettings()
    assert t.time_mask is None and t.freq_mask is None
    for synth, kind in ((True, "synthesized"), (False, "recorded")):
        r = resolve_for_data(t, synth)
        assert (r.time_mask, r.freq_mask) == MASKS[kind]
        assert resolve_for_data(TrainSettings(time_mask=3, freq_mask=0), synth).time_mask == 3
        assert resolve_for_data(TrainSettings(time_mask=3, freq_mask=0), synth).freq_mask == 0


def test_unknown_prior_shift_is_a_logit_offset():
    """shift_unknown_prior: softmax(z + b e_unknown) on the float graph (so every engine built from
    it carries it); 0 is the graph itself; bad values and label sets are named errors."""
    from qsim.errors import DatasetError
    from qsim.kws.features import float_probs
    from qsim.kws.flow import UNKNOWN_LOGIT_BIAS, TrainSettings, resolve_for_data, shift_unknown_prior
    from qsim.importers.spec import Sequential
    from qsim.kws.net import kws_spec
    labels = ["yes", "no", "backward", "_unknown_", "_silence_"]
    g = Sequential.from_dict(kws_spec(5, conv=(4, 4), fc=(8,))).build(seed=0)
    x = np.random.default_rng(1).normal(size=(32, 49, 10, 1)).astype(np.float32)
    p0 = float_probs(g, x).astype(np.float64)
    g2 = shift_unknown_prior(g, labels, 1.25)
    p1 = float_probs(g2, x).astype(np.float64)
    want = p0.copy()
    want[:, 3] *= np.exp(1.25)
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(p1, want, rtol=1e-4, atol=1e-6)
    assert shift_unknown_prior(g, labels, 0.0) is g
    np.testing.assert_array_equal(float_probs(g, x), p0.astype(np.float32))   # g untouched
    # recorded per class for QAT (qsim.qat.finetune), kept by quantize, added up when repeated
    assert g2.meta["logit_offset"] == [0.0, 0.0, 0.0, 1.25, 0.0] and "logit_offset" not in g.meta
    from qsim.calibrate import calibrate
    from qsim.quantize import quantize
    assert quantize(g2, calibrate(g2, x)).meta["logit_offset"] == g2.meta["logit_offset"]
    assert shift_unknown_prior(g2, labels, -0.25).meta["logit_offset"][3] == 1.0
    for bad in (float("nan"), float("inf"), 100.0):
        with pytest.raises(DatasetError, match="unknown_logit_bias"):
            shift_unknown_prior(g, labels, bad)
    with pytest.raises(DatasetError, match="_unknown_"):
        shift_unknown_prior(g, ["a", "b", "c", "d", "e"], 1.0)
    assert resolve_for_data(TrainSettings(), True).unknown_logit_bias == UNKNOWN_LOGIT_BIAS["synthesized"]
    assert resolve_for_data(TrainSettings(), False).unknown_logit_bias == 0.0


def test_calibrate_quantize_keeps_the_candidate_closest_to_float():
    """Per scheme: minmax / mse, plain and (8-bit activations) tuned; the one agreeing with the
    float net on most validation clips is kept, recomputed here candidate by candidate."""
    import warnings as _w
    from qsim.calibrate import calibrate
    from qsim.importers.spec import Sequential
    from qsim.kws import features as kws
    from qsim.kws.flow import TrainSettings, calibrate_quantize
    from qsim.kws.net import kws_spec
    from qsim.quantize import quantize
    from qsim.tune import tune_formats
    rng = np.random.default_rng(3)
    g = Sequential.from_dict(kws_spec(5, conv=(4, 4), fc=(8,))).build(seed=2)
    M = (rng.normal(0, 1, (300, 49, 10, 1)) * rng.uniform(100, 2000, (10, 1))).astype(np.int16)
    s = TrainSettings(calib_samples=120, seed=0)
    M_tr, M_val = M[:200], M[200:]
    y_val = rng.integers(0, 5, 100)
    out, cal = calibrate_quantize(g, M_tr, M_val, y_val, s)
    pick = np.random.default_rng([0, 5]).permutation(200)[:120]
    x_cal = kws.mfcc_float(M_tr[pick])
    pf = kws.float_probs(g, kws.mfcc_float(M_val)).argmax(1)
    for scheme, (q, name, acc) in out.items():
        with _w.catch_warnings():
            _w.simplefilter("ignore")
            cands = {st: quantize(g, cal, scheme=scheme, strategy=st, path=s.path, version=s.version)
                     for st in s.strategies}
            if scheme == "q7":
                cands.update({st + "+tuned": tune_formats(g, cal, x_cal, scheme=scheme, strategy=st,
                                                          path=s.path, version=s.version)[0]
                              for st in s.strategies})
            agree = {k: float(np.mean(kws.quant_outputs(c, M_val).argmax(1) == pf))
                     for k, c in cands.items()}
        assert name in agree and agree[name] == max(agree.values()), (scheme, name, agree)
        assert q.meta["val_agreement"] == agree[name]
        assert acc == float(np.mean(kws.quant_outputs(q, M_val).argmax(1) == y_val))
        assert q.meta["selected_on"] == "agreement with the float net on validation"
    assert not out["q15"][1].endswith("+tuned")


_HOSTILE = st.one_of(st.integers(-2, 70000), st.sampled_from([0, 1, 2 ** 31, 10 ** 30, -10 ** 30]),
                     st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
                     st.text(max_size=8), st.sampled_from(["hann", "hamming", "boxcar", "kaiser"]),
                     st.lists(st.integers(-9, 9), max_size=11))
_MFCC_KEYS = ["sample_rate", "frame_len", "hop", "fft_len", "n_mels", "n_coeffs", "fmin", "fmax",
              "window", "clip_len", "frac_bits", "coeff_shift"]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(_MFCC_KEYS), _HOSTILE, max_size=4))
def test_kws_json_mfcc_loads_and_runs_or_is_refused(tmp_path_factory, edits):
    """Every mfcc value of a kws.json is untrusted: a file either loads and then both front ends
    compute a clip's features, or it is one ModelFormatError (never another exception)."""
    from qsim.errors import ModelFormatError
    from qsim.kws.flow import read_kws_json
    p = tmp_path_factory.mktemp("kj") / "kws.json"
    p.write_text(json.dumps({"labels": ["a", "b"], "schemes": ["q7"], "mfcc": edits}))
    try:
        cfg = read_kws_json(p)[2]
    except ModelFormatError:
        return
    if cfg.clip_len > 4 * 16000:
        return                                   # valid, only slow to compute
    clip = np.random.default_rng(0).integers(-3000, 3000, (1, cfg.clip_len)).astype(np.int16)
    for frontend in ("q15", "float"):
        m = kws.features(clip, cfg, frontend)
        assert m.shape == (1, cfg.n_frames, cfg.n_coeffs, 1) and m.dtype == np.int16
