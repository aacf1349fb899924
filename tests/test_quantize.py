"""qsim.quantize: formats and shifts on hand-computed examples, forced choices, error cases."""
import math
import warnings

import numpy as np
import pytest

from qsim import float_exec
from qsim.calibrate import Calibration, calibrate
from qsim.errors import QuantizationError, QuantizationWarning, UnsupportedOpError
from qsim.fixedpoint import QFormat
from qsim.graph import Graph, Node
from qsim.importers.spec import Sequential
from qsim.lower import kernel_call
from qsim.quantize import frac_for, mse_frac, quantize
from qsim.stats import Log2Histogram, MinMax


def _cal(ranges):
    """A Calibration with one MinMax per tensor: {tensor: (lo, hi)}."""
    stats = {}
    for t, (lo, hi) in ranges.items():
        s = MinMax()
        s.lo, s.hi, s.count = float(lo), float(hi), 1
        stats[t] = {"minmax": s}
    return Calibration(stats, 1)


def _fc_graph(w_max=0.4, b_max=0.1, rows=3, dim=4):
    g = Graph("fc")
    g.add_input("input", (dim,))
    w = np.full((rows, dim), -w_max / 2, np.float32)
    w[0, 0] = w_max
    b = np.full(rows, b_max / 3, np.float32)
    b[-1] = -b_max
    g.add_node(Node("fc1", "fc", ["input"], ["fc1"], {}, {"weight": w, "bias": b}))
    g.outputs = ["fc1"]
    return g


@pytest.mark.parametrize("m, bits, frac", [(1.0, 8, 7), (3.0, 8, 5), (0.3, 8, 8), (200.0, 8, -1),
                                           (0.0, 8, 7), (5.0, 16, 12), (1e-3, 16, 24)])
def test_frac_for_ceil_rule(m, bits, frac):
    assert frac_for(m, bits) == frac


def test_fc_formats_and_shifts_hand_computed():
    # input max 3 -> fi = 7 - 2 = 5; w max 0.4 -> fw = 7 + 1 = 8; b max 0.1 -> fb = 7 + 3 = 10;
    # output max 5 -> fo = 7 - 3 = 4. bias_shift = 5 + 8 - 10 = 3, out_shift = 13 - 4 = 9.
    g = _fc_graph()
    q = quantize(g, _cal({"input": (-3, 2), "fc1": (-1, 5)}), scheme="q7")
    n = q.node("fc1")
    assert q.tensors["input"].qformat.frac_bits == 5
    assert (n.weight_q.bits, n.weight_q.frac_bits, n.bias_q.frac_bits) == (8, 8, 10)
    assert q.tensors["fc1"].qformat.frac_bits == 4
    assert (n.bias_shift, n.out_shift) == (3, 9)
    assert n.kernel == "arm_fully_connected_q7_opt"
    assert q.quant.scheme == "q7" and g.quant.scheme is None          # the input graph is untouched
    assert g.node("fc1").weight_q is None


def test_q15_same_net():
    # q15, output max 1: fi = 15 - 2 = 13, fw = 16, fb = 18, fo = 15 (13 + 16 + 0 <= 30: no
    # headroom change): bias_shift 11, out_shift 14.
    q = quantize(_fc_graph(), _cal({"input": (-3, 2), "fc1": (-1, 1)}), scheme="q15")
    n = q.node("fc1")
    assert (q.tensors["input"].qformat.frac_bits, n.weight_q.frac_bits, n.bias_q.frac_bits,
            q.tensors["fc1"].qformat.frac_bits) == (13, 16, 18, 15)
    assert (n.bias_shift, n.out_shift) == (11, 14)
    assert n.kernel == "arm_fully_connected_q15_opt"


def test_negative_bias_shift_lowers_bias_precision():
    # b max 0.001 -> fb = 7 + 9 = 16 > fi + fw = 13: fb := 13, bias_shift 0, warned.
    g = _fc_graph(b_max=0.001)
    with pytest.warns(QuantizationWarning, match="layer 'fc1'.*bias"):
        q = quantize(g, _cal({"input": (-3, 2), "fc1": (-1, 5)}))
    n = q.node("fc1")
    assert (n.bias_q.frac_bits, n.bias_shift, n.out_shift) == (13, 0, 9)


def test_negative_out_shift_clamps_output():
    # output max 1e-4 -> fo = 7 + 13 = 20 > 13: fo := 13, out_shift 0, warned.
    g = _fc_graph()
    with pytest.warns(QuantizationWarning, match="layer 'fc1'.*out_shift 0"):
        q = quantize(g, _cal({"input": (-3, 2), "fc1": (-1e-4, 1e-4)}))
    assert q.tensors["fc1"].qformat.frac_bits == 13
    assert q.node("fc1").out_shift == 0


def test_bias_shift_above_31_is_an_error():
    # w max 0.001 -> fw = 16, fi = 5: acc 21; b max 1e6 -> fb = 7 - 20 = -13: bias_shift 34.
    g = _fc_graph(w_max=0.001, b_max=1e6)
    with pytest.raises(QuantizationError, match="layer 'fc1': bias_shift = 34 > 31.*help"):
        quantize(g, _cal({"input": (-3, 2), "fc1": (-1, 1)}))


def test_out_shift_above_31_is_an_error():
    # input max 1e-9 -> fi = 7 + 29 = 36; all-zero output -> fo = 7: out_shift = 36 + 8 - 7 = 37.
    g = _fc_graph(b_max=0.0)
    with pytest.raises(QuantizationError, match="layer 'fc1': out_shift = 37 > 31"):
        quantize(g, _cal({"input": (-1e-9, 1e-9), "fc1": (0, 0)}))


def test_accumulator_headroom_coarsens_q15_weights():
    # q15: fi = 13, fw = 16 and |pre-activation| up to 100 (2**7): 13 + 16 + 7 = 36 > 30 -> fw = 10.
    g = _fc_graph()
    q = quantize(g, _cal({"input": (-3, 2), "fc1": (-100, 1)}), scheme="q15")
    n = q.node("fc1")
    assert n.weight_q.frac_bits == 10
    assert q.tensors["input"].qformat.frac_bits + n.weight_q.frac_bits + 7 <= 30


def _net(seed=0):
    return (Sequential((8, 8, 4), "net").conv(6, 3, pad=1).relu().maxpool(2).fc(10).softmax()
            .build(seed=seed))


def test_relu_and_pool_keep_format_softmax_q0_7():
    g = _net()
    x = np.random.default_rng(0).normal(0, 1, (64, 8, 8, 4)).astype(np.float32)
    cal = calibrate(g, x)
    q = quantize(g, cal, scheme="q7")
    f = {t: q.tensors[t].qformat for t in q.tensors}
    assert f["conv1"] == f["relu1"] == f["maxpool1"]
    assert f["softmax1"] == QFormat(8, 7)
    # conv1 is read only by relu1: its negative side does not count
    m = max(cal["conv1"]["minmax"].hi, cal["relu1"]["minmax"].hi, cal["maxpool1"]["minmax"].hi)
    assert cal["conv1"]["minmax"].lo < -m
    assert f["conv1"].frac_bits == frac_for(m, 8)
    q15 = quantize(_fc_only(), calibrate(_fc_only(), x[:, 0, 0]), scheme="q15")
    assert q15.tensors["softmax1"].qformat == QFormat(16, 15)
    assert q15.meta["quantize"]["strategy"] == "minmax"


def _fc_only():
    return Sequential((4,), "f").fc(5).softmax().build(seed=1)


@pytest.mark.parametrize("hi, frac, warns", [(100.0, 4, True), (0.01, 7, False), (3.0, 5, False)])
def test_sigmoid_input_int_width(hi, frac, warns):
    g = Sequential((4,), "s").fc(3).sigmoid().build(seed=0)
    cal = _cal({"input": (-1, 1), "fc1": (-hi, hi), "sigmoid1": (0, 1)})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        q = quantize(g, cal)
    assert q.tensors["fc1"].qformat.frac_bits == frac
    assert q.tensors["sigmoid1"].qformat.frac_bits == 7
    assert any(issubclass(r.category, QuantizationWarning) for r in rec) == warns
    call = kernel_call(q, q.node("sigmoid1"))
    assert call.c_name == "arm_nn_activations_direct_q7" and call.in_place
    assert call.args == {"size": 3, "int_width": 7 - frac, "type": 0}


def test_q7q15_scheme_bits():
    g = Sequential((6, 6, 2), "m").conv(4, 3).relu().fc(5).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (32, 6, 6, 2)).astype(np.float32)
    q = quantize(g, calibrate(g, x), scheme="q7q15")
    assert all(t.qformat.bits == 16 for t in q.tensors.values())
    assert q.node("conv1").weight_q.bits == 16 and q.node("conv1").bias_q.bits == 16
    assert q.node("fc1").weight_q.bits == 8 and q.node("fc1").bias_q.bits == 8
    assert q.node("fc1").kernel == "arm_fully_connected_mat_q7_vec_q15_opt"


def test_mse_choice_is_near_the_true_optimum():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 100_000), [40.0, -60.0]])
    h = Log2Histogram()
    h.update(x)
    f0 = frac_for(60.0, 8)                        # minmax: 7 - 6 = 1
    true_mse = {f: np.mean((QFormat(8, f).dequantize(QFormat(8, f).quantize(x)) - x) ** 2)
                for f in range(f0, f0 + 9)}
    f = mse_frac([h], 8, f0)
    assert f > f0
    assert true_mse[f] <= 1.5 * min(true_mse.values())
    lone = Log2Histogram()
    lone.update(np.array([100.0] * 10))
    assert mse_frac([lone], 8, frac_for(100.0, 8)) == frac_for(100.0, 8)   # nothing to clip


def test_strategies_need_their_statistic():
    g = _fc_graph()
    cal = _cal({"input": (-3, 2), "fc1": (-1, 5)})
    with pytest.raises(QuantizationError, match="percentile.*help: calibrate"):
        quantize(g, cal, strategy="percentile")
    with pytest.raises(QuantizationError, match="log2hist"):
        quantize(g, cal, strategy="mse")
    with pytest.raises(QuantizationError, match="unknown strategy"):
        quantize(g, cal, strategy="kl")
    with pytest.raises(QuantizationError, match="unknown scheme"):
        quantize(g, cal, scheme="q31")
    with pytest.raises(QuantizationError, match="tensor 'fc1'.*no calibration"):
        quantize(g, _cal({"input": (-3, 2)}))


def _model_mse_frac(v, f0, bits=8):
    """quantize's documented mse choice, computed here from the raw values: each |v| >= 2**-24
    stands for 4 equally weighted points 2**(e + (k + 0.5) / 4) of its bin e = floor(log2|v|);
    per frac_bits f in [f0, f0 + 8] the error is (p - max)**2 above the format's max, p**2 below
    half a step, step**2 / 12 otherwise; the first f with the least error wins."""
    a = np.abs(v[np.abs(v) >= 2.0 ** -24])
    e, n = np.unique(np.floor(np.log2(a)), return_counts=True)
    p = 2.0 ** (e[:, None] + (np.arange(4) + 0.5) / 4)

    def err(f):
        step, top = 2.0 ** -f, ((1 << (bits - 1)) - 1) * 2.0 ** -f
        return float((n[:, None] * np.where(p > top, (p - top) ** 2,
                                            np.where(p < step / 2, p * p, step * step / 12))).sum())
    return min(range(f0, f0 + 9), key=err)


def test_percentile_and_mse_choices_match_an_independent_computation():
    """Each strategy's frac_bits equals the rule recomputed from the float trace: the ceil rule on
    the exact min/max and on np.percentile(0.1, 99.9), and the mse model above. One outlier (4.5)
    in 0.3-sigma noise makes the three disagree on the input (minmax 4, mse 5, percentile 7)."""
    g = _net()
    x = (0.3 * np.random.default_rng(1).normal(0, 1, (256, 8, 8, 4))).astype(np.float32)
    x[0, 0, 0, 0] = 4.5
    cal = calibrate(g, x, stats=("minmax", "percentile:99.9", "log2hist"))
    trace = {t: v.astype(np.float64) for t, v in float_exec.run(g, x, trace=True).items()}
    got = {s: quantize(g, cal, strategy=s, percentile=99.9) for s in ("minmax", "percentile", "mse")}
    # relu1 and maxpool1 keep conv1's format; fc1 reads maxpool1, so the mse error is measured there
    groups = {"input": (["input"], "input"), "conv1": (["conv1", "relu1", "maxpool1"], "maxpool1")}

    def ceil_rule(ranges):
        # conv1 is read only by relu1: its negative side does not count
        m = max(max(hi, 0.0) if t == "conv1" else max(abs(lo), abs(hi)) for t, (lo, hi) in ranges)
        return 7 - math.ceil(math.log2(m))

    for head, (members, read) in groups.items():
        f_minmax = ceil_rule((t, (trace[t].min(), trace[t].max())) for t in members)
        f_pct = ceil_rule((t, (np.percentile(trace[t], 0.1), np.percentile(trace[t], 99.9)))
                          for t in members)
        want = {"minmax": f_minmax, "percentile": f_pct, "mse": _model_mse_frac(trace[read], f_minmax)}
        for s, q in got.items():
            assert all(q.tensors[t].qformat.frac_bits == want[s] for t in members), (head, s, want)
    assert [got[s].tensors["input"].qformat.frac_bits for s in ("minmax", "mse", "percentile")] == [4, 5, 7]


def test_nan_weights_and_stats_name_the_layer():
    g = _fc_graph()
    g.node("fc1").params["weight"][1, 2] = np.nan
    with pytest.raises(QuantizationError, match="layer 'fc1': weight has 1 NaN/Inf"):
        quantize(g, _cal({"input": (-3, 2), "fc1": (-1, 5)}))
    with pytest.raises(QuantizationError, match="tensor 'fc1'.*NaN or Inf"):
        quantize(_fc_graph(), _cal({"input": (-3, 2), "fc1": (-np.inf, 5)}))


def test_unsupported_ops_and_layouts():
    g = _fc_graph()
    g.layout = "CHW"
    with pytest.raises(UnsupportedOpError, match="HWC"):
        quantize(g, _cal({"input": (-3, 2), "fc1": (-1, 5)}))
    g = Sequential((6, 6, 4), "p").maxpool(2).build(seed=0)   # q15 pooling: a companion kernel
    q = quantize(g, _cal({"input": (-1, 1), "maxpool1": (-1, 1)}), scheme="q15")
    assert q.node("maxpool1").kernel == "qsim_maxpool_q15_HWC_nonsquare"


def test_frac_bits_override_forces_group_formats_and_shifts():
    g = _net()
    x = np.random.default_rng(0).normal(0, 1, (64, 8, 8, 4)).astype(np.float32)
    cal = calibrate(g, x)
    base = quantize(g, cal, scheme="q7")
    fi = base.tensors["input"].qformat.frac_bits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)     # coarse input: bias lowered
        q = quantize(g, cal, scheme="q7", frac_bits_override={"input": fi - 3, "relu1": 1})
    f = {t: q.tensors[t].qformat.frac_bits for t in q.tensors}
    assert f["input"] == fi - 3
    assert f["conv1"] == f["relu1"] == f["maxpool1"] == 1          # the whole relu/pool group
    assert f["fc1"] == base.tensors["fc1"].qformat.frac_bits        # others keep the strategy's
    c1 = q.node("conv1")
    assert c1.weight_q == base.node("conv1").weight_q
    assert c1.out_shift == fi - 3 + c1.weight_q.frac_bits - 1
    assert c1.bias_shift == fi - 3 + c1.weight_q.frac_bits - c1.bias_q.frac_bits
    assert q.meta["quantize"]["frac_bits_override"] == {"input": fi - 3, "relu1": 1}
    assert "frac_bits_override" not in base.meta["quantize"]
    assert quantize(g, cal, scheme="q7", frac_bits_override={}).tensors["input"].qformat == \
        base.tensors["input"].qformat


@pytest.mark.parametrize("override, match", [({"nope": 1}, "no tensor 'nope'"),
                                             ({"softmax1": 3}, "fixed"),
                                             ({"input": 1.5}, "must be an int"),
                                             ({"conv1": 1, "maxpool1": 2}, "one value")])
def test_frac_bits_override_errors(override, match):
    g = _net()
    cal = calibrate(g, np.random.default_rng(0).normal(0, 1, (8, 8, 8, 4)).astype(np.float32))
    with pytest.raises(QuantizationError, match=match):
        quantize(g, cal, scheme="q7", frac_bits_override=override)


def test_softmax_q7_input_range_kept_inside_the_570_dsp_wrap_limit():
    # 5.7.0's DSP arm_softmax_q7 wraps byte lanes for inputs > 122 steps below the max (doc §4.2)
    g = Sequential((4,), "f").fc(8).softmax().build(seed=1)
    fc1 = g.node("fc1").params
    fc1["bias"][:2] = 100, -100            # in one block of 4: every vector spreads over ~200
    x = np.random.default_rng(0).normal(0, 1, (256, 4)).astype(np.float32)
    cal = calibrate(g, x)
    lo, hi = cal["fc1"]["minmax"].range()
    ref = quantize(g, cal, scheme="q7", path="ref", version="5.7.0")
    with pytest.warns(UserWarning, match="wraps byte"):
        dsp = quantize(g, cal, scheme="q7", path="dsp", version="5.7.0")
    f_ref, f_dsp = ref.tensors["fc1"].qformat.frac_bits, dsp.tensors["fc1"].qformat.frac_bits
    assert (hi - lo) * 2.0 ** f_ref > 122                    # the plain rule would wrap ...
    assert (hi - lo) * 2.0 ** f_dsp <= 122 < (hi - lo) * 2.0 ** (f_dsp + 1)   # ... the cap not
    assert quantize(g, cal, scheme="q7", path="dsp", version="5.9.0").tensors["fc1"].qformat \
        .frac_bits == f_ref                                  # 5.9.0's DSP softmax is REF's
    from qsim.kernels import KERNELS
    from qsim.simulate import simulate
    for q in (ref, dsp):     # the softmax input integers through the broken C and through REF's
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logits = simulate(q, x, trace=True)["fc1"]
        outs = [KERNELS["arm_softmax_q7"](logits, 8, path=p, version="5.7.0") for p in ("ref", "dsp")]
        same = np.array_equal(outs[0], outs[1])
        assert same if q is dsp else not same
    with pytest.warns(UserWarning, match="wraps byte"):       # a forced format is kept
        forced = quantize(g, cal, scheme="q7", path="dsp", version="5.7.0",
                          frac_bits_override={"fc1": f_ref})
    assert forced.tensors["fc1"].qformat.frac_bits == f_ref
