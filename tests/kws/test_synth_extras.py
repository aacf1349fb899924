"""Synthesized _unknown_ / _silence_ clips added to a real training split (qsim.kws.synth_extras):
only the training split grows, by ceil(P% of its keyword clips); the words are never keywords;
bad percentages are named errors; the flags work on the command line."""
import math
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsim.cli import main
from qsim.errors import DatasetError
from qsim.kws import dataset as d
from qsim.kws import speech_commands as sc
from qsim.kws import synth_extras as se
from qsim.kws.flow import load_dataset

from .test_speech_commands import TINY, write_folder

pytestmark = pytest.mark.filterwarnings("ignore::qsim.errors.SaturationWarning",
                                        "ignore::qsim.errors.QuantizationWarning")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("sc") / "speech_commands")


def test_vocabulary_leaves_out_keywords_and_their_neighbours():
    words = se.vocabulary(KEYWORDS)
    assert words and not set(words) & set(KEYWORDS) and not set(words) & set(d.CONFUSERS)
    assert set(words) <= set(d.unknown_words(True))
    assert "cat" in words and "cat" not in se.vocabulary(("cat", "dog"))
    assert se.vocabulary(("YES",)) == se.vocabulary(("yes",))


@needs_espeak
def test_added_to_the_training_split_only(folder):
    base = load_dataset(folder, ("yes", "no"))
    audio, y, split, labels = load_dataset(folder, ("yes", "no"), synth_unknown_percentage=30,
                                           synth_silence_percentage=20)
    n = len(base[0])
    assert np.array_equal(audio[:n], base[0]) and np.array_equal(y[:n], base[1])
    assert list(split[:n]) == list(base[2]) and set(split[n:]) == {"train"}
    n_kw = int(np.sum((base[2] == "train") & np.isin(base[1], [labels.index("yes"), labels.index("no")])))
    extra = y[n:]
    assert np.sum(extra == labels.index("_unknown_")) == math.ceil(n_kw * 0.3)
    assert np.sum(extra == labels.index("_silence_")) == math.ceil(n_kw * 0.2)
    speech = audio[n:][extra == labels.index("_unknown_")].astype(np.int64)
    assert np.all(np.abs(speech).max(1) > 3000)          # spoken words, -20 dBFS peak or louder
    quiet = audio[n:][extra == labels.index("_silence_")].astype(np.float64)
    assert np.all(np.sqrt(np.mean(quiet ** 2, 1)) < 32768 * 10 ** (-9 / 20))
    again = load_dataset(folder, ("yes", "no"), synth_unknown_percentage=30, synth_silence_percentage=20)
    assert np.array_equal(again[0], audio)             # deterministic
    only_val = load_dataset(folder, ("yes", "no"), splits=("val",), synth_unknown_percentage=30)
    assert set(only_val[2]) == {"val"}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                 st.booleans(), st.text(max_size=5)))
def test_bad_percentage_is_a_named_error(value):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= sc.MAX_PERCENTAGE
    for key in ("synth_unknown_percentage", "synth_silence_percentage"):
        if ok:
            se.add_to_training(np.zeros((2, 16000), np.int16), np.array([2, 3]), np.array(["val", "val"]),
                               ["_silence_", "_unknown_", "yes", "no"], **{key: value})
        else:
            with pytest.raises(DatasetError, match="percentage"):
                se.add_to_training(np.zeros((2, 16000), np.int16), np.array([2, 3]),
                                   np.array(["val", "val"]), ["_silence_", "_unknown_", "yes", "no"],
                                   **{key: value})


@needs_espeak
def test_flags_on_the_command_line(folder, tmp_path, capsys):
    model = tmp_path / "m"
    assert main(["train", "kws", "--data", str(folder), "--words", "yes", "no", "-o", str(model),
                 "--synth-unknown-percentage", "20", "--synth-silence-percentage", "10", *TINY]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert main(["train", "kws", "--data", str(folder), "--words", "yes", "no", "-o", str(model),
                 "--force", "--synth-unknown-percentage", "-5", *TINY]) == 2
    assert "percentage" in capsys.readouterr().err
    # the synthesized set has its own _unknown_ / _silence_: refused with a help line
    assert main(["demo", "--synth-unknown-percentage", "5", "-o", str(tmp_path / "d")]) == 2
    assert "--data" in capsys.readouterr().err
