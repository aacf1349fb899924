"""Evaluate one candidate: quantize (+ QAT) -> bit-exact accuracy -> RAM, flash -> instructions.

    ctx = Context(float_graph, calibration, x, y, target="cortex-m4", release="5.9.0")
    record = evaluate(ctx, candidate)       # a JSON-able dict, one line of candidates.jsonl

accuracy      qsim.simulate (bit-exact CMSIS-NN) argmax against the labels, on ctx.x
ram           the generated network's buffer plan: activation arena + scratch (bufferA, bufferB),
              codegen.memory_report's RAM (the caller's input/output buffers are not counted)
flash         weight bytes + the generated code's .text (the network's C and the qsim companion
              kernels it ships, arm-none-eabi-gcc -mcpu=cortex-m4 -Os as `qsim codegen`, else the
              host gcc); CMSIS-NN's own code is not included. Code sizes are cached by the text
              of every generated file but the weights header (weight values only fill .rodata):
              in the process, and on disk under $QSIM_CACHE_DIR (default ~/.cache/qsim)/code-size
instructions  qsim.costmodel.estimate(qgraph, target): predicted executed instructions per
              inference (no QEMU in the loop; `qsim search --confirm` runs QEMU on the winner)
A candidate the quantizer refuses (no legal kernel, a shift out of range...) is a record with
ok=False and the error: a result, not a failure of the search. A failure of the machine (a
compiler that fails or is killed, a memory limit) is raised instead and never recorded, so a
resumed run evaluates that candidate again.

Deterministic: the record depends only on the context and the candidate, never on the process,
thread or executor that computes it (simulate is bit-exact whatever its threads; QAT runs with
BLAS and qsim's training workers at one thread, so its float sums are in a fixed order).
"""
import hashlib
import json
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BuildError, QsimError, ResourceLimitError, ToolchainMissing
from ..releases import TARGET_PATH

NET_NAME = "net"                 # fixed C prefix: identical networks give identical text
_CODE_SIZES = {}


@dataclass
class Context:
    """What every evaluation shares (pickled once per worker)."""
    graph: object                 # the float Graph (HWC, after the import passes)
    calibration: object           # its qsim.calibrate.Calibration
    x: np.ndarray                 # evaluation inputs (N,) + input shape, float32
    y: np.ndarray                 # (N,) labels
    target: str = "cortex-m4"
    release: str = "5.9.0"
    strategy: str = "minmax"
    percentile: float = 99.99
    seed: int = 0
    x_train: np.ndarray | None = None     # QAT training data (None: no QAT)
    y_train: np.ndarray | None = None
    measure_code: bool = True

    @property
    def path(self):
        """The CMSIS-NN code path the target runs (cortex-m4: "dsp", cortex-m3: "ref")."""
        return TARGET_PATH[self.target]


def _cache_root():
    base = os.environ.get("QSIM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qsim")
    return Path(base) / "code-size"


def code_key(gen) -> str:
    h = hashlib.sha256()
    for name in sorted(gen.files):
        if name == f"{gen.name}_weights.h":
            continue
        h.update(name.encode() + b"\0" + gen.files[name].encode() + b"\0")
    return h.hexdigest()


def code_size(gen):
    """(text bytes, target description) of a GeneratedNetwork's code, cached; None without a
    compiler."""
    from cmsis_nn.standin import include_dirs
    from codegen.memory_report import measure_generated

    from ..fileio import atomic_write
    key = code_key(gen)
    if key in _CODE_SIZES:
        return _CODE_SIZES[key]
    f = _cache_root() / f"{key}.json"
    got = None
    try:
        d = json.loads(f.read_text())
        got = (int(d["bytes"]), str(d["target"]))
    except (OSError, ValueError, KeyError, TypeError):
        got = measure_generated(gen, include_dirs())
        if got is not None:
            try:
                f.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(f, json.dumps({"bytes": got[0], "target": got[1]}).encode())
            except OSError:
                pass
    _CODE_SIZES[key] = got
    return got


@contextmanager
def one_thread():
    """Numba, BLAS and qsim's training workers at one thread: a worker process is one core, and
    QAT's float sums run in one fixed order whichever executor evaluates the candidate."""
    import numba
    from threadpoolctl import threadpool_limits

    from ..train import workers
    saved = numba.get_num_threads(), workers.WORKERS
    numba.set_num_threads(1)
    workers.WORKERS = 1
    try:
        with threadpool_limits(1):
            yield
    finally:
        numba.set_num_threads(saved[0])
        workers.WORKERS = saved[1]


def build(ctx, cand):
    """The quantized graph of a candidate (quantize, formats moved by the offsets, QAT)."""
    from ..quantize import quantize
    kw = dict(strategy=ctx.strategy, percentile=ctx.percentile, path=ctx.path, version=ctx.release,
              **cand.quantize_kwargs())
    q = quantize(ctx.graph, ctx.calibration, **kw)
    if cand.offsets:
        override = {t: q.tensors[t].qformat.frac_bits + o for t, o in cand.offsets}
        q = quantize(ctx.graph, ctx.calibration, frac_bits_override=override, **kw)
    if cand.qat_epochs:
        from ..qat import finetune
        if ctx.x_train is None:
            raise QsimError("QAT candidate without QAT training data")
        with one_thread():
            q, _ = finetune(ctx.graph, q, ctx.x_train, ctx.y_train, epochs=cand.qat_epochs,
                            seed=ctx.seed, batch_size=64, lr=1e-3)
    q.meta = dict(q.meta, search={"candidate": cand.to_dict(), "label": cand.label()})
    return q


def layer_choices(q):
    """Per weighted/called layer: kernel, formats, weight bits (the table's per-layer column)."""
    from ..ops import OPS
    rows = []
    for n in q.nodes:
        if n.kernel is None:
            continue
        row = {"name": n.name, "kernel": n.kernel, "in": str(q.input_q(n)), "out": str(q.output_q(n))}
        if OPS[n.op].weighted:
            row["w"] = str(n.weight_q)
        rows.append(row)
    return rows


def accuracy(q, x, y):
    from ..simulate import predict
    pred = predict(q, x)
    return int(np.sum(pred == y))


def evaluate(ctx, cand) -> dict:
    """The record of one candidate (see the module docstring)."""
    from codegen.generate import render

    from .. import costmodel
    rec = {"key": cand.key(), "candidate": cand.to_dict(), "label": cand.label()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            q = build(ctx, cand)
            correct = accuracy(q, ctx.x, ctx.y)
            gen = render(q, name=NET_NAME)
            code = code_size(gen) if ctx.measure_code else None
            est = costmodel.estimate(q, target=ctx.target)
        except (BuildError, ToolchainMissing, ResourceLimitError):
            raise                      # the machine, not the candidate: never recorded
        except QsimError as e:
            rec.update(ok=False, error=f"{type(e).__name__}: {e}")
            return rec
    plan = gen.plan
    rec.update(
        ok=True, accuracy=correct / len(ctx.y), correct=correct, n=int(len(ctx.y)),
        ram=int(plan.arena_bytes + plan.scratch_bytes), arena=int(plan.arena_bytes),
        scratch=int(plan.scratch_bytes),
        flash=int(gen.weight_bytes + (code[0] if code else 0)), weights=int(gen.weight_bytes),
        code=None if code is None else int(code[0]), code_target=None if code is None else code[1],
        instructions=int(est.total), per_layer_instructions={k: int(v) for k, v in est.per_layer.items()},
        layers=layer_choices(q))
    return rec
