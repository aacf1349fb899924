"""The hostile-name model of issue 11 item 1 through the CLI: calibrate, quantize, codegen,
`parity --standin` (which compiles and loads the C) and `kws --standin`.

The payload closes the C comment a name is written into and declares a constructor that runs
`touch MARKER`. The issue allows either valid C or a named error (exit 2); qsim keeps such names
as escaped text in comments, so every command succeeds, and MARKER must never exist.
"""
import shutil
import wave

import numpy as np
import pytest

from qsim.cli import main
from qsim.importers.spec import Sequential

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")]


def payload(marker):
    return ('in */ int system(const char *); __attribute__((constructor)) static void p(void)'
            f'{{(void)system("touch {marker}");}} /* ')


def _rename(g, text, which="all"):
    """The graph name ("graph"), the input tensor name ("input") or those and every node name
    ("all", + a counter: node names stay unique) become `text`."""
    if which in ("graph", "all"):
        g.name = text
    if which == "all":
        for i, node in enumerate(g.nodes):
            node.name = f"{text}{i}"
    if which == "graph":
        return g
    old = g.inputs[0]
    t = g.tensors.pop(old)
    t.name = text
    g.tensors[text] = t
    g.inputs = [text]
    for node in g.nodes:
        node.inputs = [text if x == old else x for x in node.inputs]
    return g


def _cli(*args):
    return main([str(a) for a in args])


@pytest.mark.parametrize("kind,which", [("onnx", "input"), ("onnx", "graph"), ("folder", "all")])
def test_hostile_model_through_the_cli(tmp_path, kind, which):
    from qsim.exporters import export_onnx
    marker = tmp_path / "x"
    g = Sequential((6, 6, 4), name="t").conv(4, 3, pad=1).relu().maxpool(2).fc(8).relu().fc(3) \
        .softmax().build(seed=1)
    _rename(g, payload(marker), which)
    model = export_onnx(g, tmp_path / "m.onnx") if kind == "onnx" else (g.save(tmp_path / "m"),
                                                                        tmp_path / "m")[1]
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(16, 6, 6, 4)).astype(np.float32))
    steps = [("calibrate", model, "--data", tmp_path / "x.npy", "-o", tmp_path / "cal.json"),
             ("quantize", model, "--calib", tmp_path / "cal.json", "--scheme", "q7", "--path", "ref",
              "-o", tmp_path / "q"),
             ("codegen", tmp_path / "q", "-o", tmp_path / "c"),
             ("parity", tmp_path / "q", "--standin", "--inputs", "2")]
    for step in steps:
        rc = _cli(*step)
        assert rc == 0, step[0]          # qsim keeps the name as escaped text: nothing to refuse
        assert not marker.exists(), f"{step[0]} ran the payload"
    text = "".join(p.read_text() for p in (tmp_path / "c").iterdir())
    assert "*/ int system" not in text and "system(" in text     # kept, escaped, in comments


def test_hostile_kws_model(tmp_path):
    from qsim.calibrate import calibrate
    from qsim.importers.spec import KWS_SPEC
    from qsim.kws.flow import KwsModel
    from qsim.quantize import quantize
    marker = tmp_path / "x"
    g = Sequential.from_dict(KWS_SPEC).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (16,) + tuple(KWS_SPEC["input_shape"])).astype(np.float32)
    q = quantize(g, calibrate(g, x), scheme="q7", version="5.9.0", path="ref")
    labels = tuple(f"w{i}" for i in range(g.tensors[g.outputs[0]].shape[-1]))
    _rename(g, payload(marker))
    _rename(q, payload(marker))
    KwsModel(g, {"q7": q}, labels).save(tmp_path / "model")
    with wave.open(str(tmp_path / "a.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.random.default_rng(1).normal(0, 2000, 16000)).astype(np.int16).tobytes())
    rc = _cli("kws", tmp_path / "a.wav", "--model", tmp_path / "model", "--standin")
    assert rc == 0 and not marker.exists()
