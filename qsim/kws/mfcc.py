"""MFCC front end defined exactly as CMSIS-DSP's arm_mfcc_f32 / arm_mfcc_q15, batched over clips.

A clip of `sample_rate` samples is cut into frames of `frame_len` samples every `hop` samples
(16000 -> 49 frames with the defaults); each frame is zero-padded to `fft_len` (the C function takes
fft_len samples; the window is `frame_len` long followed by zeros). Per frame:

    arm_mfcc_f32:  mfcc = DCT @ ln(MEL @ |rfft(window * x)| + 1e-6)
    arm_mfcc_q15:  the same pipeline in fixed point, output q8.7 (value * 128), see mfcc_q15.py

The tables are built the way CMSIS-DSP's Python helpers (cmsisdsp.mfcc.melFilterMatrix,
dctMatrix) build them: mel = 1127 ln(1 + f/700); triangles computed on the mel scale over
fft_len/2 + 1 linearly spaced bins, bin 0 forced to 0; DCT-II rows sqrt(2/M) cos(i pi (j+0.5)/M)
with no special scaling of row 0. q15 tables use round-half-even like cmsisdsp.fixedpoint.toQ15,
so that `cmsis_tables()` gives byte-identical arrays to pass to arm_mfcc_init_q15.

Float input convention: int16 audio is divided by 32768, so mfcc_f32(x) ~= mfcc_q15(x) / 128.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.signal

from ..errors import ShapeError
from . import mfcc_q15 as _q15
from . import rfft_q15 as _rfft


COEFF_SHIFT_MAX = 8                     # |coeff_shift| per coefficient


WINDOWS = ("hamming", "hann", "blackman", "boxcar")    # scipy.signal.get_window names, no parameter


@dataclass(frozen=True)
class MfccConfig:
    """Front-end parameters. Defaults: 40 ms Hamming windows every 20 ms, 10 coefficients.

    ML-KWS-style settings are expressible: 16 kHz, frame_len=640 (40 ms), hop=320 (20 ms, 49
    frames) or 640 (40 ms, 25 frames), n_mels=40, n_coeffs=10, window="hann", frac_bits=1.
    """

    sample_rate: int = 16000
    frame_len: int = 640
    hop: int = 320
    fft_len: int = 1024
    n_mels: int = 40
    n_coeffs: int = 10
    fmin: float = 20.0
    fmax: float = 4000.0
    window: str = "hamming"
    clip_len: int = 16000
    # float front end only: the float MFCC is rounded to this many fractional bits (7: q8.7; a net
    # whose input is Q.1 and was trained on MFCCs rounded to 1 bit uses 1), carried as q8.7 ints
    frac_bits: int = 7
    # after the front end, a right shift per coefficient of the q8.7 values (negative: left),
    # rounded half up, saturated to int16 (qsim.kws.features.scale_coeffs); () = none. Chosen
    # from the training features (features.balance_shifts) so that one input format gives every
    # coefficient a similar share of its bits; the generated C does the same step.
    coeff_shift: tuple = ()

    def __post_init__(self):
        if self.window not in WINDOWS:
            raise ShapeError(f"MfccConfig: window={str(self.window)[:40]!r} is not one of {WINDOWS}")
        for name in ("fmin", "fmax"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not abs(v) < 1e9:
                raise ShapeError(f"MfccConfig: {name}={str(v)[:40]} must be a frequency in Hz")
            object.__setattr__(self, name, float(v))
        for name, hi in (("sample_rate", 192000), ("clip_len", 60 * 192000), ("frame_len", 1 << 16),
                         ("hop", 1 << 20), ("fft_len", 1 << 16), ("n_mels", 512), ("n_coeffs", 512)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 < v <= hi:
                raise ShapeError(f"MfccConfig: {name}={str(v)[:40]} must be a whole number in 1..{hi}")
        cs = self.coeff_shift
        if not isinstance(cs, (tuple, list)) or any(
                isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in cs):
            raise ShapeError(f"MfccConfig: coeff_shift={str(cs)[:60]} must be a list of whole numbers")
        object.__setattr__(self, "coeff_shift", tuple(int(v) for v in cs))
        if self.coeff_shift and (len(self.coeff_shift) != self.n_coeffs
                                 or not all(-COEFF_SHIFT_MAX <= v <= COEFF_SHIFT_MAX for v in self.coeff_shift)):
            raise ShapeError(f"MfccConfig: coeff_shift={list(self.coeff_shift)[:20]} needs one shift per "
                             f"coefficient ({self.n_coeffs}), each in -{COEFF_SHIFT_MAX}..{COEFF_SHIFT_MAX}, "
                             "or none")
        if not 0 <= self.frac_bits <= 7:
            raise ShapeError(f"MfccConfig: frac_bits={self.frac_bits} must be in 0..7 (the features "
                             "are carried as q8.7)")
        if not (self.hop > 0 and 0 < self.frame_len <= self.clip_len):
            raise ShapeError(f"MfccConfig: need hop > 0 and 0 < frame_len <= clip_len, got hop="
                             f"{self.hop}, frame_len={self.frame_len}, clip_len={self.clip_len}")
        if self.fft_len not in _rfft.RFFT_LENGTHS:
            raise ShapeError(f"MfccConfig: fft_len={self.fft_len} is not a CMSIS-DSP RFFT length. "
                             f"help: use one of {_rfft.RFFT_LENGTHS}")
        if not 0 < self.frame_len <= self.fft_len:
            raise ShapeError(f"MfccConfig: frame_len={self.frame_len} must be in 1..fft_len={self.fft_len}")
        if not 0 <= self.fmin < self.fmax < self.sample_rate / 2:
            raise ShapeError(f"MfccConfig: need 0 <= fmin < fmax < sample_rate/2, got fmin={self.fmin}, "
                             f"fmax={self.fmax}. help: the CMSIS packing needs filters that end below Nyquist")
        if self.n_coeffs > self.n_mels:
            raise ShapeError(f"MfccConfig: n_coeffs={self.n_coeffs} > n_mels={self.n_mels}")

    @property
    def n_frames(self) -> int:
        return 1 + (self.clip_len - self.frame_len) // self.hop


def _mel(f):
    return 1127.0 * np.log(1.0 + f / 700.0)


def q15_table(x):
    """float -> q15 as cmsisdsp.fixedpoint.toQ15: np.round (half to even), saturated."""
    return np.clip(np.round(np.asarray(x, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


@lru_cache(maxsize=8)
def tables(cfg: MfccConfig):
    """(window (fft_len,), mel filters (n_mels, fft_len//2+1), dct (n_coeffs, n_mels)), float64."""
    win = np.zeros(cfg.fft_len)
    win[:cfg.frame_len] = scipy.signal.get_window(cfg.window, cfg.frame_len, fftbins=True)
    nbins = cfg.fft_len // 2 + 1
    edges = np.linspace(_mel(cfg.fmin), _mel(cfg.fmax), cfg.n_mels + 2)
    bins = _mel(np.linspace(0, cfg.sample_rate / 2.0, nbins))[1:]
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))
    fbank = np.hstack([np.zeros((cfg.n_mels, 1)), tri])
    s = (np.arange(1, cfg.n_mels + 1) - 0.5) / cfg.n_mels
    dct = np.cos(np.arange(cfg.n_coeffs)[:, None] * np.pi * s) * np.sqrt(2.0 / cfg.n_mels)
    for a in (win, fbank, dct):
        a.setflags(write=False)
    return win, fbank, dct


def cmsis_tables(cfg: MfccConfig, q15: bool = False):
    """The arrays arm_mfcc_init_f32/q15 take: (window, filter_pos, filter_len, packed coefs, dct).

    Each filter is packed from its first nonzero bin up to the bin before the next zero, as
    cmsisdsp.mfcc.melFilterMatrix does. float32 arrays, or int16 q15 ones if q15.
    """
    win, fbank, dct = tables(cfg)
    pos, lens, coefs = [], [], []
    for row in fbank:
        start = int(np.argmax(row != 0))
        zeros = np.nonzero(row[start:] == 0)[0]
        length = int(zeros[0]) if len(zeros) else len(row) - start
        pos.append(start)
        lens.append(length)
        coefs.append(row[start:start + length])
    coefs = np.concatenate(coefs)
    conv = q15_table if q15 else (lambda a: np.asarray(a, np.float32))
    return conv(win), np.array(pos, np.uint32), np.array(lens, np.uint32), conv(coefs), conv(dct.ravel())


def frames(audio, cfg: MfccConfig):
    """(N, clip_len) audio -> (N, n_frames, fft_len) frames, each zero-padded after frame_len."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or audio.shape[1] < cfg.frame_len:
        raise ShapeError(f"mfcc: audio must be (N, samples) with samples >= {cfg.frame_len}, got "
                         f"{audio.shape}. help: pad clips with qsim.kws.audio.fix_length")
    n_frames = 1 + (audio.shape[1] - cfg.frame_len) // cfg.hop
    idx = np.arange(n_frames)[:, None] * cfg.hop + np.arange(cfg.frame_len)
    out = np.zeros(audio.shape[:1] + (n_frames, cfg.fft_len), audio.dtype)
    out[..., :cfg.frame_len] = audio[:, idx]
    return out


def mfcc_f32_frames(x, cfg: MfccConfig = MfccConfig()):
    """arm_mfcc_f32 on frames (..., fft_len) float -> (..., n_coeffs) float32 (computed in float64)."""
    win, fbank, dct = tables(cfg)
    spec = np.abs(np.fft.rfft(np.asarray(x, np.float64) * win, axis=-1))
    return (np.log(spec @ fbank.T + 1e-6) @ dct.T).astype(np.float32)


def mfcc_f32(audio, cfg: MfccConfig = MfccConfig()):
    """Float MFCC of clips (N, samples) -> (N, n_frames, n_coeffs) float32. int16 audio is /32768."""
    audio = np.asarray(audio)
    scale = 1.0 / 32768.0 if audio.dtype == np.int16 else 1.0
    return mfcc_f32_frames(frames(audio, cfg).astype(np.float64) * scale, cfg)


def mfcc_q15_frames(x, cfg: MfccConfig = MfccConfig()):
    """arm_mfcc_q15, bit-exact, on int16 frames (..., fft_len) -> (..., n_coeffs) int16 in q8.7."""
    x = np.asarray(x)
    if x.dtype != np.int16 or x.shape[-1] != cfg.fft_len:
        raise ShapeError(f"mfcc_q15_frames: need int16 frames of {cfg.fft_len} samples, got "
                         f"{x.dtype} {x.shape}. help: use mfcc_q15() for whole clips")
    k = _q15_consts(cfg)
    flat = np.ascontiguousarray(x.reshape(-1, cfg.fft_len))
    out = np.empty((flat.shape[0], cfg.n_coeffs), np.int16)
    _q15.mfcc_q15_batch(flat, *k, out)
    return out.reshape(x.shape[:-1] + (cfg.n_coeffs,))


GAIN_TARGET = 1 << 14          # frame_gain: shift each frame until its peak reaches 2**14


def frame_gain(x):
    """Per-frame left shift k (0..14) so that the frame's peak |x| << k is in [2**14, 2**15):
    0 for a frame already that loud, or all zero. int16 frames (..., fft_len) -> int (...)."""
    peak = np.abs(np.asarray(x, np.int32)).max(axis=-1)
    k = np.zeros(peak.shape, np.int64)
    for _ in range(14):
        k += (peak > 0) & ((peak << k) < GAIN_TARGET)
    return k


def c0_gain_correction(k, cfg: MfccConfig = MfccConfig()):
    """q8.7 amount to subtract from c0 for a frame shifted left by k: every mel energy (magnitude
    sums) grows by 2**k, every log by k ln 2, and only the DCT's row 0 (constant sqrt(2/M)) sees
    a constant: c0 grows by k ln2 sqrt(2 M). Rounded half up to an integer per k."""
    per_k = np.log(2.0) * np.sqrt(2.0 * cfg.n_mels) * 128.0
    return np.floor(np.asarray(k) * per_k + 0.5).astype(np.int64)


def mfcc_q15_norm_frames(x, cfg: MfccConfig = MfccConfig()):
    """Gain-normalized arm_mfcc_q15: frame << frame_gain(frame) through arm_mfcc_q15 (bit-exact),
    then c0 -= c0_gain_correction(k), saturated to int16. The shift keeps arm_mfcc_q15's
    rescaling of the mel energies by the frame peak (step 4 of mfcc_q15.py) from dropping the low
    bits of quiet frames; the c0 correction gives back the level, so the result stays close to the
    float MFCC of the unscaled frame."""
    x = np.asarray(x)
    k = frame_gain(x)
    m = mfcc_q15_frames((x.astype(np.int32) << k[..., None]).astype(np.int16), cfg).astype(np.int64)
    m[..., 0] -= c0_gain_correction(k, cfg)
    return np.clip(m, -32768, 32767).astype(np.int16)


def mfcc_q15(audio, cfg: MfccConfig = MfccConfig(), normalize=False):
    """Fixed-point MFCC of int16 clips (N, samples) -> (N, n_frames, n_coeffs) int16, q8.7."""
    audio = np.asarray(audio)
    if audio.dtype != np.int16:
        raise ShapeError(f"mfcc_q15: audio must be int16, got {audio.dtype}. help: qsim.kws.audio.load_wav")
    return (mfcc_q15_norm_frames if normalize else mfcc_q15_frames)(frames(audio, cfg), cfg)


@lru_cache(maxsize=8)
def _q15_consts(cfg: MfccConfig):
    win, fbank, dct = tables(cfg)
    a, b = _rfft.real_coefs_q15()
    half = cfg.fft_len // 2
    return (q15_table(win).astype(np.int64), _rfft.twiddle_q15(half), _rfft.bit_reverse_order(half),
            a, b, _q15.SQRT_LUT_Q31, q15_table(fbank).astype(np.int64), q15_table(dct).astype(np.int64))
