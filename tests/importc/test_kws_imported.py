"""`qsim kws` on an imported model (issue 14 item 5): a qsim-trained-style KWS net exported the
ML-KWS way, imported back with labels and a front end in the spec, classifies a synthesized WAV
with those labels and that front end; the q7 result is the simulation on qsim.kws's features."""
import json
import shutil
import warnings

import numpy as np
import pytest
import scipy.io.wavfile

from qsim.cli import main
from qsim.graph import Graph
from qsim.kws.features import features, net_input
from qsim.kws.flow import KwsModel
from qsim.kws.mfcc import MfccConfig
from qsim.simulate import simulate

from ._nets import quantized
from .test_import_c import _export

HAS_GCC = shutil.which("gcc") is not None


def _clip(seed=0):
    t = np.arange(16000) / 16000.0
    rng = np.random.default_rng(seed)
    x = 6000 * np.sin(2 * np.pi * (300 + 900 * t) * t) * np.hanning(16000) + rng.normal(0, 300, 16000)
    return np.round(x).astype(np.int16)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kwsimp")
    q = quantized("kws", "q7", "ref", "5.9.0")
    header, spec = _export(q, tmp)
    return q, header, json.loads(spec.read_text()), tmp


def _import(exported, name, **kws):
    q, header, doc, tmp = exported
    (tmp / f"{name}.json").write_text(json.dumps(dict(doc, **kws)))
    assert main(["import-c", str(header), "--spec", str(tmp / f"{name}.json"), "-o", str(tmp / name)]) == 0
    return tmp / name


@pytest.mark.parametrize("fe_name", ["float", "q15"])
def test_kws_runs_imported_model(exported, capsys, fe_name):
    q, _, _, tmp = exported
    n_out = q.tensors[q.outputs[0]].size
    labels = [f"w{i}_{fe_name}" for i in range(n_out)]
    fe = {"name": fe_name, "frame_len_ms": 40, "frame_shift_ms": 20, "num_frames": 49,
          "num_mel_bins": 40, "num_mfcc": 10, "window": "hann"}
    fb = q.tensors[q.inputs[0]].qformat.frac_bits
    if fe_name == "float":
        fe["dec_bits"] = fb
    m = _import(exported, f"m_{fe_name}", labels=labels, frontend=fe)
    audio = _clip()
    wav = tmp / f"clip_{fe_name}.wav"
    scipy.io.wavfile.write(wav, 16000, audio)
    capsys.readouterr()
    assert main(["kws", str(wav), "--model", str(m)] + (["--standin"] if HAS_GCC else [])) == 0
    out = capsys.readouterr().out
    # the oracle: qsim.kws's features for the same settings, simulated on the imported graph
    cfg = MfccConfig(frame_len=640, hop=320, fft_len=1024, n_mels=40, n_coeffs=10, window="hann",
                     frac_bits=fb if fe_name == "float" else 7)
    M = features(audio[None], cfg, fe_name)
    g = Graph.load(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ints = simulate(g, net_input(g, M)).reshape(1, -1)
    j = int(ints[0].argmax())
    row = [line for line in out.splitlines() if line.startswith(str(wav))][0].split()
    assert row[1] == labels[j] and row[3] == f"[{ints[0, j]}]", out
    if HAS_GCC:
        assert row[4] == labels[j], out
    assert "float column left out" in out
    model = KwsModel.load(m)
    assert model.float_graph is None and model.labels == tuple(labels) and model.mfcc == cfg
    if fe_name == "float":            # rounded to the input's bits: mfcc_to_input only saturates
        assert np.all(M % (1 << (7 - fb)) == 0)


@pytest.mark.parametrize("fe,msg", [
    ({"name": "float", "frame_shift_ms": 20, "num_frames": 25}, "num_frames=25"),
    ({"name": "float", "dec_bits": 9}, "dec_bits=9"),
    ({"name": "q15", "dec_bits": 1}, "arm_mfcc_q15 gives q8.7"),
    ({"name": "float", "frame_len_ms": 1000}, "frame_len_ms"),
    ({"name": "float", "frame_shift_ms": 40}, "input has 490 values"),
    ({"name": "float", "num_mfcc": 12}, "input has 490 values"),
    ({"name": "float", "num_mel_bins": 8}, "n_coeffs=10 > n_mels=8"),
    ({"name": "float", "mel_high_hz": 9000}, "fmax"),
    ({"name": "float", "sample_rate": 16000.5}, "sample_rate"),
])
def test_bad_settings_exit_2(exported, capsys, fe, msg):
    _, _, _, tmp = exported
    q = exported[0]
    fe = dict(fe)
    if fe["name"] == "float" and "dec_bits" not in fe:
        fe["dec_bits"] = q.tensors[q.inputs[0]].qformat.frac_bits
    m = _import(exported, "bad", labels=[f"w{i}" for i in range(q.tensors[q.outputs[0]].size)],
                frontend=fe)
    wav = tmp / "bad.wav"
    scipy.io.wavfile.write(wav, 16000, _clip())
    capsys.readouterr()
    assert main(["kws", str(wav), "--model", str(m)]) == 2
    err = capsys.readouterr().err
    assert "kws settings" in err and msg in err and "Traceback" not in err, err
    shutil.rmtree(m)


def test_no_kws_settings_is_named(exported, capsys):
    m = _import(exported, "plain")
    capsys.readouterr()
    wav = exported[3] / "p.wav"
    scipy.io.wavfile.write(wav, 16000, _clip())
    assert main(["kws", str(wav), "--model", str(m)]) == 2
    assert "nor a model with KWS settings" in capsys.readouterr().err


def test_mlkws_style_settings_expressible():
    """16 kHz, 40 ms frames, 20 ms (DS-CNN) or 40 ms (DNN) hop, 40 mel bands, 10 coefficients,
    Hann window, the MFCC rounded to 1 fractional bit."""
    for hop, frames in ((320, 49), (640, 25)):
        cfg = MfccConfig(frame_len=640, hop=hop, n_mels=40, n_coeffs=10, window="hann", frac_bits=1)
        M = features(_clip()[None], cfg, "float")
        assert cfg.n_frames == frames and M.shape == (1, frames, 10, 1)
        assert np.all(M % 64 == 0) and np.any(M != 0)
        f7 = features(_clip()[None], MfccConfig(frame_len=640, hop=hop, window="hann"), "float")
        assert np.abs(M.astype(int) - f7).max() <= 32         # rounding to 1 bit: at most half a step
    with pytest.raises(Exception, match="frac_bits=8"):
        MfccConfig(frac_bits=8)


def test_stream_uses_the_imported_hop(exported):
    """A long recording is windowed in hops of the imported front end's frame shift; no float engine."""
    from qsim.kws.stream import StreamSettings, stream
    q = exported[0]
    m = _import(exported, "st", labels=[f"w{i}" for i in range(q.tensors[q.outputs[0]].size)],
                frontend={"name": "q15", "frame_len_ms": 40, "frame_shift_ms": 20})
    model = KwsModel.load(m)
    audio = np.concatenate([_clip(1), _clip(2)])
    res = stream(model, audio, StreamSettings(hop_frames=3))
    assert res["hop_ms"] == 60.0 and list(res["detections"]) == ["q7"]
    assert res["windows"] == 1 + (len(audio) - 16000) // 960 + ((len(audio) - 16000) % 960 > 0)
