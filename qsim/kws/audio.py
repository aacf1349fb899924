"""Read audio files as the KWS front end expects them: 16 kHz mono int16, exactly one clip long."""
import math

import numpy as np
import scipy.signal

from ..errors import AudioError

CLIP_SECONDS = 1.0
BLOCK = 1 << 20         # frames read at a time from a file at the target rate (a long recording)


def to_int16(x):
    """float audio in [-1, 1) -> int16 (x * 32768 rounded, saturated); int16 passes through."""
    x = np.asarray(x)
    if x.dtype == np.int16:
        return x
    return np.clip(np.round(np.asarray(x, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def resample(x, rate_in, rate_out):
    """Polyphase resampling of float audio along the last axis (scipy.signal.resample_poly)."""
    if rate_in == rate_out:
        return np.asarray(x, np.float64)
    g = math.gcd(int(rate_in), int(rate_out))
    return scipy.signal.resample_poly(np.asarray(x, np.float64), rate_out // g, rate_in // g, axis=-1)


def fix_length(x, length):
    """Zero-pad at the end or trim the last axis to `length` samples."""
    x = np.asarray(x)
    if x.shape[-1] >= length:
        return x[..., :length]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, length - x.shape[-1])]
    return np.pad(x, pad)


def load_wav(path, sample_rate=16000, clip_seconds=CLIP_SECONDS):
    """Read an audio file as mono int16 at `sample_rate`, padded or trimmed to one clip.

    Parameters
    ----------
    path : str or Path, any format libsndfile reads (WAV, FLAC, OGG...).
    sample_rate : target rate; other rates are resampled with scipy.signal.resample_poly.
    clip_seconds : clip length (1 s -> 16000 samples at 16 kHz); None keeps the full length.

    Returns
    -------
    (samples,) int16. Channels are averaged.

    Raises
    ------
    AudioError if the file is missing, unreadable or holds no samples.
    """
    import soundfile as sf

    from ..validate import check_memory

    help_fmt = "give a WAV/FLAC/OGG file (convert others with `ffmpeg -i in.mp3 -ar 16000 -ac 1 out.wav`)"
    try:
        info = sf.info(str(path))
        rate, frames, channels = int(info.samplerate), int(info.frames), int(info.channels)
        if rate < 1 or channels < 1:
            raise AudioError(f"audio file {path}: header says {rate} Hz, {channels} channels. "
                             f"help: {help_fmt}")
        if clip_seconds is not None:
            # Read one clip plus a second of context: resample_poly's filter reaches a few dozen
            # input samples, so the kept samples are the same as from the whole file, and a
            # file (or a header) claiming hours costs nothing.
            frames = min(frames, int(math.ceil((clip_seconds + 1.0) * rate)))
        same = rate == sample_rate      # no resampling: read and convert block by block
        check_memory(2 * frames + 8 * channels * min(frames, BLOCK) * 3 if same else
                     8 * channels * frames * 3 + 8 * 3 * frames * max(1, sample_rate // rate),
                     f"reading audio file {path} ({frames} frames x {channels} channels)",
                     "cut the recording into short clips")
        if same:
            blocks = sf.blocks(str(path), blocksize=BLOCK, frames=frames, dtype="float64",
                               always_2d=True)
        else:
            blocks = [sf.read(str(path), frames=frames, dtype="float64", always_2d=True)[0]]
        parts, nonfinite = [], 0
        for data in blocks:             # each sample: the mean of its channels, as a whole read
            bad = int(np.sum(~np.isfinite(data)))
            nonfinite += bad
            mono = data.mean(axis=1)
            parts.append(to_int16(mono) if same and not bad else mono)
    except (RuntimeError, OSError, sf.LibsndfileError, ValueError) as e:
        raise AudioError(f"cannot read audio file {path}: {e}. help: {help_fmt}") from None
    if sum(len(p) for p in parts) == 0:
        raise AudioError(f"audio file {path} holds no samples. help: re-record or drop it from "
                         "the dataset")
    if nonfinite:
        raise AudioError(f"audio file {path} holds {nonfinite} NaN/Inf "
                         "samples (a damaged float WAV). help: re-record or re-export it")
    mono = np.concatenate(parts) if same else resample(parts[0], rate, sample_rate)
    if clip_seconds is not None:
        mono = fix_length(mono, int(round(clip_seconds * sample_rate)))
    return to_int16(mono)
