"""bench/kws_real.py's folder reader: the `--source` filter keeps exactly the clips tagged
`<source>__`; bench/kws_noise_silence.py's cutter (numpy-synthesized clips the tests write; no
recording is read)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qsim.errors import QsimError

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def load_bench(name):
    """bench/<name>.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_bench", BENCH_DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def kws_real():
    return load_bench("kws_real")


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


@pytest.fixture(scope="module")
def noise_bench():
    return load_bench("kws_noise_silence")


def test_noise_cuts_full_and_uniform_volume(noise_bench, tmp_path):
    """Each file gives n cuts, each once at full volume (samples taken verbatim from the file)
    and once scaled by a factor in [0, 1)."""
    ramp = (np.arange(40000) % 20000 - 10000).astype(np.int16)
    sf.write(tmp_path / "a.wav", ramp, 16000, subtype="PCM_16")
    sf.write(tmp_path / "b.wav", -ramp, 16000, subtype="PCM_16")
    clips, names, vols = noise_bench.cuts(tmp_path, 5, seed=1)
    assert clips.shape == (20, 16000) and clips.dtype == np.int16
    assert sorted(names.tolist()) == ["a"] * 10 + ["b"] * 10
    src = {"a": ramp, "b": -ramp}
    for x, n, v in zip(clips, names, vols):
        if v == "full":
            off = int(np.nonzero(src[n] == x[0])[0][0])
            assert np.array_equal(x, src[n][off:off + 16000])
        else:
            assert np.abs(x.astype(int)).max() < np.abs(src[n].astype(int)).max()
    assert (vols == "full").sum() == (vols == "uniform").sum() == 10


def test_noise_cuts_refuse_short_or_missing(noise_bench, tmp_path):
    with pytest.raises(QsimError, match="no .wav files"):
        noise_bench.cuts(tmp_path, 1, seed=0)
    sf.write(tmp_path / "short.wav", np.zeros(8000, np.int16), 16000, subtype="PCM_16")
    with pytest.raises(QsimError, match="shorter than one second"):
        noise_bench.cuts(tmp_path, 1, seed=0)
    assert noise_bench.main(["--noise", str(tmp_path), "--model", str(tmp_path / "m")]) == 2
