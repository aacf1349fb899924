"""`qsim import-c` end to end: a qsim-quantized net exported the ML-KWS way (`qsim codegen
--weights-style mlkws`) and imported back gives the same integers layer by layer, and the imported
model passes parity (stand-in always; real CMSIS-NN with CMSIS_PATH; Cortex-M4 under QEMU)."""
import json
import shutil
import warnings

import numpy as np
import pytest

from harness.parity import random_inputs, run_network_parity
from qsim.cli import main
from qsim.graph import Graph
from qsim.simulate import simulate

from ._nets import SPECS, data, quantized

HAS_GCC = shutil.which("gcc") is not None


def _export(q, tmp_path, name="m"):
    q.save(tmp_path / f"{name}_q")
    assert main(["codegen", str(tmp_path / f"{name}_q"), "-o", str(tmp_path / f"{name}_c"),
                 "--weights-style", "mlkws"]) == 0
    c = tmp_path / f"{name}_c"
    return c / f"{q.name}_mlkws_weights.h", c / f"{q.name}_mlkws_spec.json"


def _same(a, b, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ta, tb = simulate(a, x, trace=True), simulate(b, x, trace=True)
    for n1, n2 in zip(a.nodes, b.nodes):
        assert np.array_equal(ta[n1.output], tb[n2.output]), n1.name
        assert a.output_q(n1) == b.output_q(n2), n1.name
        assert (n1.kernel, n1.bias_shift, n1.out_shift) == (n2.kernel, n2.bias_shift, n2.out_shift)


@pytest.mark.parametrize("name,scheme,path,version", [
    ("kws", "q7", "ref", "5.7.0"), ("ds_cnn", "q7", "dsp", "5.9.0"), ("mixed", "q7", "dsp", "5.7.0"),
    ("small", "q15", "ref", "5.9.0"), ("small", "q7q15", "ref", "5.9.0"),
    ("comp", "q7", "dsp", "5.9.0"), ("comp", "q15", "ref", "5.7.0")])
def test_round_trip_identical_integers(tmp_path, capsys, name, scheme, path, version):
    q = quantized(name, scheme, path, version)
    header, spec = _export(q, tmp_path)
    text = header.read_text()
    assert "#define" in text and "_OUT_RSHIFT" in text and "_BIAS_LSHIFT" in text
    assert main(["import-c", str(header), "--spec", str(spec), "-o", str(tmp_path / "imp")]) == 0
    assert "wrote" in capsys.readouterr().out
    b = Graph.load(tmp_path / "imp")
    assert (b.quant.path, b.quant.version, b.quant.scheme) == (path, version, scheme)
    _same(q, b, data(SPECS[name], 8, seed=5))


def test_toml_spec_and_hand_edit(tmp_path):
    """Export, edit one shift by hand, import from a TOML spec: the edit is what runs."""
    tomllib = pytest.importorskip("tomllib")
    q = quantized("kws", "q7", "ref", "5.9.0")
    header, spec = _export(q, tmp_path)
    doc = json.loads(spec.read_text())
    fc = next(l for l in doc["layers"] if l.get("kernel", "").startswith("arm_fully"))
    macro = fc["out_shift"]
    text = header.read_text()
    old = next(l for l in text.splitlines() if l.startswith(f"#define {macro} "))
    shift = int(old.split()[-1])
    header.write_text(text.replace(old, f"#define {macro} {shift + 1}"))
    toml = tmp_path / "spec.toml"
    toml.write_text(_to_toml(doc))
    assert tomllib.loads(toml.read_text())["layers"][0]["name"] == doc["layers"][0]["name"]
    assert main(["import-c", str(header), "--spec", str(toml), "-o", str(tmp_path / "imp")]) == 0
    b = Graph.load(tmp_path / "imp")
    assert b.node(fc["name"]).out_shift == shift + 1


def _to_toml(doc):
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return str(v)
    lines = [f"{k} = {val(v)}" for k, v in doc.items() if not isinstance(v, (dict, list))
             or (isinstance(v, list) and k != "layers")]
    lines.append("[input]")
    lines += [f"{k} = {val(v)}" for k, v in doc["input"].items()]
    for layer in doc["layers"]:
        lines.append("[[layers]]")
        lines += [f"{k} = {val(v)}" for k, v in layer.items()]
    return "\n".join(lines) + "\n"


def test_errors(tmp_path, capsys):
    q = quantized("kws", "q7", "ref", "5.9.0")
    header, spec = _export(q, tmp_path)
    doc = json.loads(spec.read_text())
    conv = doc["layers"][0]
    text = header.read_text()
    # drop the last element of the first conv's weight array
    start = text.index(f"#define {conv['weight']} {{")
    end = text.index("}", start)
    body = text[start:end]
    cut = body.rsplit(",", 1)[0]
    header.write_text(text[:start] + cut + text[end:])
    n = q.node(conv["name"])
    size = n.params["weight"].size
    assert main(["import-c", str(header), "--spec", str(spec), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qsim import-c: error: ") and err.count("\n") == 1
    assert f"layer '{conv['name']}'" in err and f"expected {size}" in err and conv["weight"] in err
    assert not (tmp_path / "x").exists()
    # an unknown array name, a bad spec key, a missing spec
    doc2 = dict(doc, layers=[dict(conv, weight="NOPE")] + doc["layers"][1:])
    (tmp_path / "s2.json").write_text(json.dumps(doc2))
    assert main(["import-c", str(header), "--spec", str(tmp_path / "s2.json"), "-o", str(tmp_path / "x")]) == 2
    assert "no array or #define named 'NOPE'" in capsys.readouterr().err
    (tmp_path / "s3.json").write_text(json.dumps(dict(doc, bogus=1)))
    assert main(["import-c", str(header), "--spec", str(tmp_path / "s3.json"), "-o", str(tmp_path / "x")]) == 2
    assert "unknown keys ['bogus']" in capsys.readouterr().err
    doc4 = dict(doc, layers=[dict(conv, weight="x; import os")] + doc["layers"][1:])
    (tmp_path / "s4.json").write_text(json.dumps(doc4))
    assert main(["import-c", str(header), "--spec", str(tmp_path / "s4.json"), "-o", str(tmp_path / "x")]) == 2
    assert "must name an array" in capsys.readouterr().err


def _imported(tmp_path, name, scheme, path, version):
    q = quantized(name, scheme, path, version)
    header, spec = _export(q, tmp_path)
    assert main(["import-c", str(header), "--spec", str(spec), "-o", str(tmp_path / "imp")]) == 0
    return Graph.load(tmp_path / "imp")


@pytest.mark.skipif(not HAS_GCC, reason="gcc is not installed")
@pytest.mark.parametrize("name,scheme", [("kws", "q7"), ("ds_cnn", "q7"), ("small", "q15")])
def test_parity_host_standin(tmp_path, name, scheme):
    b = _imported(tmp_path, name, scheme, "ref", "5.9.0")
    report = run_network_parity(b, random_inputs(b, 6, seed=1), cmsis=None)
    assert report.mismatches == 0, "\n".join(report.lines())


@pytest.mark.cmsis
@pytest.mark.parametrize("name,path", [("kws", "ref"), ("ds_cnn", "ref"), ("ds_cnn", "dsp"),
                                       ("mixed", "dsp")])
def test_parity_real_cmsis(tmp_path, cmsis_path, name, path):
    from cmsis_nn.locate import find_cmsis
    checkout = find_cmsis(cmsis_path)
    b = _imported(tmp_path, name, "q7", path, checkout.version)
    report = run_network_parity(b, random_inputs(b, 20, seed=3), cmsis=checkout)
    assert report.library.startswith(f"CMSIS_5 {checkout.version}")
    assert report.mismatches == 0, "\n".join(report.lines())


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.skipif(any(shutil.which(t) is None for t in ("arm-none-eabi-gcc", "qemu-system-arm")),
                    reason="needs gcc-arm-none-eabi and qemu-system-arm")
def test_parity_cortex_m4(tmp_path):
    import os
    cmsis = None
    if os.environ.get("CMSIS_PATH"):
        from cmsis_nn.locate import find_cmsis
        cmsis = find_cmsis(os.environ["CMSIS_PATH"])
    version = cmsis.version if cmsis else "5.9.0"
    b = _imported(tmp_path, "ds_cnn", "q7", "dsp" if cmsis else "ref", version)
    report = run_network_parity(b, random_inputs(b, 3, seed=1), target="cortex-m4", cmsis=cmsis)
    assert report.mismatches == 0, "\n".join(report.lines())


@pytest.mark.slow
def test_example_script(tmp_path, capsys):
    """examples/import_c.py end to end (one epoch): identical integers, diverge finds the edit."""
    from examples.import_c import main as example
    same, d = example(["--epochs", "1", "--out", str(tmp_path)])
    assert same
    assert d.kernel.startswith("arm_convolve") and d.reproduced_by[0].startswith("out_shift off by one")
    assert "0 mismatches" in capsys.readouterr().out


def test_kws_settings_in_the_model_folder(tmp_path, capsys):
    q = quantized("kws", "q7", "ref", "5.9.0")
    header, spec = _export(q, tmp_path)
    doc = json.loads(spec.read_text())
    n_out = q.tensors[q.outputs[0]].size
    labels = [f"word{i}" for i in range(n_out)]
    fe = {"name": "float", "frame_len_ms": 40, "frame_shift_ms": 40, "num_frames": 25,
          "num_mfcc": 10, "dec_bits": 2, "window": "hann"}
    (tmp_path / "s.json").write_text(json.dumps(dict(doc, labels=labels, frontend=fe)))
    assert main(["import-c", str(header), "--spec", str(tmp_path / "s.json"), "-o", str(tmp_path / "m")]) == 0
    assert Graph.load(tmp_path / "m").meta["kws"] == {"labels": labels, "frontend": fe}
    for bad, msg in ((dict(doc, labels=labels[:-1]), "labels for"),
                     (dict(doc, frontend=dict(fe, name="magic")), "frontend"),
                     (dict(doc, frontend=dict(fe, hop=3)), "unknown keys ['hop']")):
        (tmp_path / "b.json").write_text(json.dumps(bad))
        assert main(["import-c", str(header), "--spec", str(tmp_path / "b.json"), "-o",
                     str(tmp_path / "n")]) == 2
        assert msg in capsys.readouterr().err


def test_round_trip_mlkws_avepool(tmp_path, capsys):
    """ML-KWS's own pool (rounding toward zero, out_lshift) survives export and import: the spec
    names qsim_avepool_q7_HWC_nonsquare with its arguments."""
    from qsim.intnet import build
    from .test_intnet import _mlkws_net
    m = build("mk", {"shape": [49, 10, 1], "bits": 8, "frac_bits": 1}, _mlkws_net(2))
    header, spec = _export(m, tmp_path)
    pool = json.loads(spec.read_text())["layers"][-1]
    assert (pool["kernel"], pool["rounding"], pool["count_include_pad"], pool["out_lshift"]) == \
        ("qsim_avepool_q7_HWC_nonsquare", 1, 0, 2)
    assert main(["import-c", str(header), "--spec", str(spec), "-o", str(tmp_path / "imp")]) == 0
    b = Graph.load(tmp_path / "imp")
    assert b.nodes[-1].attrs.get("rounding") == 1
    x = np.random.default_rng(1).integers(-128, 128, (4, 49, 10, 1)).astype(np.int8)
    _same(m, b, x)
