"""qsim diverge: a "device" dump made by simulating another build (release, path, a shift off by
one, weights in another layout) is traced to the right layer and the right hypothesis; the
generated C's -DQSIM_TAP_DUMP hook writes exactly the dump format."""
import importlib
import shutil
import subprocess
import warnings
from dataclasses import replace

import numpy as np
import pytest

from qsim.cli import main
from qsim.diverge import diverge, format_text_dump, read_dump, record_sizes, simulated_records
from qsim.errors import DataFileError

from ._nets import SPECS, data, quantized


def _dump(tmp_path, graph, x, binary=False):
    """A device's dump, made by simulating `graph` (which may carry the device's own mistakes: a
    shift that does not match the formats, which qsim.validate rightly refuses in a model file)."""
    sim = importlib.import_module("qsim.simulate")     # the module (qsim.simulate is the function)
    check = sim.validate_quantized
    sim.validate_quantized = lambda g, who=None: g
    try:
        recs = simulated_records(graph, x)
    finally:
        sim.validate_quantized = check
    p = tmp_path / ("dump.bin" if binary else "dump.txt")
    if binary:
        p.write_bytes(b"".join(r.astype(np.int8 if graph.tensors[n.output].qformat.bits == 8
                                        else "<i2").tobytes() for r, n in zip(recs, graph.nodes)))
    else:
        p.write_text(format_text_dump(recs))
    return p


def _run(tmp_path, g, device_graph, x, binary=False):
    p = _dump(tmp_path, device_graph, x, binary)
    return diverge(g, x, read_dump(p, g))


def test_same_build_agrees(tmp_path):
    g = quantized("ds_cnn", "q7", "dsp", "5.9.0")
    x = data(SPECS["ds_cnn"], 1)[0]
    for binary in (False, True):
        d = _run(tmp_path, g, g, x, binary)
        assert d.layer is None and d.compared == len(g.nodes)


def test_wrong_path_found_at_the_pool(tmp_path):
    g = quantized("mixed", "q7", "dsp", "5.9.0")     # its pool runs on arm_avepool_q7_HWC
    dev = g.copy()
    dev.quant.path = "ref"
    x = data(SPECS["mixed"], 1)[0]
    d = _run(tmp_path, g, dev, x, binary=True)
    assert d.node == "avgpool1" and d.kernel == "arm_avepool_q7_HWC"
    assert any("path ref" in h for h in d.reproduced_by), d.lines()
    assert d.simulated != d.device and d.mismatches > 0
    assert any("§3.2" in s for s in d.suspects)


def test_wrong_release_found_at_the_softmax(tmp_path):
    """Logits spanning more than 122 steps: 5.7.0's DSP softmax differs from 5.9.0's."""
    g = quantized("ds_cnn", "q7", "dsp", "5.9.0")
    fc = [n for n in g.nodes if n.op == "fc"][-1]
    fine = min(fc.out_shift, 4)                   # finer logits: a wide span (a valid model:
    fc.out_shift -= fine                          # the output format moves with the shift)
    t = g.tensors[fc.output]
    t.qformat = replace(t.qformat, frac_bits=t.qformat.frac_bits + fine)
    dev = g.copy()
    dev.quant.version = "5.7.0"
    xs = data(SPECS["ds_cnn"], 16, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x in xs:
            d = _run(tmp_path, g, dev, x)
            if d.layer is not None:
                break
    assert d.kernel == "arm_softmax_q7", d.lines()
    assert any("CMSIS 5.7.0" in h for h in d.reproduced_by), d.lines()
    assert any("§4.2" in s for s in d.suspects)


def test_shift_off_by_one(tmp_path):
    g = quantized("kws", "q7", "ref", "5.9.0")
    dev = g.copy()
    node = [n for n in dev.nodes if n.op == "fc"][0]
    node.out_shift += 1
    d = _run(tmp_path, g, dev, data(SPECS["kws"], 1)[0])
    assert d.node == node.name
    assert d.reproduced_by == [f"out_shift off by one on the device ({node.out_shift} instead of "
                               f"{node.out_shift - 1})"], d.lines()


def test_torch_layout_weights(tmp_path):
    g = quantized("mixed", "q7", "ref", "5.9.0")
    dev = g.copy()
    conv = dev.nodes[0]
    w = conv.params["weight"]                   # OHWI; the device got the OIHW bytes
    conv.params["weight"] = np.ascontiguousarray(w.transpose(0, 3, 1, 2)).reshape(w.shape)
    d = _run(tmp_path, g, dev, data(SPECS["mixed"], 1)[0])
    assert d.node == conv.name
    assert any("PyTorch" in h for h in d.reproduced_by), d.lines()


def test_fc_not_interleaved(tmp_path):
    from qsim.kernels import DEINTERLEAVE
    from qsim.lower import kernel_call
    g = quantized("kws", "q7", "ref", "5.9.0")
    dev = g.copy()
    node = [n for n in dev.nodes if n.op == "fc"][0]
    assert node.kernel.endswith("_opt")
    call = kernel_call(dev, node)
    rows, dim = call.args["num_of_rows"], call.args["dim_vec"]
    # the device got the plain row-major array: as _opt reads it, the logical matrix is its deinterleave
    plain = node.weight_q.quantize(node.params["weight"]).reshape(-1)
    logical = np.asarray(DEINTERLEAVE[node.kernel](plain, rows, dim)).reshape(rows, dim)
    node.params["weight"] = node.weight_q.dequantize(logical)
    d = _run(tmp_path, g, dev, data(SPECS["kws"], 1)[0])
    assert d.node == node.name
    assert any("not interleaved" in h for h in d.reproduced_by), d.lines()


def test_malformed_dumps(tmp_path):
    g = quantized("kws", "q7", "ref", "5.9.0")
    p = tmp_path / "d.txt"
    p.write_text("qsim_tap 0 {1, 2, 3}\n")
    with pytest.raises(DataFileError, match="record 0 has 3 values"):
        read_dump(p, g)
    p.write_bytes(b"\x01\x02\x03")
    with pytest.raises(DataFileError, match="bytes left"):
        read_dump(p, g, "binary")
    p.write_text("{" + "1, " * 3 + "zz}")
    with pytest.raises(DataFileError, match="not an integer"):
        read_dump(p, g, "text")
    size = int(np.prod(record_sizes(g)[0][0]))       # a value the q7_t output cannot hold
    for v in ("128", "-129", "99999999999999999999999"):
        p.write_text("qsim_tap 0 {" + "0, " * (size - 1) + v + "}\n")
        with pytest.raises(DataFileError, match="does not fit the layer's 8-bit output"):
            read_dump(p, g)
    p.write_text("qsim_tap 0 {" + "0, " * (size - 1) + "-128}\n")
    assert read_dump(p, g)[0].min() == -128


def test_cli(tmp_path, capsys):
    g = quantized("kws", "q7", "ref", "5.9.0")
    g.save(tmp_path / "m")
    x = data(SPECS["kws"], 1)
    np.save(tmp_path / "x.npy", x)
    dev = g.copy()
    dev.quant.version = "5.7.0"
    node = [n for n in dev.nodes if n.op == "fc"][1]
    node.bias_shift += 1
    p = _dump(tmp_path, dev, x[0])
    assert main(["diverge", str(tmp_path / "m"), "--input", str(tmp_path / "x.npy"), "--dump", str(p)]) == 1
    out = capsys.readouterr().out
    assert f"layer {g.nodes.index(g.node(node.name))} '{node.name}'" in out
    assert "bias_shift off by one" in out
    p = _dump(tmp_path, g, x[0])
    assert main(["diverge", str(tmp_path / "m"), "--input", str(tmp_path / "x.npy"), "--dump", str(p)]) == 0
    assert "agree" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
@pytest.mark.parametrize("version", ["5.7.0", "5.9.0"])
def test_generated_tap_dump_is_the_format(tmp_path, version):
    """Build the generated C with -DQSIM_TAP_DUMP against the stand-in, run it, read what it
    printed with read_dump: every layer agrees with the simulator, and a changed shift in the
    generated weights is found."""
    from cmsis_nn.standin import defines, include_dirs, source_files
    from codegen.generate import render
    from qsim.simulate import input_ints
    g = quantized("mixed", "q7", "ref", version)
    gen = render(g)
    for fname, text in gen.files.items():
        (tmp_path / fname).write_text(text)
    x = data(SPECS["mixed"], 1, seed=7)
    xi = input_ints(g, x)[0].reshape(-1)
    (tmp_path / "main.c").write_text(
        f'#include "{gen.name}.h"\nstatic const q7_t x[] = {{{", ".join(str(int(v)) for v in xi)}}};\n'
        f"int main(void) {{ static q7_t y[{gen.name.upper()}_OUTPUT_SIZE]; return {gen.name}_run(x, y); }}\n")
    exe = tmp_path / "net"
    cmd = (["gcc", "-std=c99", "-O1", "-Wall", "-Werror", "-fwrapv", "-DQSIM_TAP_DUMP", "-o", str(exe),
            str(tmp_path / "main.c"), str(tmp_path / f"{gen.name}.c"), *map(str, source_files()),
            f"-I{tmp_path}"] + [f"-I{d}" for d in include_dirs()] + [f"-D{d}" for d in defines(version)]
           + ["-lm"])
    subprocess.run(cmd, check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    (tmp_path / "dump.txt").write_text(out)
    records = read_dump(tmp_path / "dump.txt", g)
    assert len(records) == len(g.nodes)
    assert diverge(g, x[0], records).layer is None
