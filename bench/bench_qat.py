"""QAT and float training seconds per epoch: qsim (numpy + numba) against PyTorch eager.

    python bench/bench_qat.py [--n 10000] [--batch 256] [--repeats 3] [--scheme q7] [--profile]
                              [--threads T] [--blas-threads K] [--no-torch]

The seed's KWS net (49x10x1 -> conv 28x10x4 -> conv 30x10x4 stride (2,1) -> fc 58 -> 128 -> 3),
random MFCC-like inputs (per-coefficient scales like an MFCC front end), random labels; one
epoch = n / batch steps of forward + backward + Adam. qsim QAT is qsim.qat.train.run_epoch (the
bit-exact fixed-point forward, STE backward); qsim float is the same loop over qsim.train's Net.
PyTorch (an optional extra, never a qsim dependency; skipped with a note when absent): the same
net in eager mode, float, and QAT with torch.ao.quantization fake-quant (QuantStub, conv+relu /
linear+relu fused, get_default_qat_qconfig). The four configurations run interleaved in one
process (repeat r: one epoch of each, in turn), so a change in the machine's load hits all of
them alike. The machine is shared: the min of --repeats epochs is the figure to compare, the
median shows the contention; the load average is printed before and after, and next to each
wall time the process CPU time of that epoch. --threads T runs both at T threads (torch's
intra-op threads, qsim.train.workers' batch slices; default: every cpu): on a loaded machine
--threads 1 compares the work itself (torch's two OpenMP threads wait for each other at every
op when a third job takes a core, qsim's slices do not). --profile prints a per-layer split of
one QAT and one float step.
"""
import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from qsim.calibrate import calibrate  # noqa: E402
from qsim.importers.spec import KWS_SPEC, Sequential  # noqa: E402
from qsim.qat import QatNet  # noqa: E402
from qsim.qat.train import run_epoch  # noqa: E402
from qsim.quantize import quantize  # noqa: E402
from qsim.train.layers import SoftmaxCrossEntropy  # noqa: E402
from qsim.train.net import Net  # noqa: E402
from qsim.train.optim import Adam  # noqa: E402
from qsim.train import workers  # noqa: E402
from qsim.train.workers import single_blas  # noqa: E402


def mfcc_like(n, rng):
    """(n, 49, 10, 1) float32: per-coefficient scales falling like MFCCs (c0 largest)."""
    scale = 20.0 / (1.0 + np.arange(10))
    return (rng.standard_normal((n, 49, 10, 1)) * scale[None, None, :, None]).astype(np.float32)


def interleaved(epochs, repeats):
    """{name: (min, median, CPU seconds of the fastest)} wall seconds of `repeats` epochs of each,
    run in turn (after a warm-up)."""
    for epoch in epochs.values():
        epoch(warmup=True)
    times = {name: [] for name in epochs}
    for _ in range(repeats):
        for name, epoch in epochs.items():
            t, c = time.perf_counter(), time.process_time()
            epoch()
            times[name].append((time.perf_counter() - t, time.process_time() - c))
    return {name: (min(ts)[0], statistics.median(t for t, _ in ts), min(ts)[1])
            for name, ts in times.items()}


class FloatNet:
    """qsim.train's Net with the same call surface as QatNet for run_epoch."""

    def __init__(self, graph):
        self.net = Net(graph.copy())
        self.params = self.net.params

    def forward(self, x):
        return self.net.forward(x)

    def backward(self, g):
        return self.net.backward(g)


def qsim_epochs(X, y, args, rng):
    g = Sequential.from_dict(KWS_SPEC).build(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, calibrate(g, X[:1000]), scheme=args.scheme)
    qnet = QatNet(q.copy())
    Xq = qnet.quantize_input(X)
    fnet = FloatNet(g)
    out = {}
    for name, net, data in (("qsim QAT", qnet, Xq), ("qsim float", fnet, X)):
        opt = Adam(net.params, lr=1e-4)

        def epoch(warmup=False, net=net, opt=opt, data=data):
            order = rng.permutation(len(data))[:2 * args.batch if warmup else None]
            run_epoch(net, opt, data, y, order, args.batch)
        out[name] = epoch
    if args.profile:
        with single_blas():           # as in run_epoch
            profile("QAT", qnet.net, Xq[:args.batch], y[:args.batch])
            profile("float", fnet.net, X[:args.batch], y[:args.batch])
    return out


def profile(what, net, x, y):
    """Per-layer forward / backward milliseconds of one step of a Net (the fastest of 5)."""
    loss = SoftmaxCrossEntropy()
    best = None
    for _ in range(5):
        fwd, bwd, h = [], [], x
        for node, layer in zip(net.nodes, net.layers):
            t = time.perf_counter()
            h = layer.forward(h, node.params)
            fwd.append(time.perf_counter() - t)
        loss.forward(h.reshape(len(h), -1), y)
        g = loss.backward()
        for layer in reversed(net.layers):
            t = time.perf_counter()
            g, _ = layer.backward(g)
            bwd.append(time.perf_counter() - t)
        bwd = bwd[::-1]
        if best is None or sum(fwd) + sum(bwd) < sum(best[0]) + sum(best[1]):
            best = fwd, bwd
    print(f"{what} step per layer (ms), total {1e3 * (sum(best[0]) + sum(best[1])):.1f}:")
    for node, f, b in zip(net.nodes, *best):
        print(f"  {node.name:<8} forward {1e3 * f:6.1f}  backward {1e3 * b:6.1f}")


def torch_epochs(X, y, args):
    try:
        import torch
        import torch.ao.quantization as tq
        from torch import nn
    except ImportError:
        return None
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    class KWS(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.conv1, self.relu1 = nn.Conv2d(1, 28, (10, 4)), nn.ReLU()
            self.conv2, self.relu2 = nn.Conv2d(28, 30, (10, 4), stride=(2, 1)), nn.ReLU()
            self.fc1, self.relu3 = nn.Linear(1920, 58), nn.ReLU()
            self.fc2, self.relu4 = nn.Linear(58, 128), nn.ReLU()
            self.fc3 = nn.Linear(128, 3)

        def forward(self, x):
            x = self.relu2(self.conv2(self.relu1(self.conv1(self.quant(x)))))
            x = self.relu4(self.fc2(self.relu3(self.fc1(torch.flatten(x, 1)))))
            return self.dequant(self.fc3(x))

    xt = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y)
    out = {}
    for name in ("torch QAT", "torch float"):
        model = KWS().train()
        if name == "torch QAT":
            model.qconfig = tq.get_default_qat_qconfig("x86")
            tq.fuse_modules_qat(model, [["conv1", "relu1"], ["conv2", "relu2"], ["fc1", "relu3"],
                                        ["fc2", "relu4"]], inplace=True)
            tq.prepare_qat(model, inplace=True)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        lossf = nn.CrossEntropyLoss()

        def epoch(warmup=False, model=model, opt=opt, lossf=lossf):
            order = torch.randperm(len(xt))[:2 * args.batch if warmup else None]
            for s in range(0, len(order), args.batch):
                idx = order[s:s + args.batch]
                opt.zero_grad()
                lossf(model(xt[idx]), yt[idx]).backward()
                opt.step()
        out[name] = epoch
    return out, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scheme", default="q7", choices=("q7", "q15"))
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--threads", type=int, default=workers.WORKERS, metavar="T",
                    help="threads of both (default: the cpus this process may use)")
    ap.add_argument("--blas-threads", type=int, default=None, metavar="K",
                    help="limit OpenBLAS to K threads in the qsim runs (threadpoolctl); numba "
                         "keeps its own. On a loaded machine K=1 avoids the two pools fighting")
    args = ap.parse_args()
    workers.WORKERS = args.threads
    rng = np.random.default_rng(0)
    X = mfcc_like(args.n, rng)
    y = rng.integers(0, 3, args.n)
    load0 = os.getloadavg()
    epochs = qsim_epochs(X, y, args, rng)
    note = "skipped (--no-torch)" if args.no_torch else "skipped: torch is not installed"
    if not args.no_torch:
        got = torch_epochs(X, y, args)
        if got is not None:
            epochs.update(got[0])
            note = got[1]
    if args.blas_threads:
        from threadpoolctl import threadpool_limits
        qsim = {k: v for k, v in epochs.items() if k.startswith("qsim")}
        for k, fn in qsim.items():
            def limited(warmup=False, fn=fn):
                with threadpool_limits(args.blas_threads, user_api="blas"):
                    fn(warmup)
            epochs[k] = limited
    res = interleaved(epochs, args.repeats)
    load = " ".join(f"{v:.2f}" for v in load0) + " -> " + " ".join(
        f"{v:.2f}" for v in os.getloadavg())
    blas = f", qsim BLAS threads {args.blas_threads}" if args.blas_threads else ""
    print(f"KWS net, {args.n} inputs, batch {args.batch}, {args.scheme}, {os.cpu_count()} "
          f"cpus, {args.threads} threads{blas}, load average {load}; seconds per epoch, "
          f"min / median of {args.repeats}, interleaved, [CPU s of the min] ({note})")
    for name, (lo, med, cpu) in res.items():
        print(f"  {name:<12} {lo:7.2f} / {med:7.2f}  [{cpu:6.2f}]")
    if "torch QAT" in res:
        for i, what in ((0, "wall"), (2, "CPU")):
            print(f"  {what}: qsim QAT / torch QAT = "
                  f"{res['qsim QAT'][i] / res['torch QAT'][i]:.2f}, qsim float / torch float = "
                  f"{res['qsim float'][i] / res['torch float'][i]:.2f}")


if __name__ == "__main__":
    main()
