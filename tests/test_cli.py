"""`qsim calibrate | quantize | evaluate | report` run in-process through qsim.cli.main.

Covers the whole flow on a tiny spec model and on a small ONNX file; the bad inputs the commands
promise to name (exit status 2, one `qsim CMD: error:` line, nothing written) are the table of
tests/test_bad_inputs.py.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from qsim.cli import main
from qsim.importers.spec import Sequential

ONNX_DIR = Path(__file__).parent / "data" / "onnx"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
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
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    Sequential((6, 6, 4), name="tiny").conv(4, 3, pad=1).relu().maxpool(2).fc(8).relu().fc(3) \
        .softmax().build(seed=1).save(d / "tiny")
    x = rng.normal(size=(24, 6, 6, 4)).astype(np.float32)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", rng.integers(0, 3, 24))
    np.save(d / "x_nchw.npy", x.transpose(0, 3, 1, 2))
    np.save(d / "x_empty.npy", x[:0])
    np.save(d / "x_kws.npy", rng.normal(size=(8, 49, 10, 1)).astype(np.float32))
    return d


def _check_png(p):
    assert p.read_bytes()[:8] == PNG_MAGIC
    assert imread(p).shape[0] > 200


def _no_temps(folder):
    assert not [f for f in Path(folder).iterdir() if f.name.startswith(".")]


@pytest.mark.parametrize("cmd", ["calibrate", "quantize", "evaluate", "report"])
def test_help(cli, cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert f"qsim {cmd}" in out and "example:" in out


def test_cli_choices_match_library():
    from qsim.commands import quantize as cmd
    from qsim.quantize import STRATEGIES
    assert cmd.STRATEGIES == STRATEGIES


def test_quantize_says_which_release_and_path_and_the_model_records_them(cli, files, tmp_path):
    """Issue 11 item 9: documented defaults 5.9.0 / ref, printed first on every run."""
    from qsim.graph import Graph
    d = files
    assert cli("calibrate", d / "tiny", "--data", d / "x.npy", "-o", tmp_path / "c.json")[0] == 0
    rc, out, err = cli("quantize", d / "tiny", "--calib", tmp_path / "c.json", "-o", tmp_path / "q")
    assert rc == 0, err
    assert out.splitlines()[0] == "CMSIS_5 5.9.0 (default; --release), path ref (default; --path)"
    q = Graph.load(tmp_path / "q").quant
    assert (q.version, q.path) == ("5.9.0", "ref")
    rc, out, err = cli("quantize", d / "tiny", "--calib", tmp_path / "c.json", "--release", "5.7.0",
                       "--path", "dsp", "-o", tmp_path / "q2")
    assert rc == 0, err
    assert out.splitlines()[0] == "CMSIS_5 5.7.0, path dsp"
    assert (Graph.load(tmp_path / "q2").quant.version, Graph.load(tmp_path / "q2").quant.path) == \
        ("5.7.0", "dsp")
    with pytest.raises(SystemExit) as e:          # argparse: invalid choice, lists the tags
        cli("quantize", d / "tiny", "--calib", tmp_path / "c.json", "--release", "5.8.0", "-o",
            tmp_path / "q3")
    assert e.value.code == 2 and not (tmp_path / "q3").exists()
    rc, out, _ = cli("quantize", d / "tiny", "--calib", tmp_path / "missing.json", "-o", tmp_path / "q4")
    assert rc == 2 and out.startswith("CMSIS_5 5.9.0 (default")     # said even when the run fails


def test_full_flow_on_saved_graph(cli, files, tmp_path):
    d = files
    rc, out, err = cli("calibrate", d / "tiny", "--data", d / "x.npy", "--labels", d / "y.npy",
                       "--stats", "minmax", "percentile:99.9", "-o", tmp_path / "c.json")
    assert rc == 0, err
    assert "float accuracy on this set" in out
    cal = json.loads((tmp_path / "c.json").read_text())
    assert cal["num_samples"] == 24 and list(cal["tensors"]["conv1"]) == [
        "minmax", "percentile(99.9)", "log2hist"]
    rc, out, err = cli("quantize", d / "tiny", "--calib", tmp_path / "c.json", "--strategy",
                       "percentile", "--percentile", "99.9", "-o", tmp_path / "q")
    assert rc == 0, err
    assert "arm_convolve_HWC_q7_fast" in out and (tmp_path / "q" / "model.npz").is_file()
    rc, out, err = cli("evaluate", tmp_path / "q", "--float", d / "tiny", "--data", d / "x.npy",
                       "--labels", d / "y.npy", "--layers")
    assert rc == 0, err
    assert "top-1 agreement" in out and "quantized accuracy" in out and "maxpool1" in out
    rc, out, err = cli("report", tmp_path / "q", "--float", d / "tiny", "--data", d / "x.npy",
                       "--labels", d / "y.npy", "--calib", tmp_path / "c.json", "-o",
                       tmp_path / "rep")
    assert rc == 0, err
    rep = tmp_path / "rep"
    assert sorted(f.name for f in rep.iterdir()) == [
        "activations.png", "report.json", "report.txt", "sqnr.png", "weights.png"]
    for png in rep.glob("*.png"):
        _check_png(png)
    doc = json.loads((rep / "report.json").read_text())
    assert doc["num_samples"] == 24 and 0 <= doc["quant_accuracy"] <= 1
    assert "fc2" in (rep / "report.txt").read_text()
    _no_temps(tmp_path)


def test_onnx_model_q7q15(cli, files, tmp_path):
    m, d = ONNX_DIR / "kws_small.onnx", files
    assert cli("calibrate", m, "--data", d / "x_kws.npy", "-o", tmp_path / "c.json")[0] == 0
    rc, out, err = cli("quantize", m, "--calib", tmp_path / "c.json", "--scheme", "q7q15",
                       "--strategy", "mse", "--version", "5.9.0", "-o", tmp_path / "q")
    assert rc == 0, err
    assert "scheme q7q15, path ref, CMSIS 5.9.0" in out
    rc, out, err = cli("report", tmp_path / "q", "--float", m, "--data", d / "x_kws.npy",
                       "-o", tmp_path / "rep")
    assert rc == 0, err
    assert "n/a (no labels)" in out
    _check_png(tmp_path / "rep" / "activations.png")


def test_force_replaces_and_failures_write_nothing(cli, files, tmp_path):
    d = files
    args = ("calibrate", d / "tiny", "--data", d / "x.npy", "-o", tmp_path / "c.json")
    assert cli(*args)[0] == 0
    assert cli("quantize", d / "tiny", "--calib", tmp_path / "c.json", "-o", tmp_path / "q")[0] == 0
    before = (tmp_path / "q" / "model.json").read_bytes()
    rc, _, err = cli("quantize", d / "tiny", "--calib", d / "x.npy", "-o", tmp_path / "q",
                     "--force")        # not a calibration: fails
    assert rc == 2 and "qsim quantize: error:" in err
    assert (tmp_path / "q" / "model.json").read_bytes() == before   # old output kept whole
    rc, _, err = cli("quantize", d / "tiny", "--calib", tmp_path / "c.json", "--scheme", "q7",
                     "--strategy", "mse", "-o", tmp_path / "q", "--force")
    assert rc == 0 and (tmp_path / "q" / "model.json").read_bytes() != before
    rc, _, err = cli("report", tmp_path / "q", "--float", d / "tiny", "--data", d / "x.npy",
                     "--labels", d / "y.npy", "--batch-size", "0", "-o", tmp_path / "rep")
    assert rc == 2 and not (tmp_path / "rep").exists()
    _no_temps(tmp_path)


def test_quantize_warnings_are_one_line_each(cli, tmp_path):
    sig = Sequential((4, 4, 2), name="w").conv(4, 3, pad=1).relu().fc(3).build(seed=0)
    sig.save(tmp_path / "m")
    np.save(tmp_path / "x.npy", 1e4 * np.random.default_rng(1).normal(size=(8, 4, 4, 2)))
    assert cli("calibrate", tmp_path / "m", "--data", tmp_path / "x.npy", "-o",
               tmp_path / "c.json")[0] == 0
    rc, out, err = cli("quantize", tmp_path / "m", "--calib", tmp_path / "c.json", "-o",
                       tmp_path / "q")
    assert rc == 0
    lines = err.strip().splitlines()
    assert lines and all(s.startswith("qsim quantize: warning: layer '") for s in lines)


def test_quantize_tune_data_moves_formats_and_records_them(cli, files, tmp_path):
    from qsim.graph import Graph
    from qsim.quantize import quantize
    from qsim.calibrate import Calibration
    from qsim.tune import tune_formats
    d = files
    x = np.load(d / "x.npy")
    x[0, 0, 0, 0] = 50.0                       # an outlier spoils the min/max input format
    np.save(tmp_path / "x_out.npy", x)
    assert cli("calibrate", d / "tiny", "--data", tmp_path / "x_out.npy", "-o",
               tmp_path / "c.json")[0] == 0
    rc, out, err = cli("quantize", d / "tiny", "--calib", tmp_path / "c.json", "--tune-data",
                       tmp_path / "x_out.npy", "-o", tmp_path / "q")
    assert rc == 0, err
    assert "tune_formats: output error" in out
    q = Graph.load(tmp_path / "q")
    g = Graph.load(d / "tiny")
    cal = Calibration.load(tmp_path / "c.json")
    expected, report = tune_formats(g, cal, x)
    assert report.moves and all(f"{name}: frac_bits {a} -> {b}" in out
                                for _, name, a, b, _ in report.moves)
    assert q.meta["quantize"].get("frac_bits_override", {}) == report.frac_bits_override
    assert q.meta["quantize"].get("weight_frac_override", {}) == report.weight_frac_override
    plain = quantize(g, cal)
    assert {t: q.tensors[t].qformat for t in g.tensors} == \
        {t: expected.tensors[t].qformat for t in g.tensors}
    assert any(q.tensors[t].qformat != plain.tensors[t].qformat for t in g.tensors) or \
        any(q.node(n.name).weight_q != plain.node(n.name).weight_q for n in g.nodes
            if n.op in ("conv", "fc"))
    for bad, msg in (("x_nchw.npy", "NCHW"), ("x_empty.npy", "empty"), ("none.npy", "")):
        rc, out, err = cli("quantize", d / "tiny", "--calib", tmp_path / "c.json", "--tune-data",
                           d / bad, "-o", tmp_path / "q_bad")
        assert rc == 2 and "qsim quantize: error:" in err and msg in err, err
        assert not (tmp_path / "q_bad").exists()
