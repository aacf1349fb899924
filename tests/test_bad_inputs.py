"""The bad-input table: one row per user mistake (CLI arguments or an API call), each a named
error (exit status 2 on the CLI, one `qsim CMD: error:` line with the expected text), nothing
written or left behind. Issue 11 items 5-8 and their neighbours; property-based tests at the end.

Rows run against one module-wide set of files (a tiny float model, its calibration, its quantized
model and edited copies of both); before and after each row the whole folder is listed with sizes
and modification times, which must not change. Nothing here compiles C.
"""
import copy
import json
import math
import shutil
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qsim import errors as E
from qsim.calibrate import Calibration, calibrate
from qsim.cli import build_parser, main
from qsim.graph import Graph
from qsim.importers.spec import Sequential
from qsim.quantize import quantize
from qsim.simulate import simulate

ONNX_DIR = Path(__file__).parent / "data" / "onnx"
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@dataclass
class Row:
    name: str
    call: object            # tuple of CLI arguments, or a function of the files folder
    error: type             # the named error (a QsimError subclass), or SystemExit for argparse
    text: str               # fragment of the message


def _edit_json(src, dst, edit):
    """Copy the saved graph folder src to dst and apply edit(doc) to its model.json."""
    shutil.copytree(src, dst)
    doc = json.loads((dst / "model.json").read_text())
    edit(doc)
    (dst / "model.json").write_text(json.dumps(doc))
    return dst


def _node(doc, op):
    return next(n for n in doc["nodes"] if n["op"] == op)


def _set(path_fn, value):
    def edit(doc):
        obj, key = path_fn(doc)
        obj[key] = value
    return edit


def _wav(path, samples, rate=16000, width=2, channels=1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples).astype("<i2").tobytes())


def _float_wav(path, samples, rate=16000):
    """A 32-bit IEEE float WAV (format code 3) written by hand."""
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + \
        struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def _sparse_wav(path, gib=2):
    """A WAV whose header (and sparse file) holds `gib` GiB of 16-bit samples."""
    n = gib * 2**30
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    head = b"RIFF" + struct.pack("<I", 36 + n) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt \
        + b"data" + struct.pack("<I", n)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + n)


def _onnx(tmp_path, op="Gemm", weight=None):
    """x (N, 4) -> op -> y, saved to tmp_path/m.onnx."""
    w = np.ones((3, 4), np.float32) if weight is None else weight
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.zeros(3, np.float32), "b")]
    node = (helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1) if op == "Gemm"
            else helper.make_node(op, ["x"], ["y"]))
    graph = helper.make_graph([node], "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                          ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "m.onnx")
    return tmp_path / "m.onnx"


def _npy_claiming(path, shape, dtype="<f4", payload=100):
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False,
                                                 "shape": shape})
        f.write(b"\0" * payload)


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    g = Sequential((6, 6, 4), name="tiny").conv(4, 3, pad=1).relu().maxpool(2).fc(8).relu() \
        .fc(3).softmax().build(seed=1)
    g.save(d / "tiny")
    x = rng.normal(size=(24, 6, 6, 4)).astype(np.float32)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", rng.integers(0, 3, 24))
    np.save(d / "y_bad.npy", np.full(24, 7))
    np.save(d / "x_nan.npy", np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x))
    _npy_claiming(d / "x_huge.npy", (100_000_000, 6, 6, 4))
    _npy_claiming(d / "x_cut.npy", (24, 6, 6, 4))
    _npy_claiming(d / "x_sparse.npy", (100_000_000, 6, 6, 4), payload=0)
    with open(d / "x_sparse.npy", "r+b") as f:         # 57.6 GB, all holes: nothing on disk
        f.truncate(f.seek(0, 2) + 100_000_000 * 6 * 6 * 4 * 4)
    (d / "x_text.npy").write_text("not numpy")
    np.save(d / "x_nchw.npy", x.transpose(0, 3, 1, 2))
    np.save(d / "x_empty.npy", x[:0])
    np.save(d / "x_obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(d / "y_short.npy", np.zeros(3, np.int64))
    (d / "text.onnx").write_text("this is not a model")
    (d / "cut.onnx").write_bytes((ONNX_DIR / "kws_small.onnx").read_bytes()[:5000])
    nan_w = np.ones((3, 4), np.float32)
    nan_w[1, 2] = np.nan
    (d / "nan_onnx").mkdir()
    (d / "erf").mkdir()
    _onnx(d / "nan_onnx", weight=nan_w)
    _onnx(d / "erf", op="Erf")
    inf = Sequential((4,), name="n").fc(3).build(seed=0)
    inf.nodes[0].params["weight"][0, 0] = np.inf
    inf.save(d / "inf_graph")
    sig = Sequential((4, 4, 2), name="sig").conv(4, 3, pad=1).relu().fc(6).sigmoid().fc(3) \
        .build(seed=0)
    sig.save(d / "sig")
    np.save(d / "x_sig_big.npy", 1e4 * np.random.default_rng(1).normal(size=(8, 4, 4, 2)))
    assert main(["calibrate", str(d / "sig"), "--data", str(d / "x_sig_big.npy"),
                 "-o", str(d / "sig.json")]) == 0
    assert main(["calibrate", str(d / "tiny"), "--data", str(d / "x.npy"), "-o",
                 str(d / "c.json")]) == 0
    assert main(["quantize", str(d / "tiny"), "--calib", str(d / "c.json"), "-o",
                 str(d / "q")]) == 0
    # edited calibrations
    cal = json.loads((d / "c.json").read_text())
    t0 = next(iter(cal["tensors"]))
    for name, edit in {
            "cal_big": lambda c: c["tensors"][t0]["minmax"].update(hi="big"),
            "cal_null": lambda c: c["tensors"].update({t0: None}),
            "cal_nan": lambda c: c["tensors"][t0]["minmax"].update(lo=float("nan")),
            "cal_1e300": lambda c: [s.update(hi=1e300) for s in (
                c["tensors"][t0]["minmax"], c["tensors"][t0]["log2hist"]["minmax"])],
            "cal_type": lambda c: c["tensors"][t0]["minmax"].update(type="median"),
            "cal_count": lambda c: c["tensors"][t0]["minmax"].update(count=-3),
            "cal_samples": lambda c: c.update(num_samples="many"),
            "cal_notensors": lambda c: c.update(tensors=[]),
            "cal_bins": lambda c: c["tensors"][t0]["log2hist"].update(counts=[1, 2]),
            "cal_pct": lambda c: c["tensors"][t0]["percentile(99.99)"].update(p=20)}.items():
        c = copy.deepcopy(cal)
        edit(c)
        (d / f"{name}.json").write_text(json.dumps(c))
    (d / "cal_text.json").write_text("{not json")
    # edited quantized models
    q = d / "q"
    conv = lambda doc: _node(doc, "conv")          # noqa: E731
    fc = lambda doc: _node(doc, "fc")              # noqa: E731
    edits = {
        "q_evil": _set(lambda doc: (conv(doc), "kernel"), "arm_evil_q7"),
        "q_kernel_op": _set(lambda doc: (conv(doc), "kernel"), "arm_relu_q7"),
        "q_kernel_q15": _set(lambda doc: (conv(doc), "kernel"), "arm_convolve_HWC_q15_basic"),
        "q_kernel_fast": _set(lambda doc: (conv(doc), "kernel"), "arm_convolve_HWC_q7_RGB"),
        "q_kernel_num": _set(lambda doc: (conv(doc), "kernel"), 7),
        "q_shift_str": _set(lambda doc: (conv(doc), "out_shift"), "7"),
        "q_shift_float": _set(lambda doc: (conv(doc), "out_shift"), 2.5),
        "q_shift_40": _set(lambda doc: (conv(doc), "out_shift"), 40),
        "q_shift_neg": _set(lambda doc: (fc(doc), "bias_shift"), -1),
        "q_shift_null": _set(lambda doc: (fc(doc), "out_shift"), None),
        "q_shift_bool": _set(lambda doc: (fc(doc), "out_shift"), True),
        "q_shift_off": lambda doc: fc(doc).update(out_shift=(fc(doc)["out_shift"] + 1) % 31),
        "q_frac_1000": _set(lambda doc: (doc["tensors"][0], "qformat"),
                            {"bits": 8, "frac_bits": 1000}),
        "q_frac_m990": _set(lambda doc: (doc["tensors"][0], "qformat"),
                            {"bits": 8, "frac_bits": -990}),
        "q_frac_float": _set(lambda doc: (doc["tensors"][0], "qformat"),
                             {"bits": 8, "frac_bits": 2.5}),
        "q_bits_12": _set(lambda doc: (doc["tensors"][0], "qformat"), {"bits": 12, "frac_bits": 4}),
        "q_bits_16": _set(lambda doc: (doc["tensors"][0], "qformat"), {"bits": 16, "frac_bits": 4}),
        "q_wq_bits": _set(lambda doc: (conv(doc), "weight_q"), {"bits": 16, "frac_bits": 7}),
        "q_wq_null": _set(lambda doc: (conv(doc), "weight_q"), None),
        "q_scheme": _set(lambda doc: (doc["quant"], "scheme"), "q3"),
        "q_path": _set(lambda doc: (doc["quant"], "path"), "gpu"),
        "q_version": _set(lambda doc: (doc["quant"], "version"), "6.0.0"),
        "q_truncate": _set(lambda doc: (doc["quant"], "truncate"), "yes"),
        "q_name": _set(lambda doc: (doc, "name"), "n" * 300),
        "q_name_num": _set(lambda doc: (doc, "name"), 42),
        "q_no_outputs": _set(lambda doc: (doc, "outputs"), []),
        "q_frac_huge": _set(lambda doc: (conv(doc)["weight_q"], "frac_bits"), -10 ** 30),
        "q_escape_name": _set(lambda doc: (doc, "name"), "net\x1b[2J"),
        "q_pad": _set(lambda doc: (conv(doc), "pad_ch_in"), 7),
        "q_shape": _set(lambda doc: (doc["tensors"][0], "shape"), [6, 6, "4"]),
        "q_shape0": _set(lambda doc: (doc["tensors"][0], "shape"), [6, 0, 4]),
        "q_attrs": _set(lambda doc: (conv(doc), "attrs"), [1, 2]),
        "q_ksize": _set(lambda doc: (conv(doc)["attrs"], "kernel_shape"), [5, 5]),
        "q_quant_list": _set(lambda doc: (doc, "quant"), ["q7"]),
        "q_tensor_null": _set(lambda doc: (doc["tensors"], 0), None),
        "q_op": _set(lambda doc: (conv(doc), "op"), "erf"),
    }
    for name, edit in edits.items():
        _edit_json(q, d / name, edit)
    # models saved through the API with what a file edit could not easily give
    qg = Graph.load(q)
    big_w = qg.copy()
    big_w.node(next(n.name for n in big_w.nodes if n.op == "fc")).params["weight"] *= 1e3
    big_w.save(d / "q_bigw")
    long_node = qg.copy()
    long_node.nodes[0].name = "L" * 300
    from qsim import graph_io               # as another tool could write it (save refuses it)
    graph_io.write(*long_node.to_dict(), d / "q_longnode")
    huge = Graph("huge")
    huge.add_input("x", (40000, 40000, 1))
    from qsim.graph import Node
    from qsim.fixedpoint import QFormat
    huge.add_node(Node("r", "relu", ["x"], ["y"]))
    huge.outputs = ["y"]
    huge.quant.scheme = "q7"
    for t in huge.tensors.values():
        t.qformat = QFormat(8, 7)
    huge.nodes[0].kernel = "arm_relu_q7"
    huge.save(d / "q_huge")
    big = Sequential((4,), name="b").fc(3).build(seed=0)
    big.nodes[0].params["weight"][:] = 3e38
    big.save(d / "f_3e38")
    np.save(d / "x4.npy", np.ones((5, 4), np.float32))
    # files in the way and KWS inputs
    (d / "afile").write_text("I am a file")
    (d / "exists").mkdir()
    (d / "exists" / "keep.txt").write_text("mine")
    kws = {"format": "qsim-kws", "labels": ["yes", "no", "up"], "schemes": ["q7"],
           "mfcc": {"sample_rate": 16000}}
    for name, doc in {"kws_nolabels": {k: v for k, v in kws.items() if k != "labels"},
                      "kws_onelabel": dict(kws, labels=["yes"]),
                      "kws_duplabels": dict(kws, labels=["yes", "yes"]),
                      "kws_numlabels": dict(kws, labels=[1, 2]),
                      "kws_escape_label": dict(kws, labels=["yes", "\x1b[2Jno"]),
                      "kws_mfcckey": dict(kws, mfcc={"sample_rate": 16000, "evil": 1}),
                      "kws_mfcctype": dict(kws, mfcc={"hop": "320"}),
                      "kws_mfccneg": dict(kws, mfcc={"hop": -1}),
                      "kws_mfccfft": dict(kws, mfcc={"fft_len": 1000}),
                      "kws_coeffshift": dict(kws, mfcc={"coeff_shift": [1, 2]}),
                      "kws_coeffshift_str": dict(kws, mfcc={"coeff_shift": "1;rm -rf /"}),
                      "kws_scheme": dict(kws, schemes=["q3"]),
                      "kws_window": dict(kws, mfcc={"window": "float"}),
                      "kws_fmax_huge": dict(kws, mfcc={"fmax": 10 ** 30}),
                      "kws_noschemes": {k: v for k, v in kws.items() if k != "schemes"},
                      "kws_emptyschemes": dict(kws, schemes=[]),
                      "kws_dupschemes": dict(kws, schemes=["q7", "q7"]),
                      "kws_list": [1, 2],
                      "kws_nograph": kws}.items():
        (d / name).mkdir()
        (d / name / "kws.json").write_text(json.dumps(doc))
    (d / "kws_badjson").mkdir()
    (d / "kws_badjson" / "kws.json").write_text("{'labels': ")
    _wav(d / "ok.wav", np.zeros(16000))
    _float_wav(d / "nan.wav", np.where(np.arange(16000) == 9, np.nan, 0.1))
    _float_wav(d / "inf.wav", np.where(np.arange(16000) == 9, np.inf, 0.1))
    _sparse_wav(d / "sparse.wav")
    (d / "noise.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    (d / "empty.wav").write_bytes(b"")
    return d


def _api_calibrate_nan(d):
    g = Graph.load(d / "tiny")
    x = np.load(d / "x.npy")
    x[0, 0, 0, 0] = np.nan
    calibrate(g, x)


def _api_quantize(d, cal=None, **kw):
    quantize(Graph.load(d / "tiny"), cal, **kw)


def _api_cal(d):
    return Calibration.from_dict(json.loads((d / "c.json").read_text()))


def _api_simulate(d, n=0, **kw):
    q = Graph.load(d / "q")
    simulate(q, np.load(d / "x.npy")[:n], **kw)


def _api_finetune(d, **kw):
    from qsim.qat import finetune
    args = dict(X=np.load(d / "x.npy"), y=np.load(d / "y.npy"), epochs=1)
    args.update(kw)
    finetune(Graph.load(d / "tiny"), Graph.load(d / "q"), **args)


def _api_simulate_edited(d, edit):
    q = Graph.load(d / "q")
    edit(q)
    simulate(q, np.load(d / "x.npy")[:2])


def _wav_row(name, fname, error, text, **kw):
    from qsim.kws.audio import load_wav
    return Row(name, lambda d: load_wav(d / fname, **kw), error, text)


C, Q, X, O = "c.json", "q", "x.npy", "out"      # file names, resolved against d by _argv
CAL = ("calibrate", "tiny", "--data", X, "-o")
QU = ("quantize", "tiny", "--calib")
EV = ("evaluate", Q, "--float", "tiny", "--data", X)
QAT = ("qat", Q, "--float", "tiny", "--data", X, "--labels", "y.npy", "-o", O)
PAR = ("parity", Q, "--standin")


def _q(name, text, error=E.ModelFormatError, cmd="evaluate"):
    """Rows for an edited quantized model through simulate's CLI entry and codegen's."""
    rows = [Row(f"{name} ({cmd})", (cmd, name, "--float", "tiny", "--data", X)
                if cmd == "evaluate" else (cmd, name, "-o", O), error, text)]
    return rows


ROWS = [
    # -- the original table (README promises): models, data, statistics, outputs -----------------
    Row("not onnx", ("calibrate", "text.onnx", "--data", X, "-o", O), E.ModelFormatError,
        "not an ONNX model"),
    Row("truncated onnx", ("calibrate", "cut.onnx", "--data", X, "-o", O), E.ModelFormatError,
        "truncated"),
    Row("no model", ("calibrate", "nothing.onnx", "--data", X, "-o", O), E.ModelFormatError,
        "no such file"),
    Row("unsupported op", ("calibrate", "erf/m.onnx", "--data", X, "-o", O), E.UnsupportedOpError,
        "unsupported op 'Erf'"),
    Row("nan onnx", ("calibrate", "nan_onnx/m.onnx", "--data", X, "-o", O), E.ModelFormatError,
        "NaN/Inf"),
    Row("inf graph", ("calibrate", "inf_graph", "--data", X, "-o", O), E.ModelFormatError,
        "layer 'fc1' weight holds 1 NaN/Inf"),
    Row("empty set", CAL[:3] + ("x_empty.npy", "-o", O), E.CalibrationError, "is empty"),
    Row("nchw data", CAL[:3] + ("x_nchw.npy", "-o", O), E.ShapeError, "looks like NCHW"),
    Row("pickled data", CAL[:3] + ("x_obj.npy", "-o", O), E.DataFileError, "not a plain .npy"),
    Row("bad stat", CAL + (O, "--stats", "median"), E.CalibrationError, "unknown statistic"),
    Row("format cannot hold", ("quantize", "sig", "--calib", "sig.json", "-o", O),
        E.QuantizationError, "needs frac_bits >= 4"),
    Row("calib of another model", ("quantize", "sig", "--calib", C, "-o", O), E.CalibrationError,
        "made for another model"),
    Row("missing percentile", QU + (C, "--strategy", "percentile", "--percentile", "99", "-o", O),
        E.CalibrationError, "--stats minmax percentile:99"),
    Row("float as qmodel", ("evaluate", "tiny", "--float", "tiny", "--data", X),
        E.ModelFormatError, "is a float model"),
    Row("labels mismatch", EV + ("--labels", "y_short.npy"), E.ShapeError, "expected (24,)"),
    Row("eval shape", ("evaluate", Q, "--float", "tiny", "--data", "x_nchw.npy"), E.ShapeError,
        "HWC, batch first"),
    Row("report dir exists", ("report", Q, "--float", "tiny", "--data", X, "-o", "exists"),
        E.OutputExistsError, "already exists. help: pass --force"),
    Row("calibrate file exists", CAL + (C,), E.OutputExistsError,
        "already exists. help: pass --force"),
    # -- item 5: tracebacks that must be named errors ------------------------------------------
    Row("cal hi big", QU + ("cal_big.json", "-o", O), E.CalibrationError, "not a finite number"),
    Row("cal tensor null", QU + ("cal_null.json", "-o", O), E.CalibrationError,
        "are not an object of statistics"),
    Row("cal lo nan", QU + ("cal_nan.json", "-o", O), E.CalibrationError, "not a finite number"),
    Row("cal unknown type", QU + ("cal_type.json", "-o", O), E.CalibrationError, "no known type"),
    Row("cal negative count", QU + ("cal_count.json", "-o", O), E.CalibrationError,
        "is not a count"),
    Row("cal num_samples", QU + ("cal_samples.json", "-o", O), E.CalibrationError,
        "num_samples="),
    Row("cal tensors list", QU + ("cal_notensors.json", "-o", O), E.CalibrationError,
        "no 'tensors' object"),
    Row("cal histogram bins", QU + ("cal_bins.json", "-o", O), E.CalibrationError,
        "log2hist counts"),
    Row("cal percentile p", QU + ("cal_pct.json", "-o", O), E.CalibrationError, "not in (50, 100]"),
    Row("cal not json", QU + ("cal_text.json", "-o", O), E.CalibrationError,
        "not a qsim calibration file"),
    Row("cal report", ("report", Q, "--float", "tiny", "--data", X, "--calib", "cal_null.json",
                       "-o", O), E.CalibrationError, "are not an object"),
    *_q("q_evil", "kernel 'arm_evil_q7' is not a CMSIS-NN function"),
    *_q("q_evil", "kernel 'arm_evil_q7'", cmd="codegen"),
    Row("evil kernel parity", ("parity", "q_evil", "--standin"), E.ModelFormatError,
        "arm_evil_q7"),
    Row("evil kernel qat", ("qat", "q_evil", "--float", "tiny", "--data", X, "--labels", "y.npy",
                            "-o", O), E.ModelFormatError, "arm_evil_q7"),
    Row("evil kernel report", ("report", "q_evil", "--float", "tiny", "--data", X, "-o", O),
        E.ModelFormatError, "arm_evil_q7"),
    *_q("q_kernel_op", "not a CMSIS-NN function for a conv"),
    *_q("q_kernel_q15", "not a CMSIS-NN function for a conv in scheme q7"),
    *_q("q_kernel_fast", "needs ch_im_in == 3"),
    *_q("q_kernel_num", "kernel '7'"),
    *_q("q_shift_str", "out_shift='7' is not an integer 0..31"),
    *_q("q_shift_str", "out_shift='7'", cmd="codegen"),
    *_q("q_shift_float", "out_shift=2.5 is not an integer"),
    *_q("q_shift_float", "out_shift=2.5", cmd="codegen"),
    *_q("q_shift_40", "out_shift=40 is not an integer 0..31"),
    *_q("q_shift_40", "out_shift=40", cmd="codegen"),
    *_q("q_shift_neg", "bias_shift=-1"),
    *_q("q_shift_null", "out_shift=None"),
    *_q("q_shift_bool", "out_shift=True"),
    *_q("q_shift_off", "does not match its formats"),
    *_q("q_frac_1000", "frac_bits 1000, outside -32..127"),
    *_q("q_frac_1000", "frac_bits 1000", cmd="codegen"),
    *_q("q_frac_m990", "frac_bits -990"),
    *_q("q_frac_float", "malformed graph file"),
    *_q("q_bits_12", "QFormat bits must be 8, 16 or 32"),
    *_q("q_bits_16", "reads 16-bit input(s) but writes 8 bits"),
    *_q("q_wq_bits", "weight_q Q8.7(16b) is not 8-bit"),
    *_q("q_wq_null", "weight_q None is not a format"),
    *_q("q_scheme", "scheme='q3'"),
    *_q("q_scheme", "scheme='q3'", cmd="codegen"),
    *_q("q_path", "code path 'gpu' is not one of ('ref', 'dsp')"),
    *_q("q_version", "release '6.0.0' is not one qsim models (5.7.0, 5.9.0)"),
    *_q("q_truncate", "truncate='yes'"),
    *_q("q_name", "has 300 characters, more than 256"),
    *_q("q_name", "has 300 characters", cmd="codegen"),
    *_q("q_longnode", "has 300 characters"),
    *_q("q_name_num", "name 42 is not a non-empty string"),
    *_q("q_no_outputs", "a graph needs at least one of each"),
    *_q("q_frac_huge", "outside -32..127"),
    *_q("q_escape_name", "unprintable character U+001B", cmd="codegen"),
    *_q("q_pad", "pad_ch_in=7"),
    *_q("q_shape", "is not a list of positive ints"),
    *_q("q_shape0", "is not a list of positive ints"),
    *_q("q_attrs", "malformed graph file"),
    *_q("q_ksize", "", error=E.ShapeError),
    *_q("q_quant_list", "malformed graph file"),
    *_q("q_tensor_null", "malformed graph file"),
    *_q("q_op", "unknown op", error=E.UnsupportedOpError),
    *_q("q_bigw", "is far outside"),
    Row("output parent is a file", CAL + ("afile/c.json",), E.OutputPathError,
        "is a file, not a folder"),
    Row("output parent deep file", CAL + ("afile/sub/c.json",), E.OutputPathError,
        "is a file, not a folder"),
    Row("output under /proc", CAL + ("/proc/qsim_c.json",), E.OutputPathError,
        "pseudo file system"),
    Row("output under /sys", QU + (C, "-o", "/sys/qsim_q"), E.OutputPathError, "pseudo file"),
    Row("quantize output parent file", QU + (C, "-o", "afile/q"), E.OutputPathError,
        "is a file, not a folder"),
    Row("parity inputs 1e9 text", PAR + ("--inputs", "1e9"), SystemExit, "invalid int value"),
    Row("parity inputs 1e9", PAR + ("--inputs", "1000000000"), E.ResourceLimitError,
        "would need"),
    Row("parity inputs 0", PAR + ("--inputs", "0"), E.ArgumentError, "--inputs must be"),
    Row("parity inputs -5", PAR + ("--inputs", "-5"), E.ArgumentError, "--inputs must be"),
    Row("parity seed -1", PAR + ("--seed", "-1"), E.ArgumentError, "--seed must be"),
    Row("parity timeout nan", PAR + ("--timeout", "nan"), E.ArgumentError, "--timeout must be"),
    Row("parity 40000x40000", ("parity", "q_huge", "--standin"), E.ResourceLimitError,
        "parity on 100 inputs of model 'huge' would need"),
    Row("parity data 1e8 items", PAR + ("--data", "x_huge.npy"), E.DataFileError,
        "the header claims shape (100000000, 6, 6, 4)"),
    Row("npy 1e8 items calibrate", CAL[:3] + ("x_huge.npy", "-o", O), E.DataFileError,
        "truncated or damaged"),
    Row("npy sparse 57 GB", CAL[:3] + ("x_sparse.npy", "-o", O), E.ResourceLimitError,
        "would need 10"),
    Row("npy sparse 57 GB parity", PAR + ("--data", "x_sparse.npy"), E.ResourceLimitError,
        "(shape (100000000, 6, 6, 4)) would need 107.3 GiB"),
    Row("npy truncated", CAL[:3] + ("x_cut.npy", "-o", O), E.DataFileError, "truncated"),
    Row("npy text", CAL[:3] + ("x_text.npy", "-o", O), E.DataFileError, "not a plain .npy"),
    Row("npy 1e8 evaluate", ("evaluate", Q, "--float", "tiny", "--data", "x_huge.npy"),
        E.DataFileError, "header claims"),
    _wav_row("sparse wav whole file", "sparse.wav", E.ResourceLimitError, "would need",
             clip_seconds=None),
    _wav_row("nan wav", "nan.wav", E.AudioError, "NaN/Inf samples"),
    _wav_row("inf wav", "inf.wav", E.AudioError, "NaN/Inf samples"),
    _wav_row("junk wav", "noise.wav", E.AudioError, "cannot read audio file"),
    _wav_row("empty wav", "empty.wav", E.AudioError, "cannot read audio file"),
    _wav_row("missing wav", "nothing.wav", E.AudioError, "cannot read audio file"),
    Row("kws bad json", ("kws", "ok.wav", "--model", "kws_badjson"), E.ModelFormatError,
        "not valid JSON"),
    Row("kws no labels", ("kws", "ok.wav", "--model", "kws_nolabels"), E.ModelFormatError,
        "are not two or more distinct names"),
    Row("kws one label", ("kws", "ok.wav", "--model", "kws_onelabel"), E.ModelFormatError,
        "are not two or more"),
    Row("kws duplicate labels", ("kws", "ok.wav", "--model", "kws_duplabels"),
        E.ModelFormatError, "distinct names"),
    Row("kws terminal escape in a label", ("kws", "ok.wav", "--model", "kws_escape_label"),
        E.ModelFormatError, "printable"),
    Row("kws numeric labels", ("kws", "ok.wav", "--model", "kws_numlabels"), E.ModelFormatError,
        "distinct names"),
    Row("kws unknown mfcc key", ("kws", "ok.wav", "--model", "kws_mfcckey"), E.ModelFormatError,
        "unknown mfcc key(s) ['evil']"),
    Row("kws mfcc string", ("kws", "ok.wav", "--model", "kws_mfcctype"), E.ModelFormatError,
        "mfcc hop='320'"),
    Row("kws mfcc negative", ("kws", "ok.wav", "--model", "kws_mfccneg"), E.ModelFormatError,
        "mfcc hop=-1"),
    Row("kws mfcc fft", ("kws", "ok.wav", "--model", "kws_mfccfft"), E.ModelFormatError,
        "mfcc settings refused"),
    Row("kws coeff_shift length", ("kws", "ok.wav", "--model", "kws_coeffshift"), E.ModelFormatError,
        "needs one shift per coefficient (10)"),
    Row("kws coeff_shift string", ("kws", "ok.wav", "--model", "kws_coeffshift_str"),
        E.ModelFormatError, "mfcc coeff_shift='1;rm -rf /' is not a valid tuple"),
    Row("kws scheme", ("kws", "ok.wav", "--model", "kws_scheme"), E.ModelFormatError,
        "schemes ['q3']"),
    Row("kws mfcc window", ("kws", "ok.wav", "--model", "kws_window"), E.ModelFormatError,
        "window='float' is not one of"),
    Row("kws mfcc huge fmax", ("kws", "ok.wav", "--model", "kws_fmax_huge"), E.ModelFormatError,
        "mfcc fmax=1000000000000000000000000000000 is not a valid float"),
    Row("kws no schemes", ("kws", "ok.wav", "--model", "kws_noschemes"), E.ModelFormatError,
        "schemes None must name the model's quantized nets"),
    Row("kws empty schemes", ("kws", "ok.wav", "--model", "kws_emptyschemes"), E.ModelFormatError,
        "schemes [] must name"),
    Row("kws schemes twice", ("kws", "ok.wav", "--model", "kws_dupschemes"), E.ModelFormatError,
        "each once"),
    Row("kws json list", ("kws", "ok.wav", "--model", "kws_list"), E.ModelFormatError,
        "not a qsim-kws file"),
    Row("kws no graphs", ("kws", "ok.wav", "--model", "kws_nograph"), E.ModelFormatError,
        "missing"),
    Row("kws no folder", ("kws", "ok.wav", "--model", "nothing"), E.ModelFormatError,
        "no kws.json"),
    # -- item 6: written, then refused -----------------------------------------------------------
    Row("calibrate bad labels", CAL + (O, "--labels", "y_bad.npy"), E.ShapeError,
        "labels range over [7, 7]"),
    Row("calibrate 3e38 weights", ("calibrate", "f_3e38", "--data", "x4.npy", "-o", O),
        E.CalibrationError, "is not finite"),
    # -- item 7: absurd values -------------------------------------------------------------------
    Row("calibration range 1e300", QU + ("cal_1e300.json", "-o", O), E.QuantizationError,
        "needs frac_bits -990"),
    Row("parity-kernels cases -5", ("parity-kernels", "--cases", "-5"), E.ArgumentError,
        "--cases must be an integer >= 1"),
    Row("parity-kernels cases 0", ("parity-kernels", "--cases", "0"), E.ArgumentError,
        "--cases must be"),
    Row("parity-kernels seed -2", ("parity-kernels", "--seed", "-2"), E.ArgumentError,
        "--seed must be"),
    Row("qat lr inf", QAT + ("--lr", "inf"), E.ArgumentError, "--lr must be a finite number > 0"),
    Row("qat lr nan", QAT + ("--lr", "nan"), E.ArgumentError, "--lr must be a finite"),
    Row("qat lr 0", QAT + ("--lr", "0"), E.ArgumentError, "--lr must be"),
    Row("qat patience -1", QAT + ("--patience", "-1"), E.ArgumentError,
        "--patience must be an integer >= 0"),
    Row("qat seed -1", QAT + ("--seed", "-1"), E.ArgumentError, "--seed must be"),
    Row("train lr inf", ("train", "kws", "--lr", "inf", "-o", O), E.ArgumentError, "--lr must be"),
    Row("calibrate batch 0", CAL + (O, "--batch-size", "0"), E.ArgumentError,
        "--batch-size must be"),
    Row("calibrate nan data", CAL[:3] + ("x_nan.npy", "-o", O), E.DataFileError, "NaN/Inf"),
    Row("api calibrate nan", _api_calibrate_nan, E.CalibrationError, "NaN/Inf values"),
    Row("api calibrate None", lambda d: calibrate(Graph.load(d / "tiny"), None),
        E.CalibrationError, "got NoneType"),
    Row("api calibrate batch 0", lambda d: calibrate(Graph.load(d / "tiny"), np.load(d / X),
                                                     batch_size=0), E.ArgumentError,
        "batch_size must be"),
    Row("api calibrate strings", lambda d: calibrate(Graph.load(d / "tiny"),
                                                     np.full((2, 6, 6, 4), "a")),
        E.CalibrationError, "expected numbers"),
    Row("api quantize None", _api_quantize, E.QuantizationError, "got NoneType"),
    Row("api quantize dict", lambda d: _api_quantize(d, {"tensors": {}}), E.QuantizationError,
        "got dict"),
    Row("api quantize not graph", lambda d: quantize("model.onnx", _api_cal(d)),
        E.QuantizationError, "needs a float Graph"),
    Row("api simulate empty", _api_simulate, E.ShapeError, "empty batch"),
    Row("api simulate batch 0", lambda d: _api_simulate(d, 2, batch_size=0), E.ArgumentError,
        "batch_size must be"),
    Row("api simulate float graph", lambda d: simulate(Graph.load(d / "tiny"),
                                                       np.load(d / X)), E.QuantizationError,
        "is a float graph"),
    Row("api simulate None", lambda d: simulate(None, np.load(d / X)), E.QuantizationError,
        "got NoneType"),
    Row("api simulate shift 40", lambda d: _api_simulate_edited(
        d, lambda q: setattr(q.nodes[0], "out_shift", 40)), E.ModelFormatError, "out_shift=40"),
    Row("api simulate kernel", lambda d: _api_simulate_edited(
        d, lambda q: setattr(q.nodes[0], "kernel", "arm_evil_q7")), E.ModelFormatError,
        "arm_evil_q7"),
    Row("api simulate scheme", lambda d: _api_simulate_edited(
        d, lambda q: setattr(q.quant, "scheme", "q3")), E.ModelFormatError, "scheme='q3'"),
    Row("api finetune lr inf", lambda d: _api_finetune(d, lr=math.inf), E.ArgumentError,
        "lr must be"),
    Row("api finetune patience", lambda d: _api_finetune(d, patience=-1), E.ArgumentError,
        "patience must be"),
    Row("api finetune epochs", lambda d: _api_finetune(d, epochs=0), E.ArgumentError,
        "epochs must be"),
    Row("api load edited", lambda d: Graph.load(d / "q_shift_str"), E.ModelFormatError,
        "out_shift='7'"),
    # -- item 8: output paths --------------------------------------------------------------------
    Row("codegen -o model --force", ("codegen", Q, "-o", Q, "--force"), E.OutputPathError,
        "is the input"),
    Row("codegen -o inside model", ("codegen", Q, "-o", "q/c", "--force"), E.OutputPathError,
        "is inside the input"),
    Row("codegen -o file --force", ("codegen", Q, "-o", "afile", "--force"), E.OutputExistsError,
        "exists and is a file, not a folder"),
    Row("codegen -o dir", ("codegen", Q, "-o", "exists"), E.OutputExistsError, "already exists"),
    Row("calibrate -o data --force", ("calibrate", "tiny", "--data", X, "-o", X, "--force"),
        E.OutputPathError, "is the input"),
    Row("calibrate -o labels --force", CAL + ("y.npy", "--labels", "y.npy", "--force"),
        E.OutputPathError, "is the input"),
    Row("calibrate -o model folder", CAL + ("tiny/c.json", "--force"), E.OutputPathError,
        "is inside the input"),
    Row("calibrate -o dir --force", CAL + ("exists", "--force"), E.OutputExistsError,
        "is a folder, not a file"),
    Row("quantize -o model --force", QU + (C, "-o", "tiny", "--force"), E.OutputPathError,
        "is the input"),
    Row("quantize -o calib --force", QU + (C, "-o", C, "--force"), E.OutputPathError,
        "is the input"),
    Row("quantize -o . --force", QU + (C, "-o", ".", "--force"), E.OutputPathError,
        "contains the input"),
    Row("quantize -o file --force", QU + (C, "-o", "afile", "--force"), E.OutputExistsError,
        "is a file, not a folder"),
    Row("report -o qmodel --force", ("report", Q, "--float", "tiny", "--data", X, "-o", Q,
                                     "--force"), E.OutputPathError, "is the input"),
    Row("qat -o qmodel --force", QAT[:-1] + (Q, "--force"), E.OutputPathError, "is the input"),
    Row("qat -o float --force", QAT[:-1] + ("tiny", "--force"), E.OutputPathError,
        "is the input"),
    Row("codegen -o /proc", ("codegen", Q, "-o", "/proc/qsim_c"), E.OutputPathError,
        "pseudo file system"),
    Row("data --out file --force", ("data", "kws", "--out", "afile", "--force"),
        E.OutputExistsError, "is a file, not a folder"),
    Row("data --seed -1", ("data", "kws", "--out", O, "--seed", "-1"), E.ArgumentError,
        "--seed must be"),
    Row("demo -o file", ("demo", "-o", "afile"), E.OutputExistsError, "is a file, not a folder"),
    Row("demo -o cache", ("demo", "-o", "exists", "--cache", "exists"), E.OutputPathError,
        "is the input"),
    Row("train -o data --force", ("train", "kws", "--data", "exists", "-o", "exists", "--force"),
        E.OutputPathError, "is the input"),
]


def _argv(d, argv):
    out = []
    for a in argv:
        s = str(a)
        out.append(str(d / s) if not s.startswith("-") and (d / s).exists() or s in (O,)
                   or "/" in s and not s.startswith("/") else s)
    return out


def _tree(d):
    return sorted((str(p.relative_to(d)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in d.rglob("*") if not p.is_symlink())


def test_table_size():
    assert len(ROWS) >= 80 and len({r.name for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_bad_input(row, d, capsys, monkeypatch):
    monkeypatch.setenv("QSIM_MAX_MEMORY", "1G")
    monkeypatch.chdir(d)
    before = _tree(d)
    if callable(row.call):
        with pytest.raises(row.error) as e:
            row.call(d)
        assert isinstance(e.value, E.QsimError) and row.text in str(e.value), str(e.value)
    else:
        argv = _argv(d, row.call)
        if row.error is SystemExit:
            with pytest.raises(SystemExit) as e:
                main(argv)
            assert e.value.code == 2 and row.text in capsys.readouterr().err
        else:
            args = build_parser().parse_args(argv)
            with pytest.raises(row.error) as e:         # the class, from the command itself
                args._run(args)
            assert row.text in str(e.value), str(e.value)
            capsys.readouterr()
            assert main(argv) == 2                      # and the CLI: one line, exit 2
            err = capsys.readouterr().err.strip().splitlines()
            assert err[-1].startswith(f"qsim {argv[0]}: error: ") and row.text in err[-1], err
            assert "Traceback" not in "\n".join(err)
    assert _tree(d) == before, "a refused command left something behind"


# -- items that work now instead of failing --------------------------------------------------------

def test_sparse_wav_reads_one_clip_without_allocating(d, monkeypatch):
    from qsim.kws.audio import load_wav
    monkeypatch.setenv("QSIM_MAX_MEMORY", "64M")
    a = load_wav(d / "sparse.wav")
    assert a.shape == (16000,) and a.dtype == np.int16 and not a.any()


def test_clip_read_equals_whole_file_read(tmp_path):
    """Reading one clip plus context gives the samples of reading the whole file."""
    import soundfile as sf

    from qsim.kws.audio import fix_length, resample, to_int16, load_wav
    rng = np.random.default_rng(3)
    for rate in (8000, 16000, 22050, 44100, 48000):
        x = rng.integers(-20000, 20000, 5 * rate)
        _wav(tmp_path / "a.wav", x, rate)
        data, r = sf.read(str(tmp_path / "a.wav"), dtype="float64", always_2d=True)
        whole = to_int16(fix_length(resample(data.mean(axis=1), r, 16000), 16000))
        np.testing.assert_array_equal(load_wav(tmp_path / "a.wav"), whole)


def test_calibrate_writes_nothing_on_bad_labels_and_accuracy_when_good(d, tmp_path, capsys):
    assert main(["calibrate", str(d / "tiny"), "--data", str(d / X), "--labels", str(d / "y.npy"),
                 "-o", str(tmp_path / "c.json")]) == 0
    assert "float accuracy" in capsys.readouterr().out
    doc = json.loads((tmp_path / "c.json").read_text())       # strict JSON: no NaN / Infinity
    json.dumps(doc, allow_nan=False)
    assert Calibration.from_dict(doc).num_samples == 24


def test_quantized_models_pass_the_validator(d):
    from qsim.validate import validate_quantized
    validate_quantized(Graph.load(d / "q"))
    q = Graph.load(d / "q")
    for n in q.nodes:                                     # the fc _opt / plain pair both pass
        if n.kernel and n.kernel.endswith("_opt"):
            n.kernel = n.kernel[:-4]
    validate_quantized(q)


def test_memory_budget_parsing(monkeypatch):
    from qsim.validate import check_memory, memory_budget
    monkeypatch.setenv("QSIM_MAX_MEMORY", "2M")
    assert memory_budget() == 2 * 2**20
    check_memory(2**20, "x")
    with pytest.raises(E.ResourceLimitError, match="would need 3.0 MiB, more than the 2.0 MiB"):
        check_memory(3 * 2**20, "x")
    monkeypatch.setenv("QSIM_MAX_MEMORY", "lots")
    with pytest.raises(E.ArgumentError):
        memory_budget()


# -- property-based tests ---------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40)
                    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c,
                                                                         max_size=3),
                    max_leaves=6)
SMALL = st.integers(-3, 40) | st.sampled_from([2.5, "7", None, True, -1, 31, 32, 2**31])
PROP = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _model_fields(doc):
    """(container, key) pairs of every editable leaf-ish field of a model.json."""
    out = [(doc, k) for k in ("name", "layout", "inputs", "outputs", "quant")]
    out += [(doc["quant"], k) for k in doc["quant"]]
    for t in doc["tensors"]:
        out += [(t, "name"), (t, "shape"), (t, "qformat")]
        if t["qformat"]:
            out += [(t["qformat"], "bits"), (t["qformat"], "frac_bits")]
    for n in doc["nodes"]:
        out += [(n, k) for k in n if k != "params"]
        out += [(n["attrs"], k) for k in n["attrs"]]
        for k in ("weight_q", "bias_q"):
            if n.get(k):
                out += [(n[k], "bits"), (n[k], "frac_bits")]
    return out


@PROP
@given(data=st.data())
def test_random_model_edits_work_or_name_the_error(d, tmp_path_factory, data):
    doc = json.loads((d / "q" / "model.json").read_text())
    fields = _model_fields(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        obj, key = data.draw(st.sampled_from(fields))
        obj[key] = data.draw(SMALL | JSON)
    dst = tmp_path_factory.mktemp("edit")
    shutil.copy(d / "q" / "model.npz", dst / "model.npz")
    (dst / "model.json").write_text(json.dumps(doc))
    try:
        q = Graph.load(dst)
        simulate(q, np.load(d / X)[:2])
    except E.QsimError:
        pass


@PROP
@given(data=st.data())
def test_random_calibration_edits_work_or_name_the_error(d, data):
    doc = json.loads((d / "c.json").read_text())
    tensors = list(doc["tensors"])
    for _ in range(data.draw(st.integers(1, 2))):
        per = doc["tensors"][data.draw(st.sampled_from(tensors))]
        if not isinstance(per, dict):
            continue
        stat = per[data.draw(st.sampled_from(sorted(per)))] if per else None
        huge = st.sampled_from([10 ** 30, 2 ** 63, -2 ** 63, 2 ** 62, 10 ** 400])
        if isinstance(stat, dict) and isinstance(stat.get("counts"), list) and stat["counts"] \
                and data.draw(st.booleans()):
            stat["counts"][data.draw(st.integers(0, len(stat["counts"]) - 1))] = data.draw(huge)
        elif isinstance(stat, dict) and stat:
            stat[data.draw(st.sampled_from(sorted(stat)))] = data.draw(
                st.floats() | st.integers(-10**6, 10**6) | huge | JSON)
        else:
            doc["tensors"][data.draw(st.sampled_from(tensors))] = data.draw(JSON)
    try:
        cal = Calibration.from_dict(doc)
        quantize(Graph.load(d / "tiny"), cal, strategy=data.draw(st.sampled_from(
            ["minmax", "mse", "percentile"])))
    except E.QsimError:
        pass


@PROP
@given(fmt=st.integers(0, 5), channels=st.integers(0, 9), rate=st.integers(0, 2**32 - 1),
       bits=st.sampled_from([0, 1, 8, 12, 16, 24, 32, 64]), data_len=st.integers(0, 2**32 - 1),
       payload=st.binary(max_size=64))
def test_random_wav_headers_work_or_name_the_error(tmp_path_factory, monkeypatch, fmt, channels,
                                                    rate, bits, data_len, payload):
    from qsim.kws.audio import load_wav
    monkeypatch.setenv("QSIM_MAX_MEMORY", "256M")
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, (rate * block) & 0xFFFFFFFF,
                            block & 0xFFFF, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk + b"data" + \
        struct.pack("<I", data_len) + payload
    p = tmp_path_factory.mktemp("wav") / "a.wav"
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    try:
        a = load_wav(p)
        assert a.shape == (16000,) and a.dtype == np.int16
    except E.QsimError:
        pass


@PROP
@given(shape=st.lists(st.integers(0, 2**40), max_size=5), descr=st.sampled_from(
    ["<f4", "<f8", "<i2", "|b1", "|O", "<U3", "<c8", "|V4", ">f4"]), payload=st.integers(0, 512))
def test_random_npy_headers_work_or_name_the_error(d, tmp_path_factory, monkeypatch, shape, descr,
                                                   payload):
    from qsim.commands._common import load_data
    monkeypatch.setenv("QSIM_MAX_MEMORY", "256M")
    p = tmp_path_factory.mktemp("npy") / "x.npy"
    _npy_claiming(p, tuple(shape), descr, payload)
    try:
        load_data(p, Graph.load(d / "tiny"))
    except E.QsimError:
        pass


@PROP
@given(data=st.data())
def test_random_kernel_arguments_pass_or_name_the_error(data):
    from qsim.cmsis_signatures import SIGNATURES
    from qsim.kernel_args import bind
    fn = data.draw(st.sampled_from(sorted(SIGNATURES)))
    args = {}
    for a in SIGNATURES[fn].py_args:
        if a.role == "scalar":
            args[a.name] = data.draw(st.integers(-5, 70000) | st.sampled_from([2.5, "3", None,
                                                                               True, 2**40]))
        else:
            n = data.draw(st.integers(0, 40))
            args[a.name] = data.draw(st.sampled_from([
                np.zeros((1, n), np.int8), np.zeros((2, n), np.int16), np.zeros(n, np.float32),
                np.full((1, n), 300), "abc", None, np.zeros((0,), np.int8)]))
    try:
        bind(fn, (), args, path=data.draw(st.sampled_from(["ref", "dsp", "gpu"])),
             release=data.draw(st.sampled_from(["5.7.0", "5.9.0", "4.0"])))
    except E.QsimError:
        pass
