"""Front-end error and real-clip labels for BENCHMARKS.md (issue 15).

    python bench/kws_frontend.py [--real DIR] [--model MODEL_DIR ...]

Prints, per coefficient c0..c9, the mean |front end - float MFCC| in q8.7 LSB (all-zero frames
left out; qsim.kws.features.frontend_error) of q15 and q15norm on synthetic speech (espeak-ng
words with a -60 dB noise floor, at -1, -20, -40 and -60 dBFS peak) and on every WAV in DIR
(16 kHz recordings kept outside the repository). With --model, the labels each model gives the
WAVs in DIR (float, simulated q7 and q15).
"""
import argparse
import io
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from qsim.kws.audio import fix_length, load_wav, resample
from qsim.kws.features import frontend_error
from qsim.kws.mfcc import MfccConfig


def espeak_clips(seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for v in ("en-us", "en-gb+Alex", "en+m3", "en-029"):
        for w in ("yes", "no", "stop", "seven"):
            r = subprocess.run(["espeak-ng", "-v", v, "--stdout", w], capture_output=True, check=True)
            d, rate = sf.read(io.BytesIO(r.stdout))
            x = fix_length(resample(d, rate, 16000), 16000)
            out.append(x / np.abs(x).max() + rng.normal(size=16000) * 1e-3)
    return np.array(out)


def row(name, audio):
    for fe in ("q15", "q15norm"):
        e = frontend_error(audio, MfccConfig(), fe)
        print(f"| {name} | {fe} | " + " | ".join(f"{v:.1f}" for v in e["mean"])
              + f" | {100 * e['same']:.0f}% | {e['frames']} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", default=None, metavar="DIR")
    p.add_argument("--model", nargs="*", default=[], metavar="MODEL_DIR")
    args = p.parse_args()
    print("| audio | front end | " + " | ".join(f"c{i}" for i in range(10)) + " | equal | frames |")
    print("|---" * 14 + "|")
    clips = espeak_clips()
    for db in (-1, -20, -40, -60):
        row(f"espeak-ng, peak {db} dBFS", np.round(clips * 10 ** (db / 20) * 32767).astype(np.int16))
    files = sorted(Path(args.real).glob("*.wav")) if args.real else []
    for f in files:
        row(f"real {f.name}", load_wav(f)[None])
    if files and args.model:
        from qsim.kws.classify import classify
        from qsim.kws.flow import KwsModel
        audio = np.stack([load_wav(f) for f in files])
        for m in args.model:
            model = KwsModel.load(m)
            for f, (lab, pr, q, _, conf) in zip(files, classify(model, audio)):
                print(f"{m}  {f.name}: float {lab} {pr:.2f}, q7 {q['q7']} {conf['q7'][0]:.2f}, "
                      f"q15 {q['q15']} {conf['q15'][0]:.2f}")


if __name__ == "__main__":
    main()
