"""qsim.kws.mfcc against the cmsisdsp Python wrapper (CMSIS-DSP 1.16.x compiled for the host)."""
import numpy as np
import pytest

from qsim.errors import ShapeError
from qsim.kws.mfcc import (MfccConfig, cmsis_tables, mfcc_f32, mfcc_f32_frames, mfcc_q15,
                                mfcc_q15_frames)
from qsim.kws.rfft_q15 import bit_reverse_order, real_coefs_q15, rfft_q15_frame, twiddle_q15
from tests.kernels._compare import assert_bit_exact

dsp = pytest.importorskip("cmsisdsp")
dt = pytest.importorskip("cmsisdsp.datatype")
cm = pytest.importorskip("cmsisdsp.mfcc")

CFG = MfccConfig()


def _frames(rng, n, fft_len=1024, frame_len=640):
    """Random, sine, noise, near-silent, silent, full-length and speech-like (AM harmonic) frames."""
    out = np.zeros((n, fft_len), np.int16)
    t = np.arange(frame_len)
    for i in range(n):
        kind = i % 7
        if kind == 0:
            x = rng.integers(-32768, 32768, frame_len)
        elif kind == 1:
            x = rng.uniform(0, 32767) * np.sin(t * rng.uniform(0.01, 3.0))
        elif kind == 2:
            x = rng.normal(0, rng.uniform(1, 5000), frame_len)
        elif kind == 3:
            x = rng.integers(-3, 4, frame_len)
        elif kind == 4:
            x = np.zeros(frame_len)
        elif kind == 5:
            out[i] = rng.integers(-32768, 32768, fft_len)
            continue
        else:
            f0 = rng.uniform(90, 250) / 16000
            x = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 12))
            x *= (1 + np.sin(2 * np.pi * 4 / 16000 * t)) * rng.uniform(100, 9000)
        out[i, :frame_len] = np.clip(x, -32768, 32767).astype(np.int16)
    return out


def test_tables_match_cmsisdsp_helpers():
    for fmt, q15 in ((dt.F32, False), (dt.Q15, True)):
        lens, pos, coefs = cm.melFilterMatrix(fmt, CFG.fmin, CFG.fmax, CFG.n_mels, CFG.sample_rate,
                                              CFG.fft_len)
        _, my_pos, my_lens, my_coefs, my_dct = cmsis_tables(CFG, q15=q15)
        assert np.array_equal(pos, my_pos) and np.array_equal(lens, my_lens)
        assert np.array_equal(coefs, my_coefs)
        assert np.array_equal(cm.dctMatrix(fmt, CFG.n_coeffs, CFG.n_mels), my_dct)


@pytest.mark.parametrize("n", [32, 64, 128, 256, 512, 1024, 2048])
def test_rfft_q15_bit_exact(rng, n):
    inst = dsp.arm_rfft_instance_q15()
    assert dsp.arm_rfft_init_q15(inst, n, 0, 1) == 0
    tw, br = twiddle_q15(n // 2), bit_reverse_order(n // 2)
    a, b = real_coefs_q15()
    for x in _frames(rng, 14, n, n):
        ref = np.asarray(dsp.arm_rfft_q15(inst, x))[:n + 2]
        out = np.zeros(n + 2, np.int64)
        rfft_q15_frame(x.astype(np.int64), tw, br, a, b, out)
        assert_bit_exact(out, ref, f"arm_rfft_q15 n={n}")


def _q15_oracle(cfg, frames):
    win, pos, lens, coefs, dct = cmsis_tables(cfg, q15=True)
    inst = dsp.arm_mfcc_instance_q15()
    assert dsp.arm_mfcc_init_q15(inst, cfg.fft_len, cfg.n_mels, cfg.n_coeffs, dct, pos, lens,
                                 coefs, win) == 0
    tmp = np.zeros(dsp.arm_mfcc_tmp_buffer_size(dt.Q15, cfg.fft_len, 1), np.int32)
    return np.array([dsp.arm_mfcc_q15(inst, x.copy(), tmp)[1] for x in frames], np.int16)


@pytest.mark.parametrize("cfg", [CFG, MfccConfig(fft_len=512, frame_len=480, n_mels=20, n_coeffs=13,
                                                 fmin=64, fmax=7000, window="hann")],
                         ids=["default", "fft512"])
def test_mfcc_q15_bit_exact(rng, cfg):
    frames = _frames(rng, 140, cfg.fft_len, cfg.frame_len)
    assert_bit_exact(mfcc_q15_frames(frames, cfg), _q15_oracle(cfg, frames), "arm_mfcc_q15")


def test_mfcc_f32_matches_cmsisdsp(rng):
    # We compute in float64, the C in float32 with -ffast-math: differences are float32 rounding
    # in the FFT and the log, observed <= 5e-5 on outputs up to ~130 (silent frames give ln(1e-6)).
    win, pos, lens, coefs, dct = cmsis_tables(CFG)
    inst = dsp.arm_mfcc_instance_f32()
    dsp.arm_mfcc_init_f32(inst, CFG.fft_len, CFG.n_mels, CFG.n_coeffs, dct, pos, lens, coefs, win)
    tmp = np.zeros(dsp.arm_mfcc_tmp_buffer_size(dt.F32, CFG.fft_len, 1), np.float32)
    frames = _frames(rng, 70).astype(np.float32) / 32768
    ref = np.array([dsp.arm_mfcc_f32(inst, x.copy(), tmp) for x in frames])
    np.testing.assert_allclose(mfcc_f32_frames(frames), ref, rtol=1e-5, atol=1e-3)


def test_clip_api_shapes_and_agreement(rng):
    audio = np.clip(rng.normal(0, 3000, (3, 16000)), -32768, 32767).astype(np.int16)
    q = mfcc_q15(audio)
    f = mfcc_f32(audio)
    assert q.shape == f.shape == (3, 49, 10) and q.dtype == np.int16 and f.dtype == np.float32
    assert CFG.n_frames == 49
    # q8.7 output: q / 128 approximates the float MFCC of audio / 32768 (fixed-point noise).
    assert np.median(np.abs(q / 128.0 - f)) < 0.1


def test_bad_input():
    with pytest.raises(ShapeError):
        mfcc_q15(np.zeros((1, 16000), np.float32))
    with pytest.raises(ShapeError):
        MfccConfig(fft_len=1000)
