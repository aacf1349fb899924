"""Time and peak memory of `qsim kws long.wav` (sliding windows over a long recording).

    python bench/kws_stream.py --model out/demo/model --minutes 10 60

Writes a recording of low noise for each length (in a temporary folder), runs `qsim kws` on it in
a child process per length and prints the wall time, the windows scanned and the child's peak
resident memory (getrusage of the children: each length runs in a fresh process, so the peak is
that run's).
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="KWS model folder (qsim demo / train kws)")
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0])
    args = ap.parse_args(argv)
    print(f"{'minutes':>8} {'windows':>8} {'seconds':>8} {'peak RSS MiB':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            wav = Path(tmp) / f"long{minutes:g}.wav"
            n = int(minutes * 60 * 16000)
            sf.write(wav, np.random.default_rng(0).normal(0, 300, n).astype(np.int16), 16000,
                     subtype="PCM_16")
            code = ("import resource, sys; from qsim.cli import main; rc = main(sys.argv[1:]); "
                    "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code, "kws", str(wav), "--model", args.model],
                                 capture_output=True, text=True)
            dt = time.perf_counter() - t0
            if out.returncode != 0:
                sys.exit(out.stderr[-2000:])
            rss = next(int(ln.split()[1]) for ln in out.stdout.splitlines() if ln.startswith("MAXRSS"))
            windows = next((ln.split(" windows")[0].split()[-1] for ln in out.stdout.splitlines()
                            if " windows of " in ln), "?")
            print(f"{minutes:>8g} {windows:>8} {dt:>8.1f} {rss / 1024:>13.0f}")


if __name__ == "__main__":
    main()
