"""`qsim search` end to end on a tiny net (fast): outputs, best/ ready for codegen, resume after
an interrupted run, unmet budgets, bad inputs (exit 2, nothing written), and identical results
on the serial, process-pool and Dask executors."""
import csv
import json
import warnings

import numpy as np
import pytest

from qsim.cli import main
from qsim.importers.spec import Sequential

pytestmark = pytest.mark.filterwarnings("ignore::qsim.errors.SaturationWarning")


@pytest.fixture
def cli(capsys):
    def run(*args):
        rc = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return rc, out, err
    return run


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny conv net; labels = its own float argmax, so float accuracy is 100% and each
    quantized variant loses a measurable, variant-dependent amount."""
    import qsim
    d = tmp_path_factory.mktemp("search")
    g = Sequential((6, 6, 4), name="tiny").conv(6, 3, pad=1).relu().maxpool(2).fc(10).relu() \
        .fc(4).softmax().build(seed=3)
    g.save(d / "tiny")
    x = np.random.default_rng(1).normal(size=(96, 6, 6, 4)).astype(np.float32)
    y = np.argmax(qsim.run_float(g, x).reshape(len(x), -1), axis=1)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    np.save(d / "y_short.npy", y[:5])
    return d


def _args(files, out, *extra):
    return ["search", files / "tiny", "--data", files / "x.npy", "--labels", files / "y.npy",
            "--quiet", "-o", out, *extra]


def _front(out):
    with open(out / "front.csv") as f:
        return [(r["key"], r["accuracy"], r["ram"], r["flash"], r["instructions"])
                for r in csv.DictReader(f)]


def _records(out):
    lines = (out / "candidates.jsonl").read_text().splitlines()
    return {json.loads(ln)["key"]: json.loads(ln) for ln in lines[1:]}


def _evaluated(text):
    line = next(ln for ln in text.splitlines() if " evaluated, " in ln)
    return int(line.split(": ")[1].split(" evaluated")[0])


def test_end_to_end_and_best_is_a_quantized_model(cli, files, tmp_path):
    out = tmp_path / "s"
    rc, text, err = cli(*_args(files, out, "--workers", "1", "--budget-candidates", "14",
                               "--ram", "2k", "--flash", "16KiB", "--instructions", "1M"))
    assert rc == 0, err
    for f in ("candidates.jsonl", "front.csv", "front.md", "front.png", "best/model.json"):
        assert (out / f).exists(), f
    assert (out / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    recs = _records(out)
    assert len(recs) == 14 and _evaluated(text) == 14
    assert {"q7", "q15", "q7q15"} <= {r["label"] for r in recs.values()}
    front = _front(out)
    # the front: nothing evaluated dominates a member; best = most accurate within the budget
    ok = [r for r in recs.values() if r["ok"]]
    for key, *_ in front:
        r = recs[key]
        assert not any(o["accuracy"] >= r["accuracy"] and o["ram"] <= r["ram"]
                       and o["flash"] <= r["flash"] and o["instructions"] <= r["instructions"]
                       and (o["accuracy"], o["ram"], o["flash"], o["instructions"])
                       != (r["accuracy"], r["ram"], r["flash"], r["instructions"]) for o in ok)
    inb = [r for r in ok if r["ram"] <= 2048 and r["flash"] <= 16384 and r["instructions"] <= 10 ** 6]
    best_acc = max(r["accuracy"] for r in inb)
    model = json.loads((out / "best/model.json").read_text())
    assert model["meta"]["search"]["accuracy"] == best_acc
    # best/ is what `qsim quantize -o` writes: evaluate and codegen read it
    rc, text2, err = cli("codegen", out / "best", "-o", tmp_path / "c")
    assert rc == 0, err
    ram = next(ln for ln in text2.splitlines() if ln.startswith("RAM"))
    assert int(ram.split()[1]) == model["meta"]["search"]["ram"]
    import qsim
    from qsim.commands._common import load_quantized
    q = load_quantized(out / "best")
    x, y = np.load(files / "x.npy"), np.load(files / "y.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.mean(qsim.predict(q, x) == y) == best_acc
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_resume_after_truncation(cli, files, tmp_path):
    out = tmp_path / "r"
    args = _args(files, out, "--workers", "1", "--budget-candidates", "12", "--ram", "1k")
    rc, text, _ = cli(*args)
    assert rc == 0 and _evaluated(text) == 12
    first = (_front(out), (out / "front.md").read_bytes(), (out / "best/model.json").read_bytes())
    lines = (out / "candidates.jsonl").read_bytes().splitlines(keepends=True)
    # an interrupted run: five records lost and the sixth torn in the middle of its write
    (out / "candidates.jsonl").write_bytes(b"".join(lines[:-6]) + lines[-6][:40])
    rc, text, _ = cli(*args)
    assert rc == 0
    assert "1 incomplete line(s) dropped" in text
    assert _evaluated(text) == 6
    assert (_front(out), (out / "front.md").read_bytes(),
            (out / "best/model.json").read_bytes()) == first
    rc, text, _ = cli(*args)                     # complete: nothing to evaluate
    assert rc == 0 and _evaluated(text) == 0 and _front(out) == first[0]
    assert len((out / "candidates.jsonl").read_text().splitlines()) == 13


def test_another_search_in_dir_is_refused(cli, files, tmp_path):
    out = tmp_path / "o"
    assert cli(*_args(files, out, "--workers", "1", "--budget-candidates", "3"))[0] == 0
    before = (out / "candidates.jsonl").read_bytes()
    rc, _, err = cli(*_args(files, out, "--workers", "1", "--budget-candidates", "3",
                            "--target", "cortex-m3"))
    assert rc == 2 and "another model, data or settings (differs in target)" in err
    assert (out / "candidates.jsonl").read_bytes() == before
    rc, text, err = cli(*_args(files, out, "--workers", "1", "--budget-candidates", "3",
                               "--target", "cortex-m3", "--force"))
    assert rc == 0 and _evaluated(text) == 3


def test_unmet_budget_is_a_result(cli, files, tmp_path):
    out = tmp_path / "u"
    rc, text, err = cli(*_args(files, out, "--workers", "1", "--budget-candidates", "4",
                               "--ram", "64", "--instructions", "100"))
    assert rc == 0, err
    assert "no candidate meets the budget (ram <= 64 B, instructions <= 100)" in text
    closest = text.split("the closest:")[1].strip().splitlines()[:3]
    assert len(closest) == 3 and all("misses: ram" in ln and "instructions" in ln
                                     for ln in closest)
    assert not (out / "best").exists() and (out / "front.md").exists()
    # a resumed run with a looser budget writes best/; a tighter one again removes it
    assert cli(*_args(files, out, "--workers", "1", "--budget-candidates", "4"))[0] == 0
    assert (out / "best" / "model.json").exists()
    rc, text, _ = cli(*_args(files, out, "--workers", "1", "--budget-candidates", "4",
                             "--ram", "64"))
    assert rc == 0 and "0 evaluated" in text and not (out / "best").exists()


@pytest.mark.parametrize("extra, message", [
    (("--ram", "16 kb x"), "--ram '16 kb x' is not a byte budget"),
    (("--flash=-1k",), "positive"),
    (("--instructions", "nan"), "not a finite number"),
    (("--ram", "16kb"), "bits"),
    (("--workers", "0"), "--workers must be an integer >= 1"),
    (("--budget-candidates", "0"), "--budget-candidates"),
    (("--qat-epochs", "-1"), "--qat-epochs"),
    (("--seed", "-3"), "--seed"),
    (("--calib", "missing.json"), "no such file"),
])
def test_bad_arguments_exit_2_and_write_nothing(cli, files, tmp_path, extra, message):
    out = tmp_path / "bad"
    rc, text, err = cli(*_args(files, out, "--workers", "1", *extra))
    assert rc == 2
    assert err.startswith("qsim search: error: ") and message in err and "Traceback" not in err
    assert not out.exists()


def test_bad_data_exit_2(cli, files, tmp_path):
    out = tmp_path / "bad"
    rc, _, err = cli("search", files / "tiny", "--data", files / "x.npy", "--labels",
                     files / "y_short.npy", "-o", out)
    assert rc == 2 and "--labels" in err and not out.exists()
    rc, _, err = cli("search", files / "tiny", "--data", files / "x.npy", "--labels",
                     files / "y.npy", "-o", files / "tiny" / "sub")
    assert rc == 2 and "input" in err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    rc, _, err = cli(*_args(files, tmp_path / "other"))
    assert rc == 2 and "not a qsim search folder" in err
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["keep.txt"]


def test_missing_dask_is_a_clear_error(cli, files, tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def no_dask(name, *a, **k):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError("No module named 'distributed'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    rc, _, err = cli(*_args(files, tmp_path / "d", "--scheduler", "tcp://127.0.0.1:1"))
    assert rc == 2 and "pip install 'qsim[cluster]'" in err and not (tmp_path / "d").exists()


def test_same_results_serial_processes_dask(cli, files, tmp_path):
    """Same records, same front in the same order, same best, whichever executor evaluates."""
    distributed = pytest.importorskip("distributed")
    common = ("--budget-candidates", "10", "--flash", "4k", "--qat-epochs", "1", "--beam", "1")
    rc, _, err = cli(*_args(files, tmp_path / "serial", "--workers", "1", *common))
    assert rc == 0, err
    rc, _, err = cli(*_args(files, tmp_path / "procs", "--workers", "2", *common))
    assert rc == 0, err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster:
            rc, text, err = cli(*_args(files, tmp_path / "dask", "--scheduler",
                                       cluster.scheduler_address, *common))
    assert rc == 0, err
    assert "Dask scheduler" in text
    runs = [tmp_path / n for n in ("serial", "procs", "dask")]
    fronts = [_front(d) for d in runs]
    assert fronts[0] == fronts[1] == fronts[2] and fronts[0]
    recs = [_records(d) for d in runs]
    assert recs[0] == recs[1] == recs[2]
    assert [r for r in recs[0].values() if r["candidate"]["qat_epochs"] == 1 and r["ok"]]
    assert all(r["n"] == 48 for r in recs[0].values() if r["ok"])    # the QAT/evaluation split
    best = [(d / "best/model.npz").read_bytes() for d in runs]
    assert best[0] == best[1] == best[2]


@pytest.mark.slow
@pytest.mark.qemu
def test_confirm_on_qemu_with_real_cmsis(cli, files, tmp_path, cmsis_path):
    """--confirm: the best candidate's C on cortex-m4 under QEMU against real CMSIS-NN."""
    import shutil
    if not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    rc, text, err = cli(*_args(files, tmp_path / "c", "--workers", "1", "--budget-candidates", "4",
                               "--confirm", "--cmsis", cmsis_path, "--confirm-inputs", "5",
                               "--release", "5.9.0" if "5.9" in cmsis_path else "5.7.0"))
    assert rc == 0, err
    assert "confirm on cortex-m4 (QEMU" in text and ", 5 inputs, 0 mismatches" in text
    assert "instructions per inference: measured" in text


def test_help_and_target_paths(capsys):
    with pytest.raises(SystemExit) as e:
        main(["search", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "16KiB" in out or "KiB" in out and "--scheduler" in out
    from harness.cortex_m import CPU_PATH
    from qsim.commands.search import TARGET_PATH
    assert TARGET_PATH == CPU_PATH


def test_machine_failures_are_not_recorded(cli, files, tmp_path, monkeypatch):
    """A compiler failure aborts with exit 2 and is not recorded as a refused candidate; the run
    after it evaluates that candidate again."""
    from qsim.errors import BuildError
    from qsim.search import evaluate as ev

    def broken(gen):
        raise BuildError("measuring the code size: arm-none-eabi-gcc killed")

    out = tmp_path / "m"
    monkeypatch.setattr(ev, "code_size", broken)
    rc, _, err = cli(*_args(files, out, "--workers", "1", "--budget-candidates", "3"))
    assert rc == 2 and "arm-none-eabi-gcc killed" in err
    assert len((out / "candidates.jsonl").read_text().splitlines()) == 1      # header only
    monkeypatch.undo()
    rc, text, _ = cli(*_args(files, out, "--workers", "1", "--budget-candidates", "3"))
    assert rc == 0 and _evaluated(text) == 3


def test_progress_bar_on_a_terminal_only(monkeypatch, capsys):
    import argparse
    import io
    import sys

    from qsim.commands.search import _progress
    from qsim.search.budget import Budget
    from qsim.search.driver import SearchResult
    args = argparse.Namespace(quiet=False, budget_candidates=4)
    assert _progress(args, Budget()) == (None, None)           # pytest's stderr: not a TTY

    class Tty(io.StringIO):
        def isatty(self):
            return True
    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    bar, update = _progress(args, Budget(ram=100))
    result = SearchResult(Budget(ram=100))
    rec = {"ok": True, "accuracy": 0.75, "ram": 50, "flash": 1, "instructions": 1, "key": "a",
           "candidate": {"scheme": "q7", "layer_bits": [], "offsets": [], "fc_opt": True,
                         "qat_epochs": 0}}
    result.visited.append(rec)
    update(rec, result)
    bar.close()
    assert "1/4" in tty.getvalue() and "best 75.00%" in tty.getvalue()
    assert _progress(argparse.Namespace(quiet=True, budget_candidates=4), Budget()) == (None, None)


def test_unreachable_scheduler_writes_nothing(cli, files, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")

    def refuse(address, timeout=None):
        raise OSError(f"Timed out trying to connect to {address}")

    monkeypatch.setattr(distributed, "Client", refuse)
    rc, _, err = cli(*_args(files, tmp_path / "d", "--scheduler", "tcp://127.0.0.1:9"))
    assert rc == 2 and "cannot connect to a Dask scheduler" in err and "dask scheduler" in err
    assert not (tmp_path / "d").exists()
