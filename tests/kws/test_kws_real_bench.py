"""bench/kws_real.py's folder reader: the `--source` filter keeps exactly the clips tagged
`<source>__` (numpy-synthesized clips the test writes; no recording is read)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qsim.errors import QsimError

BENCH = Path(__file__).resolve().parents[2] / "bench" / "kws_real.py"


@pytest.fixture(scope="module")
def kws_real():
    spec = importlib.util.spec_from_file_location("kws_real_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write(folder, name, value):
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / name, np.full(16000, value, np.int16), 16000, subtype="PCM_16")


@pytest.fixture
def collection(tmp_path):
    write(tmp_path / "yes", "sctest02__0a0b0c0d_nohash_0.wav", 11)
    write(tmp_path / "yes", "other__0a0b0c0d_nohash_1.wav", 22)
    write(tmp_path / "cat", "sctest02__0e0f0a0b_nohash_0.wav", 33)
    write(tmp_path / "_silence_", "sctest02__1.wav", 44)
    write(tmp_path / "_silence_", "plain.wav", 55)
    write(tmp_path / "_background_noise_", "sctest02__noise.wav", 66)
    return tmp_path


def test_source_filter_keeps_only_that_source(kws_real, collection):
    audio, words, sources = kws_real.load_folder(collection, "sctest02")
    assert sorted(words.tolist()) == ["_silence_", "cat", "yes"]
    assert set(sources.tolist()) == {"sctest02"}
    assert sorted(audio[:, 0].tolist()) == [11, 33, 44]      # the tagged clips, not 22 / 55 / 66


def test_no_filter_reads_every_clip(kws_real, collection):
    audio, words, sources = kws_real.load_folder(collection)
    assert sorted(audio[:, 0].tolist()) == [11, 22, 33, 44, 55]
    assert sorted(set(sources.tolist())) == ["-", "other", "sctest02"]


def test_unknown_source_names_the_sources(kws_real, collection):
    with pytest.raises(QsimError, match="no clip of source 'nope'.*-, other, sctest02"):
        kws_real.load_folder(collection, "nope")
