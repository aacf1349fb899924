"""Every speed figure of issue 16 in one command: machine, versions, load average, then

    python bench/run_all.py [--n 8192] [--repeat 3] [--nets kws cifar ds_cnn] [--no-train]
                            [--torch-python PATH]

1. per network (the seed's KWS net, the CIFAR-style net of examples/cifar_digits.py, the DS-CNN of
   examples/ds_cnn.py): qsim q7 / q15 against onnxruntime float32 and int8 QDQ (quantize_static),
   at 1 and 2 threads, side by side in this one process (bench/bench_network.py: engines
   alternated, best of --repeat, cores kept busy, 2-thread scaling), and batch-1 latency; then,
   with 2 threads asked for, qsim's 2 threads against 2 processes (bench/scaling.py: the host's
   ceiling for thread scaling);
2. float training and QAT seconds per epoch against PyTorch eager (bench/bench_qat.py), run with
   a Python that has torch: this one, or --torch-python (default /tmp/importer_venv/bin/python
   when it exists); skipped with a note when none has it.
At the end, the table of BENCHMARKS.md ("Whole network") in markdown. The machine may be shared:
read the load averages printed with every table, and compare ratios measured in the same run.
"""
import argparse
import importlib.util
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import bench_network  # noqa: E402
import scaling  # noqa: E402

NAMES = {"kws": "KWS (seed, 2.58 M MACs)", "cifar": "CIFAR-style (cifar_digits)",
         "ds_cnn": "DS-CNN (ds_cnn, depthwise)"}


def torch_python(arg):
    if arg:
        return arg
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    venv = "/tmp/importer_venv/bin/python"
    return venv if os.path.exists(venv) else None


def markdown(results, threads):
    lines = []
    for net, (rate, lat) in results.items():
        engines = [k for k in rate if isinstance(k, tuple) and len(k) == 2 and k[1] == threads[0]]
        lines += [f"\n{NAMES[net]}: inferences/s (cores kept busy), inferences per CPU-second at "
                  f"{threads[0]} thread, scaling, batch-1 latency best / median ms\n",
                  "| engine | " + " | ".join(f"{t} thread{'s' * (t > 1)}" for t in threads)
                  + " | per CPU-s | scaling | batch-1 ms |",
                  "|---|" + "---|" * (len(threads) + 3)]
        for name, _ in engines:
            cells = [f"{rate[name, t]:,.0f} ({rate['cores', name, t]:.1f})" for t in threads]
            scale = f"{rate[name, threads[-1]] / rate[name, threads[0]]:.2f}x" if len(threads) > 1 else ""
            b1 = lat.get(name)
            per_cpu = rate[name, threads[0]] / max(rate["cores", name, threads[0]], 1e-9)
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {per_cpu:,.0f} | {scale} | "
                         + (f"{b1[0]:.2f} / {b1[1]:.2f}" if b1 else "") + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8192, help="inputs per network (default 8192)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--nets", nargs="+", choices=sorted(NAMES), default=["kws", "cifar", "ds_cnn"])
    ap.add_argument("--no-train", action="store_true", help="skip the training / QAT comparison")
    ap.add_argument("--torch-python", default=None, help="a Python with torch for bench_qat.py")
    args = ap.parse_args()
    results, scaled = {}, {}
    for net in args.nets:
        print(f"\n{'=' * 30} {NAMES[net]} {'=' * 30}", flush=True)
        results[net] = bench_network.main(["--net", net, "--n", str(args.n), "--repeat",
                                           str(args.repeat), "--ort-act", "int8", "--threads"]
                                          + [str(t) for t in args.threads])
        if 2 in args.threads:
            print(f"\n{'=' * 30} {NAMES[net]}: 2 threads vs 2 processes {'=' * 30}", flush=True)
            scaled[net] = scaling.main(["--net", net, "--n", str(args.n), "--repeat",
                                        str(args.repeat)])
    if not args.no_train:
        py = torch_python(args.torch_python)
        print(f"\n{'=' * 30} training and QAT vs PyTorch {'=' * 30}", flush=True)
        if py is None:
            print("skipped: no Python with torch (pass --torch-python)")
        else:
            subprocess.run([py, os.path.join(os.path.dirname(__file__), "bench_qat.py"),
                            "--repeats", str(args.repeat)], check=False,
                           env=dict(os.environ, PYTHONWARNINGS="ignore"))   # torch.ao notices
    print(f"\n{'=' * 30} summary (markdown) {'=' * 30}")
    print("load avg now: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(markdown(results, args.threads))
    for net, table in scaled.items():
        print(f"\n{NAMES[net]}, 2 threads against 2 processes:\n{table}")


if __name__ == "__main__":
    main()
