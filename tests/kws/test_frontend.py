"""Front ends: q15norm is arm_mfcc_q15 (cmsisdsp) on shifted frames plus a c0 correction, its C
helper equals the Python, and it stays close to the float MFCC on quiet audio where q15 does not."""
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qsim.kws.features import features, features_header, frontend_error
from qsim.kws.mfcc import (MfccConfig, c0_gain_correction, frame_gain, frames, mfcc_q15_norm_frames)
from qsim.fixedpoint import QFormat

CFG = MfccConfig()


def speechlike(rng, n, peak_db):
    """AM harmonic 'vowels' with a -60 dB noise floor relative to the peak (no digital zeros)."""
    t = np.arange(16000)
    out = []
    for _ in range(n):
        f0 = rng.uniform(90, 250) / 16000
        x = sum(np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 6)) / h for h in range(1, 15))
        x *= np.exp(-((t - rng.uniform(4000, 12000)) / rng.uniform(1500, 4000)) ** 2)
        x = x / np.abs(x).max() + rng.normal(size=len(t)) * 1e-3
        out.append(np.round(x / np.abs(x).max() * 10 ** (peak_db / 20) * 32767))
    return np.array(out).astype(np.int16)


@given(st.lists(st.integers(-32768, 32767), min_size=1, max_size=64))
@settings(max_examples=200, deadline=None)
def test_frame_gain_reaches_target_without_overflow(values):
    x = np.array(values, np.int16)
    k = int(frame_gain(x))
    peak = int(np.abs(x.astype(np.int64)).max())
    if peak == 0 or peak >= 1 << 14:
        assert k == 0
    else:
        assert k >= 1 and (1 << 14) <= peak << k <= 32767 and (peak << (k - 1)) < (1 << 14)


def test_q15norm_is_arm_mfcc_q15_on_shifted_frames():
    dsp = pytest.importorskip("cmsisdsp")
    from tests.kws.test_mfcc import _q15_oracle
    rng = np.random.default_rng(3)
    fr = frames(np.concatenate([speechlike(rng, 2, db) for db in (-1, -30, -60, -85)]), CFG)
    fr = fr.reshape(-1, CFG.fft_len)[::3]
    fr[0] = 0                                           # an all-zero frame: no shift
    assert dsp is not None
    k = frame_gain(fr)
    assert k[0] == 0 and k.max() >= 10
    ref = _q15_oracle(CFG, (fr.astype(np.int32) << k[:, None]).astype(np.int16)).astype(np.int64)
    ref[:, 0] -= np.floor(k * np.log(2) * np.sqrt(2 * CFG.n_mels) * 128 + 0.5).astype(np.int64)
    np.testing.assert_array_equal(mfcc_q15_norm_frames(fr, CFG), np.clip(ref, -32768, 32767))


def test_q15norm_close_to_float_on_quiet_audio():
    rng = np.random.default_rng(0)
    for db in (-1, -40, -60):
        audio = speechlike(rng, 6, db)
        plain, norm = frontend_error(audio, CFG, "q15"), frontend_error(audio, CFG, "q15norm")
        assert norm["frames"] + norm["zero_frames"] == 6 * CFG.n_frames and norm["frames"] > 100
        # q8.7 LSB (1/128); what is left is arm_rfft_q15's 1/N scaling of weak bins, at any level
        assert norm["mean"][0] < 100 and norm["mean"][1:].mean() < 30, (db, norm)
        if db <= -40:
            assert plain["mean"][0] > 2.5 * norm["mean"][0], (db, plain, norm)
            assert plain["mean"][1:].mean() > 2.5 * norm["mean"][1:].mean(), (db, plain, norm)
    # the level stays in c0: a 2**k louder clip has a c0 larger by about c0_gain_correction(k)
    quiet = speechlike(np.random.default_rng(5), 1, -50)
    loud = (quiet.astype(np.int32) * 64).astype(np.int16)
    d = features(loud, CFG, "q15norm")[0, :, 0, 0].astype(int) - features(quiet, CFG, "q15norm")[0, :, 0, 0]
    assert abs(np.median(d) - c0_gain_correction(6)) < 40


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_gain_c_matches_python(tmp_path):
    (tmp_path / "f.h").write_text(features_header(QFormat(8, 4), "net", "q15norm"))
    rng = np.random.default_rng(1)
    fr = np.concatenate([frames(speechlike(rng, 1, db), CFG)[0, ::7] for db in (-1, -20, -50, -90)])
    fr[1] = 0
    fr[2, 5] = -32768
    fr[3, :] = 0
    fr[3, 9] = 1
    m = mfcc_q15_norm_frames(fr, CFG)
    raw = (tmp_path / "in.txt")
    raw.write_text("\n".join(" ".join(map(str, r)) for r in fr) + "\n")
    (tmp_path / "m.c").write_text(f"""#include <stdio.h>
#include "f.h"
int main(void) {{ static int16_t f[{CFG.fft_len}]; int r, i, v; int16_t c0;
  for (r = 0; r < {len(fr)}; ++r) {{
    for (i = 0; i < {CFG.fft_len}; ++i) {{ if (scanf("%d", &v) != 1) return 1; f[i] = (int16_t)v; }}
    int k = net_frame_gain(f, {CFG.fft_len});
    printf("%d", k); for (i = 0; i < {CFG.fft_len}; ++i) printf(" %d", f[i]);
    c0 = 0; net_c0_correct(&c0, k); printf(" %d\\n", c0);
  }}
  return 0; }}""")
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-o", tmp_path / "m", tmp_path / "m.c"],
                   check=True)
    out = subprocess.run([tmp_path / "m"], input=raw.read_text(), capture_output=True, text=True,
                         check=True).stdout.split("\n")
    k = frame_gain(fr)
    for i, line in enumerate(out[:len(fr)]):
        vals = np.array(line.split(), np.int64)
        assert vals[0] == k[i]
        np.testing.assert_array_equal(vals[1:-1], fr[i].astype(np.int64) << k[i])
        assert vals[-1] == -c0_gain_correction(k[i])
    assert len(m) == len(fr)
