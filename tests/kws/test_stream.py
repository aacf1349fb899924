"""`qsim kws long.wav`: windows are exactly the one-clip features, RecognizeCommands' rules, and
detections at the right times on a recording made of known clips at known offsets."""
import numpy as np
import pytest
import soundfile as sf

from qsim.cli import main
from qsim.kws.flow import KwsModel
from qsim.kws.stream import StreamSettings, recognize, stream, windows
from tests.kws.test_speech_commands import SPEAKERS, clip, write_folder

pytestmark = pytest.mark.filterwarnings("ignore::qsim.errors.SaturationWarning",
                                        "ignore::qsim.errors.QuantizationWarning")
SR = 16000


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = write_folder(tmp_path_factory.mktemp("sc") / "sc")
    out = tmp_path_factory.mktemp("m") / "m"
    assert main(["train", "kws", "--data", str(root), "--words", "yes", "no", "-o", str(out),
                 "--epochs", "30", "--conv", "4", "4", "--fc", "8", "--batch-size", "16"]) == 0
    return out


def long_recording(events, seconds):
    """Low noise with clips added at known offsets; returns (audio, [(word onset s, word)])."""
    x = np.round(np.random.default_rng(1).normal(size=int(seconds * SR)) * 30)
    truth = []
    for offset, word, spk in events:
        c = clip(word, spk, 0)
        onset = offset + np.nonzero(c)[0][0] / SR
        x[int(offset * SR):int(offset * SR) + SR] += c
        truth.append((onset, word))
    return np.clip(x, -32768, 32767).astype(np.int16), truth


def test_windows_are_the_one_clip_features(model):
    m = KwsModel.load(model)
    audio, _ = long_recording([(0.3, "yes", SPEAKERS[3])], 1.77)
    M, starts, pad = windows(audio, m, 3)
    assert pad == (len(M) - 1) * 960 + SR - len(audio) and 0 <= pad < 960
    assert starts[-1] + SR >= len(audio)                 # nothing cut off the end
    padded = np.pad(audio, (0, pad))
    for k in (0, 5, len(M) - 1):
        np.testing.assert_array_equal(M[k], m.features(padded[None, starts[k]:starts[k] + SR])[0])
    M1, starts1, pad1 = windows(audio[:SR], m, 2)
    assert len(M1) == 1 and pad1 == 0


def test_recognize_commands_rules():
    labels = ("_silence_", "_unknown_", "yes", "no")
    times = np.arange(0, 6000, 40.0)
    scores = np.tile([0.9, 0.05, 0.03, 0.02], (len(times), 1))

    def word(lo, hi, k):
        sel = (times >= lo) & (times < hi)
        scores[sel] = 0.02
        scores[sel, k] = 0.94
    word(1000, 1400, 2)           # yes
    word(1600, 2000, 3)           # no, 600 ms later: suppressed (< 1500 ms; the _silence_ between
    #                               is suppressed too, so it does not re-arm the detector)
    word(3000, 3400, 1)           # _unknown_: a command, never reported
    word(3600, 4000, 1)           # same label again: not new
    word(5000, 5400, 2)           # yes again, after _unknown_ and long enough: reported
    s = StreamSettings(average_window_ms=200, threshold=0.7, suppression_ms=1500, minimum_count=3)
    found = recognize(times, scores, labels, s)
    # a 200 ms average holds 6 windows; 5 of them must be the word: (5 * 0.94 + 0.03) / 6 > 0.7
    assert [(lab, t) for t, lab, _ in found] == [("yes", 1160.0), ("yes", 5160.0)]
    assert all(sc == pytest.approx((5 * 0.94 + 0.03) / 6) for _, _, sc in found)
    # without suppression the "no" is reported at its fifth window
    found = recognize(times, scores, labels, StreamSettings(average_window_ms=200, suppression_ms=0))
    assert [(lab, t) for t, lab, _ in found] == [("yes", 1160.0), ("no", 1760.0), ("yes", 5160.0)]


def test_detections_on_a_long_recording(model, tmp_path, capsys):
    audio, truth = long_recording([(1.0, "yes", SPEAKERS[3]), (3.5, "no", SPEAKERS[4]),
                                   (6.0, "yes", SPEAKERS[5])], 7.9)
    res = stream(KwsModel.load(model), audio, StreamSettings(threshold=0.5))
    assert res["padded_ms"] > 0
    for engine in ("float", "q7", "q15"):
        found = res["detections"][engine]
        assert [lab for _, lab, _ in found] == [w for _, w in truth], (engine, found)
        for (t, _, score), (onset, _) in zip(found, truth):
            assert abs(t / 1000 - onset) <= 0.75 and 0.5 < score <= 1       # TF's 750 ms tolerance
    path = tmp_path / "long.wav"
    sf.write(path, audio, SR, subtype="PCM_16")
    one = tmp_path / "one.wav"
    sf.write(one, audio[SR:2 * SR], SR, subtype="PCM_16")
    assert main(["kws", str(one), str(path), "--model", str(model), "--threshold", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "7.90 s" in out and "zero-padded" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("  ") and "." in line]
    assert [(r[0], r[2]) for r in rows] == [(e, w) for e in ("float", "q7", "q15") for _, w in truth]
    assert out.splitlines()[2].split()[:2] == [str(one), "yes"]
    assert main(["kws", str(path), "--model", str(model), "--hop", "0"]) == 2


def _recognize_spelled_out(times_ms, scores, labels, s):
    """RecognizeCommands as TF writes it: every step averages all windows in the last
    average_window_ms (a scan of the whole history; the reference for the linear version)."""
    found, prev_label, prev_time = [], "_silence_", None
    for i, t in enumerate(times_ms):
        recent = times_ms[:i + 1] >= t - s.average_window_ms
        if recent.sum() < s.minimum_count:
            continue
        avg = scores[:i + 1][recent].mean(axis=0)
        k = int(avg.argmax())
        since = np.inf if prev_label == "_silence_" or prev_time is None else t - prev_time
        if avg[k] > s.threshold and labels[k] != prev_label and since > s.suppression_ms:
            prev_label, prev_time = labels[k], t
            if not labels[k].startswith("_"):
                found.append((float(t), labels[k], float(avg[k])))
    return found


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.integers(0, 80), min_size=1, max_size=120), seed=st.integers(0, 2**31),
       average=st.sampled_from([0.0, 40.0, 200.0, 500.0]), count=st.integers(1, 5),
       threshold=st.sampled_from([0.0, 0.3, 0.7]), suppression=st.sampled_from([0.0, 300.0, 1500.0]))
def test_recognize_is_the_spelled_out_rule(steps, seed, average, count, threshold, suppression):
    """The one-pass RecognizeCommands (oldest window in the average tracked as time moves on) gives
    exactly the detections of the rule evaluated from scratch at every window."""
    times = np.cumsum(np.asarray(steps, np.float64) * 10.0)       # equal times allowed
    scores = np.random.default_rng(seed).dirichlet(np.ones(4) * 0.3, len(times))
    labels = ("yes", "no", "_unknown_", "_silence_")
    s = StreamSettings(average_window_ms=average, minimum_count=count, threshold=threshold,
                       suppression_ms=suppression)
    assert recognize(times, scores, labels, s) == _recognize_spelled_out(times, scores, labels, s)
