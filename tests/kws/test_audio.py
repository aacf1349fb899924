"""qsim.kws.audio.load_wav: resampling, mixdown, pad/trim, clean errors."""
import numpy as np
import pytest

from qsim.kws.audio import fix_length, load_wav, to_int16
from qsim.errors import AudioError, QsimError

sf = pytest.importorskip("soundfile")


def test_16k_mono_int16_roundtrip(tmp_path, rng):
    x = rng.integers(-32768, 32768, 16000).astype(np.int16)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="PCM_16")
    y = load_wav(tmp_path / "a.wav")
    assert y.dtype == np.int16 and np.array_equal(x, y)


def test_resample_stereo_mixdown_and_trim(tmp_path):
    t = np.arange(44100 * 2) / 44100
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / "s.wav", np.stack([tone, tone], 1), 44100, subtype="FLOAT")
    y = load_wav(tmp_path / "s.wav")
    assert y.shape == (16000,) and y.dtype == np.int16
    ref = to_int16(0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000))
    # polyphase filter transients only at the very start
    assert np.abs(y[200:].astype(int) - ref[200:]).max() < 200
    assert abs(np.abs(y).max() - 16384) < 300


def test_short_file_zero_padded(tmp_path):
    sf.write(tmp_path / "short.wav", np.full(800, 1000, np.int16), 8000, subtype="PCM_16")
    y = load_wav(tmp_path / "short.wav")
    assert y.shape == (16000,) and np.all(y[1700:] == 0) and abs(int(y[800]) - 1000) < 20
    assert load_wav(tmp_path / "short.wav", clip_seconds=None).shape == (1600,)


def test_errors(tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    for p in (tmp_path / "junk.wav", tmp_path / "missing.wav"):
        with pytest.raises(AudioError, match="help:"):
            load_wav(p)
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.int16), 16000, subtype="PCM_16")
    with pytest.raises(QsimError, match="no samples"):
        load_wav(tmp_path / "empty.wav")


def test_fix_length_and_to_int16():
    assert fix_length(np.ones((2, 5)), 3).shape == (2, 3)
    assert fix_length(np.ones(5), 8).tolist() == [1] * 5 + [0] * 3
    assert to_int16(np.array([-1.5, -1.0, 0.5, 1.0])).tolist() == [-32768, -32768, 16384, 32767]


@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("FLOAT", 2), ("PCM_24", 3)])
def test_block_reading_equals_one_read(tmp_path, monkeypatch, subtype, channels):
    """A file at the target rate is read and mixed down block by block (a long recording never
    sits in memory as float64): the samples are those of mixing down one whole read."""
    import soundfile as sf

    from qsim.kws import audio
    x = np.random.default_rng(3).uniform(-0.9, 0.9, (5000, channels))
    path = tmp_path / "x.wav"
    sf.write(path, x, 16000, subtype=subtype)
    whole = audio.to_int16(sf.read(path, dtype="float64", always_2d=True)[0].mean(axis=1))
    monkeypatch.setattr(audio, "BLOCK", 777)            # 7 blocks, the last one short
    np.testing.assert_array_equal(audio.load_wav(path, 16000, None), whole)
    np.testing.assert_array_equal(audio.load_wav(path, 16000, 0.25), whole[:4000])
