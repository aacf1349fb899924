"""qsim.intnet.build: a quantized Graph from C-call arguments gives the quantizer's integers."""
import functools
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qsim.errors import KernelArgumentError, QuantizationError, ShapeError, UnsupportedOpError
from qsim.intnet import build, float_scale_known
from qsim.simulate import simulate

from ._nets import SPECS, call_layers, data, input_spec, quantized

CASES = [("kws", "q7", "ref", "5.7.0"), ("ds_cnn", "q7", "dsp", "5.9.0"),
         ("mixed", "q7", "ref", "5.9.0"), ("mixed", "q7", "dsp", "5.7.0"),
         ("small", "q15", "ref", "5.9.0"), ("small", "q7q15", "dsp", "5.9.0"),
         ("comp", "q7", "dsp", "5.9.0"), ("comp", "q15", "ref", "5.7.0")]


def _same_integers(q, b, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ta, tb = simulate(q, x, trace=True), simulate(b, x, trace=True)
    for n1, n2 in zip(q.nodes, b.nodes):
        assert np.array_equal(ta[n1.output], tb[n2.output]), n1.name


@pytest.mark.parametrize("name,scheme,path,version", CASES)
def test_float_mode_matches_quantizer(name, scheme, path, version):
    q = quantized(name, scheme, path, version)
    b = build(q.name, input_spec(q), call_layers(q), path=path, release=version)
    assert b.quant.scheme == scheme and float_scale_known(b)
    for n1, n2 in zip(q.nodes, b.nodes):
        assert (n1.kernel, n1.bias_shift, n1.out_shift, n1.weight_q, n1.bias_q) == \
            (n2.kernel, n2.bias_shift, n2.out_shift, n2.weight_q, n2.bias_q), n1.name
        assert q.output_q(n1) == b.output_q(n2), n1.name
    _same_integers(q, b, data(SPECS[name], 8, seed=3))


@pytest.mark.parametrize("name,scheme,path,version", CASES)
def test_integer_only_mode(name, scheme, path, version):
    q = quantized(name, scheme, path, version)
    b = build(q.name, input_spec(q, frac=False), call_layers(q, weight_frac=False), path=path,
              release=version)
    assert not float_scale_known(b)
    xi = q.tensors[q.inputs[0]].qformat.quantize(data(SPECS[name], 8, seed=4))
    _same_integers(q, b, xi)


def test_weight_layouts():
    q = quantized("kws", "q7", "ref", "5.9.0", fc_opt=False)
    layers = call_layers(q)
    conv = next(l for l in layers if l["kernel"].startswith("arm_convolve"))
    fc = next(l for l in layers if l["kernel"].startswith("arm_fully"))
    n = q.node(conv["name"])
    co, ci = int(n.params["weight"].shape[0]), int(n.params["weight"].shape[3])
    ky, kx = n.attrs["kernel_shape"]
    w = np.asarray(conv["weight"]).reshape(co, ky, kx, ci)
    rows = len(fc["bias"])
    m = np.asarray(fc["weight"]).reshape(rows, -1)
    variants = [dict(conv, weight=w.transpose(1, 2, 3, 0), weight_layout="tf"),
                dict(conv, weight=w.transpose(0, 3, 1, 2), weight_layout="torch")]
    for v in variants:
        alt = [v if l is conv else l for l in layers]
        b = build(q.name, input_spec(q), alt)
        nb = b.node(conv["name"])
        assert np.array_equal(nb.weight_q.quantize(nb.params["weight"]), w)
    alt = [dict(fc, weight=m.T, weight_layout="tf") if l is fc else l for l in layers]
    b = build(q.name, input_spec(q), alt, release=q.quant.version)
    assert np.array_equal(b.node(fc["name"]).weight_q.quantize(b.node(fc["name"]).params["weight"]), m)


def test_opt_weights_are_deinterleaved():
    q = quantized("kws", "q7", "ref", "5.9.0", fc_opt=True)
    b = build(q.name, input_spec(q), call_layers(q), release=q.quant.version)
    for n1, n2 in zip(q.nodes, b.nodes):
        if n1.op == "fc":
            assert n1.kernel.endswith("_opt")
            assert np.array_equal(n1.weight_q.quantize(n1.params["weight"]),
                                  n2.weight_q.quantize(n2.params["weight"]))


def _layers():
    q = quantized("kws", "q7", "ref", "5.9.0")
    return q, call_layers(q)


def test_errors_name_the_layer():
    q, layers = _layers()
    conv = layers[0]
    bad = [dict(conv, weight=np.asarray(conv["weight"])[:-1])] + layers[1:]
    with pytest.raises(ShapeError, match=rf"layer '{conv['name']}'.*expected {np.asarray(conv['weight']).size}"):
        build("n", input_spec(q), bad)
    with pytest.raises(KernelArgumentError, match=rf"layer '{conv['name']}': out_shift=32"):
        build("n", input_spec(q), [dict(conv, out_shift=32)] + layers[1:])
    with pytest.raises(KernelArgumentError, match="outside q7_t"):
        build("n", input_spec(q), [dict(conv, bias=np.asarray(conv["bias"]).astype(np.int64) * 0 + 200)] + layers[1:])
    with pytest.raises(ShapeError, match=rf"layer '{conv['name']}': output \(99, 99\) does not follow"):
        build("n", input_spec(q), [dict(conv, out=[99, 99])] + layers[1:])
    with pytest.raises(UnsupportedOpError, match="not a legacy CMSIS-NN"):
        build("n", input_spec(q), [dict(conv, kernel="arm_convolve_bogus")] + layers[1:])
    with pytest.raises(ShapeError, match="used twice"):
        build("n", input_spec(q), [conv, dict(layers[1], name=conv["name"])] + layers[2:])


def test_constraints_checked_with_layer_name():
    """A _fast kernel with ch_in % 4 != 0: the C returns ARM_MATH_SIZE_MISMATCH."""
    rng = np.random.default_rng(0)
    layer = {"name": "c1", "kernel": "arm_convolve_HWC_q7_fast", "weight": rng.integers(-5, 5, 2 * 9 * 3),
             "bias": [0, 0], "bias_shift": 0, "out_shift": 7, "kernel_shape": 3, "pads": 1}
    with pytest.raises(KernelArgumentError, match=r"layer 'c1': arm_convolve_HWC_q7_fast needs "
                                                  r"ch_im_in % 4 == 0"):
        build("n", {"shape": [5, 5, 3], "bits": 8, "frac_bits": 7}, [layer])
    ok = build("n", {"shape": [5, 5, 3], "bits": 8, "frac_bits": 7},
               [dict(layer, kernel="arm_convolve_HWC_q7_RGB")])
    assert ok.nodes[0].kernel == "arm_convolve_HWC_q7_RGB"


def test_int_width_checked():
    q = quantized("mixed", "q7", "ref", "5.9.0")
    layers = call_layers(q)
    i = next(k for k, l in enumerate(layers) if l.get("op") == "tanh")
    bad = layers[:i] + [dict(layers[i], int_width=(layers[i]["int_width"] + 1) % 4)] + layers[i + 1:]
    with pytest.raises(QuantizationError, match=rf"layer '{layers[i]['name']}': int_width"):
        build("n", input_spec(q), bad)


def test_evaluate_refuses_integer_only(tmp_path, capsys):
    from qsim.cli import main
    q = quantized("kws", "q7", "ref", "5.9.0")
    b = build(q.name, input_spec(q, frac=False), call_layers(q, weight_frac=False))
    b.save(tmp_path / "m")
    np.save(tmp_path / "x.npy", data(SPECS["kws"], 4))
    rc = main(["evaluate", str(tmp_path / "m"), "--float", str(tmp_path / "m"), "--data",
               str(tmp_path / "x.npy")])
    assert rc == 2
    assert "float scale is unknown" in capsys.readouterr().err


JUNK = st.one_of(st.none(), st.booleans(), st.integers(-300, 300), st.floats(allow_nan=True),
                 st.text(max_size=5), st.lists(st.integers(-200, 200), max_size=6),
                 st.lists(st.lists(st.integers(-3, 3), max_size=3), max_size=3))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["weight", "bias", "bias_shift", "out_shift", "kernel_shape", "strides",
                        "pads", "out", "ch_out", "weight_frac", "weight_layout", "kernel", "op",
                        "int_width", "shape", "name"]), JUNK, st.integers(0, 9))
@example("bias", [[], [0]], 0)                  # ragged: numpy's own ValueError once escaped
def test_junk_arguments_are_named_errors(key, value, which):
    """Any value in any field of any layer: a built graph or a QsimError, never another exception."""
    from qsim.errors import QsimError
    q, layers = _kws()
    layers = [dict(l) for l in layers]
    layers[which % len(layers)][key] = value
    try:
        build("n", input_spec(q), layers, release=q.quant.version)
    except QsimError:
        pass


@pytest.mark.parametrize("bad, says", [(float("inf"), "infinite"), (float("nan"), "NaN"),
                                        (1e30, "outside q")])
def test_non_finite_or_huge_float_integers_are_named(bad, says):
    """A float field that is not a usable integer (inf, NaN, beyond int64) is refused by name,
    before any cast could turn it into a garbage integer (and without a RuntimeWarning)."""
    from qsim.errors import KernelArgumentError
    q, layers = _kws()
    layers = [dict(l) for l in layers]
    which = next(i for i, l in enumerate(layers) if "bias" in l)
    layers[which]["bias"] = np.full(np.size(layers[which]["bias"]), bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(KernelArgumentError, match=says):
            build("n", input_spec(q), layers, release=q.quant.version)


@functools.lru_cache(maxsize=1)
def _kws():
    q = quantized("kws", "q7", "ref", "5.9.0")
    return q, call_layers(q)


def _conv_oracle(x, w, b, bias_shift, out_shift, stride, pads, pads_end):
    """Independent integer conv: explicit zero padding, (bias << bias_shift) + NN_ROUND, asr, sat8."""
    (sy, sx), (pt, pl), (pb, pr) = stride, pads, pads_end
    xp = np.pad(x.astype(np.int64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    co, ky, kx, _ = w.shape
    oy, ox = (xp.shape[1] - ky) // sy + 1, (xp.shape[2] - kx) // sx + 1
    out = np.empty((len(x), oy, ox, co), np.int64)
    for i in range(oy):
        for j in range(ox):
            win = xp[:, i * sy:i * sy + ky, j * sx:j * sx + kx, :]
            out[:, i, j] = np.einsum("nyxc,oyxc->no", win, w.astype(np.int64))
    acc = out + (b.astype(np.int64) << bias_shift) + (1 << (out_shift - 1))
    return np.clip(acc >> out_shift, -128, 127)


def _mlkws_conv1(ch=8, seed=0):
    rng = np.random.default_rng(seed)
    return {"name": "conv1", "kernel": "arm_convolve_HWC_q7_basic_nonsquare",
            "weight": rng.integers(-40, 40, (ch, 10, 4, 1)), "bias": rng.integers(-60, 60, ch),
            "bias_shift": 2, "out_shift": 9, "kernel_shape": [10, 4], "strides": [2, 2],
            "pads": [4, 1], "out": [25, 5], "weight_frac": 7}


def test_mlkws_conv1_asymmetric_pads():
    """ML-KWS DS_CNN's conv1: 49x10 -> 25x5 with top/left padding 4x1 is TF "SAME" padding: the
    explicit output size sets pads_end (5, 1), and the simulation matches zero padding 4/5, 1/1."""
    layer = _mlkws_conv1()
    spec = {"shape": [49, 10, 1], "bits": 8, "frac_bits": 1}
    g = build("ds_cnn", spec, [layer, {"name": "relu1", "op": "relu"}], path="dsp", release="5.9.0")
    conv = g.nodes[0]
    assert conv.attrs["pads"] == (4, 1) and conv.attrs["pads_end"] == (5, 1)
    assert g.tensors[conv.output].shape == (25, 5, 8)
    x = np.random.default_rng(1).integers(-128, 128, (6, 49, 10, 1)).astype(np.int8)
    got = simulate(g, x, trace=True)[conv.output]
    want = _conv_oracle(x, layer["weight"], layer["bias"], 2, 9, (2, 2), (4, 1), (5, 1))
    assert len(np.unique(want)) > 50                  # a real spread of values, not all saturated
    np.testing.assert_array_equal(got, want)
    # the natural output (no out) keeps symmetric padding; one no padding gives is named
    sym = build("n", spec, [{k: v for k, v in layer.items() if k != "out"}])
    assert "pads_end" not in sym.nodes[0].attrs and sym.tensors[sym.nodes[0].output].shape[:2] == (24, 5)
    with pytest.raises(ShapeError, match="layer 'conv1': output \\(30, 5\\) does not follow"):
        build("n", spec, [dict(layer, out=[30, 5])])
    with pytest.raises(ShapeError, match="layer 'conv1': output \\(20, 5\\) does not follow"):
        build("n", spec, [dict(layer, out=[20, 5])])


def _mlkws_net(lshift=2):
    return [dict(_mlkws_conv1(4), out=[25, 5]), {"name": "relu1", "op": "relu"},
            {"name": "pool", "kernel": "arm_avepool_q7_HWC_nonsquare", "kernel_shape": [25, 5],
             "strides": [1, 1], "pads": [0, 0], "out": [1, 1], "out_lshift": lshift}]


def test_mlkws_avepool_arguments_refused_by_name():
    with pytest.raises(KernelArgumentError, match="layer 'pool': arm_avepool_q7_HWC_nonsquare always "
                                                  "has rounding=1"):
        build("ds_cnn", {"shape": [49, 10, 1], "bits": 8, "frac_bits": 1},
              _mlkws_net()[:2] + [dict(_mlkws_net()[2], rounding=0)])
    with pytest.raises(KernelArgumentError, match="layer 'pool': out_lshift=40"):
        build("ds_cnn", {"shape": [49, 10, 1], "bits": 8, "frac_bits": 1}, _mlkws_net(40))
    with pytest.raises(KernelArgumentError, match="layer 'pool': arm_avepool_q7_HWC takes no out_lshift"):
        build("ds_cnn", {"shape": [49, 10, 1], "bits": 8, "frac_bits": 1},
              _mlkws_net()[:2] + [dict(_mlkws_net()[2], kernel="arm_avepool_q7_HWC")])


def test_mlkws_avepool_simulates():
    """ML-KWS's global average pool: (sum of the valid taps << out_lshift) / count, C division
    (toward zero), sat8; the output frac_bits are the input's + out_lshift."""
    g = build("ds_cnn", {"shape": [49, 10, 1], "bits": 8, "frac_bits": 1}, _mlkws_net(2))
    pool = g.nodes[-1]
    assert pool.op == "avgpool" and pool.kernel == "qsim_avepool_q7_HWC_nonsquare"
    assert g.output_q(pool).frac_bits == g.input_q(pool).frac_bits + 2
    x = np.random.default_rng(2).integers(-128, 128, (6, 49, 10, 1)).astype(np.int8)
    tr = simulate(g, x, trace=True)
    s = tr[g.nodes[1].output].astype(np.int64).sum(axis=(1, 2)) * 4
    want = np.clip(np.trunc(s / 125).astype(np.int64), -128, 127)
    np.testing.assert_array_equal(tr[pool.output].reshape(6, -1), want)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 20), st.integers(1, 5), st.integers(1, 3), st.integers(0, 4), st.integers(1, 14))
def test_explicit_output_size_is_kept_or_named(n, k, s, p, out):
    """Any explicit output size: the graph has exactly that output (bottom padding < kernel) or
    the build raises a QsimError, never another exception."""
    from qsim.errors import QsimError
    from qsim.ops import out_dim, pads_end
    layer = {"name": "c", "kernel": "arm_convolve_HWC_q7_basic_nonsquare", "weight": [0] * k * k,
             "bias": [0], "bias_shift": 0, "out_shift": 7, "kernel_shape": k, "strides": s,
             "pads": p, "out": out}
    try:
        g = build("n", {"shape": [n, n, 1], "bits": 8, "frac_bits": 7}, [layer])
    except QsimError:
        return
    node = g.nodes[0]
    assert g.tensors[node.output].shape == (out, out, 1)
    e = pads_end(node)
    assert max(e) < k and out_dim(n, k, s, p, p_end=e[0]) == out


def test_companion_kernels_built_as_quantized():
    """Layers named by companion kernel: the quantizer's kernels, formats and companion
    arguments (lower derives them back from the node), q7 and q15."""
    from qsim.lower import kernel_call
    for scheme in ("q7", "q15"):
        q = quantized("comp", scheme, "dsp", "5.9.0")
        assert sum(str(n.kernel).startswith("qsim_") for n in q.nodes) == (5 if scheme == "q15" else 4)
        b = build(q.name, input_spec(q), call_layers(q), path="dsp", release="5.9.0")
        for n1, n2 in zip(q.nodes, b.nodes):
            a1, a2 = kernel_call(q, n1).args, kernel_call(b, n2).args
            assert n1.kernel == n2.kernel and a1.keys() == a2.keys(), n1.name
            assert all(np.array_equal(a1[k], a2[k]) for k in a1), n1.name


def test_companion_arguments_refused_by_name():
    q = quantized("comp", "q7", "dsp", "5.9.0")
    layers = call_layers(q)
    clip = next(i for i, l in enumerate(layers) if l["kernel"] == "qsim_clip_q7")
    glob = next(i for i, l in enumerate(layers) if l["kernel"] == "qsim_global_avepool_q7_HWC")
    pool = next(i for i, l in enumerate(layers) if l["kernel"] == "qsim_avepool_q7_HWC_nonsquare")
    cases = [(clip, dict(min_val=5, max_val=5), KernelArgumentError, "min_val 5 must be below"),
             (clip, dict(max_val=300), KernelArgumentError, "max_val=300 must be an integer"),
             (glob, dict(rounding=1), KernelArgumentError, "takes no rounding"),
             (glob, dict(kernel_shape=[1, 1]), KernelArgumentError, "averages the whole image"),
             (pool, dict(rounding=2), KernelArgumentError, "rounding=2 must be an integer in 0..1"),
             (pool, dict(kernel="qsim_add_q7"), UnsupportedOpError, "takes several inputs")]
    for i, change, exc, msg in cases:
        bad = [dict(l, **change) if j == i else l for j, l in enumerate(layers)]
        with pytest.raises(exc, match=f"layer '{layers[i]['name']}': .*{msg}"):
            build(q.name, input_spec(q), bad, path="dsp", release="5.9.0")
    no_bounds = [{k: v for k, v in l.items() if k != "max_val"} for l in layers]
    with pytest.raises(ShapeError, match="needs 'min_val' and 'max_val'"):
        build(q.name, input_spec(q), no_bounds, path="dsp", release="5.9.0")


def test_rounding_attribute_through_quantize():
    """avgpool rounding=1 in the IR: quantize puts it on qsim_avepool_q7_HWC_nonsquare even where
    CMSIS's square pool or the global companion would fit; validate refuses it elsewhere."""
    from qsim.calibrate import calibrate
    from qsim.errors import QsimError
    from qsim.importers.spec import Sequential
    from qsim.quantize import quantize
    from qsim.validate import validate_quantized
    g = Sequential.from_dict(SPECS["mixed"]).build(seed=0)
    g.node("avgpool1").attrs["rounding"] = 1
    x = data(SPECS["mixed"], 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, calibrate(g, x), scheme="q7", path="dsp", version="5.9.0")
    pool = q.node("avgpool1")
    assert pool.kernel == "qsim_avepool_q7_HWC_nonsquare" and pool.attrs["rounding"] == 1
    b = build(q.name, input_spec(q), call_layers(q), path="dsp", release="5.9.0")
    assert b.node("avgpool1").attrs["rounding"] == 1
    _same_integers(q, b, data(SPECS["mixed"], 8, seed=3))
    m = build("ds_cnn", {"shape": [49, 10, 1], "bits": 8, "frac_bits": 1}, _mlkws_net(2))
    assert m.nodes[-1].attrs.get("rounding") == 1 and "count_include_pad" not in m.nodes[-1].attrs
    for graph, node, kernel in ((m, m.nodes[-1], "qsim_global_avepool_q7_HWC"),
                                (q, pool, "arm_avepool_q7_HWC")):
        node.kernel = kernel
        with pytest.raises(QsimError, match="rounding"):
            validate_quantized(graph)
