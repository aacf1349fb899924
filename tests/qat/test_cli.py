"""`qsim qat`: fine-tunes a saved quantized model and writes one that simulates as reported."""
import warnings

import numpy as np
import pytest

from qsim.calibrate import calibrate
from qsim.cli import main
from qsim.graph import Graph
from qsim.importers.spec import Sequential
from qsim.quantize import quantize
from qsim.simulate import predict


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    g = Sequential((6, 6, 2), "tiny").conv(4, 3).relu().flatten().fc(3).softmax().build(seed=0)
    x = rng.normal(0, 1, (120, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, calibrate(g, x), scheme="q7")
    g.save(tmp_path / "float")
    q.save(tmp_path / "q")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path, x, y


def test_qat_command_writes_a_quantized_model(files, capsys):
    d, x, y = files
    rc = main(["qat", str(d / "q"), "--float", str(d / "float"), "--data", str(d / "x.npy"),
               "--labels", str(d / "y.npy"), "--val-split", "0.25", "--epochs", "2", "--lr",
               "0.01", "--seed", "3", "--lr-schedule", "cosine", "-o", str(d / "out")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "validation accuracy (bit-exact)" in out and "epoch 1:" in out
    g = Graph.load(d / "out")
    assert g.meta["qat"]["seed"] == 3 and g.quant.scheme == "q7"
    assert g.meta["qat"]["lr_schedule"] == "cosine"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert predict(g, x).shape == (120,)


def test_qat_command_errors_are_clean(files, capsys):
    d, *_ = files
    base = ["qat", str(d / "q"), "--float", str(d / "float"), "--data", str(d / "x.npy"),
            "--labels", str(d / "y.npy"), "-o", str(d / "out")]
    assert main(base + ["--val-data", str(d / "x.npy")]) == 2
    assert "--val-data and --val-labels go together" in capsys.readouterr().err
    assert main(base + ["--val-split", "1.5"]) == 2
    assert "--val-split must be in [0, 1)" in capsys.readouterr().err
    assert main(["qat", str(d / "float"), "--float", str(d / "float"), "--data",
                 str(d / "x.npy"), "--labels", str(d / "y.npy"), "-o", str(d / "o2")]) == 2
    assert "float model, not a quantized one" in capsys.readouterr().err


def test_qat_command_keeps_the_logit_offset_a_model_records(files, capsys):
    d, x, y = files
    q = Graph.load(d / "q")
    q.meta = dict(q.meta, logit_offset=[0.0, 1.5, 0.0])       # as shift_unknown_prior records it
    q.save(d / "q_off")
    base = ["qat", "--float", str(d / "float"), "--data", str(d / "x.npy"), "--labels",
            str(d / "y.npy"), "--val-split", "0.25", "--epochs", "1", "--seed", "3"]
    assert main([base[0], str(d / "q_off")] + base[1:] + ["-o", str(d / "out")]) == 0
    assert "logit offset kept" in capsys.readouterr().out
    out = Graph.load(d / "out")
    assert out.meta["logit_offset"] == out.meta["qat"]["logit_offset"] == [0.0, 1.5, 0.0]
    q.meta = dict(q.meta, logit_offset=[0.0, "x", 0.0])       # a model file is untrusted input
    q.save(d / "q_bad")
    assert main([base[0], str(d / "q_bad")] + base[1:] + ["-o", str(d / "out2")]) == 2
    err = capsys.readouterr().err
    assert "qgraph.meta's logit_offset" in err and err.count("\n") == 1
    assert not (d / "out2").exists()
