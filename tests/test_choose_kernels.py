"""passes.choose_kernels: the kernel table, q15 channel padding, and the refusals."""
import warnings

import numpy as np
import pytest

from qsim.errors import UnsupportedOpError
from qsim.graph import Graph, Node, QuantSettings
from qsim.importers.spec import Sequential
from qsim.lower import channel_pad, stored_shape
from qsim.constraints import fast_geometry_ok
from qsim.ops import ConvGeometry
from qsim.passes.choose_kernels import choose_kernels


def _choose(seq, scheme="q7", path="ref", version="5.7.0", **kw):
    g = seq.build(seed=0)
    g.quant = QuantSettings(scheme, path, version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        choose_kernels(g, **kw)
    return g


def _conv(shape, ch_out, kernel, stride=1, pad=0):
    return Sequential(shape, "c").conv(ch_out, kernel, stride=stride, pad=pad)


CONV_TABLE = [
    # scheme, path, version, input HWC, ch_out, kernel, stride, pad, expected kernel
    ("q7", "ref", "5.7.0", (8, 8, 3), 4, 3, 1, 1, "arm_convolve_HWC_q7_RGB"),
    ("q7", "dsp", "5.7.0", (8, 8, 8), 4, 1, 1, 0, "arm_convolve_1x1_HWC_q7_fast_nonsquare"),
    ("q7", "ref", "5.7.0", (6, 9, 8), 6, 1, 1, 0, "arm_convolve_1x1_HWC_q7_fast_nonsquare"),
    ("q7", "dsp", "5.7.0", (8, 8, 8), 4, 3, 1, 1, "arm_convolve_HWC_q7_fast"),
    ("q7", "ref", "5.7.0", (8, 8, 8), 5, 3, 1, 1, "arm_convolve_HWC_q7_basic"),
    ("q7", "ref", "5.7.0", (8, 8, 6), 4, 3, 2, 0, "arm_convolve_HWC_q7_basic"),
    ("q7", "dsp", "5.7.0", (8, 6, 8), 4, 3, 1, 1, "arm_convolve_HWC_q7_fast_nonsquare"),
    ("q7", "ref", "5.7.0", (8, 8, 8), 4, (3, 1), 1, 0, "arm_convolve_HWC_q7_fast_nonsquare"),
    ("q7", "ref", "5.7.0", (8, 6, 5), 4, 3, 1, 0, "arm_convolve_HWC_q7_basic_nonsquare"),
    ("q7", "ref", "5.7.0", (8, 8, 3), 4, (3, 2), 1, 0, "arm_convolve_HWC_q7_basic_nonsquare"),
    ("q7", "ref", "5.7.0", (49, 10, 1), 28, (10, 4), 1, 0, "arm_convolve_HWC_q7_basic_nonsquare"),
    # REF 5.7.0 signed-char quirk (indices > 127): the int-indexed fast_nonsquare is used instead
    ("q7", "ref", "5.7.0", (140, 140, 4), 2, 3, 1, 1, "arm_convolve_HWC_q7_fast_nonsquare"),
    ("q7", "ref", "5.9.0", (140, 140, 4), 2, 3, 1, 1, "arm_convolve_HWC_q7_fast"),
    ("q7", "dsp", "5.7.0", (140, 140, 3), 2, 3, 1, 1, "arm_convolve_HWC_q7_RGB"),
    ("q15", "ref", "5.7.0", (8, 8, 3), 4, 3, 1, 1, "arm_convolve_HWC_q15_basic"),
    ("q15", "ref", "5.7.0", (8, 8, 4), 4, 3, 1, 1, "arm_convolve_HWC_q15_fast"),
    ("q15", "ref", "5.7.0", (8, 8, 4), 3, 3, 1, 1, "arm_convolve_HWC_q15_basic"),
    ("q15", "ref", "5.7.0", (7, 7, 4), 4, 3, 1, 1, "arm_convolve_HWC_q15_fast"),
    ("q15", "dsp", "5.7.0", (7, 7, 4), 4, 3, 1, 1, "arm_convolve_HWC_q15_basic"),  # odd width
    ("q15", "dsp", "5.7.0", (8, 8, 4), 4, 3, 1, 1, "arm_convolve_HWC_q15_fast"),
    ("q15", "ref", "5.7.0", (8, 6, 4), 4, 3, 1, 1, "arm_convolve_HWC_q15_fast_nonsquare"),
    ("q7q15", "ref", "5.7.0", (8, 6, 4), 4, 3, 1, 1, "arm_convolve_HWC_q15_fast_nonsquare"),
]


@pytest.mark.parametrize("scheme, path, version, shape, co, k, s, p, kernel", CONV_TABLE)
def test_conv_kernel_table(scheme, path, version, shape, co, k, s, p, kernel):
    g = _choose(_conv(shape, co, k, s, p), scheme, path, version)
    assert g.node("conv1").kernel == kernel
    assert g.node("conv1").pad_ch_in is None and g.node("conv1").pad_ch_out is None


def test_quirk_without_alternative_is_refused():
    with pytest.raises(UnsupportedOpError, match=r"layer 'conv1'.*signed char.*140x140x3.*5\.9\.0"):
        _choose(_conv((140, 140, 3), 2, 3, 1, 1))
    with pytest.raises(UnsupportedOpError, match="layer 'conv1'.*arm_convolve_HWC_q15_basic"):
        _choose(_conv((140, 140, 4), 3, 3, 1, 1), "q15")


def test_q15_nonsquare_pads_odd_input_channels_from_graph_input():
    g = _choose(Sequential((49, 10, 1), "kws").conv(28, (10, 4)).relu().fc(3), "q15")
    conv = g.node("conv1")
    assert conv.kernel == "arm_convolve_HWC_q15_fast_nonsquare"
    assert (conv.pad_ch_in, conv.pad_ch_out) == (1, None)
    assert channel_pad(g, "input") == 1 and stored_shape(g, "input") == (49, 10, 2)
    assert stored_shape(g, "conv1") == (40, 7, 28)


def test_q15_nonsquare_pads_odd_output_channels_through_relu():
    g = _choose(Sequential((9, 6, 2), "n").conv(3, (3, 2)).relu().conv(4, (3, 2)).fc(2), "q15")
    c1, r1, c2 = g.node("conv1"), g.node("relu1"), g.node("conv2")
    assert (c1.pad_ch_in, c1.pad_ch_out) == (None, 1)
    assert (r1.pad_ch_in, r1.pad_ch_out) == (1, 1)
    assert (c2.pad_ch_in, c2.pad_ch_out) == (1, None)
    assert stored_shape(g, "relu1") == (7, 5, 4)
    # an fc reading a padded image gets zero columns instead
    g = _choose(Sequential((9, 6, 2), "n").conv(3, (3, 2)).relu().fc(2), "q15")
    assert g.node("fc1").pad_ch_in == 1


def test_q15_padding_that_cannot_be_carried_is_refused():
    seq = Sequential((4,), "r").fc(45).reshape((9, 5, 1)).conv(4, (3, 2))
    with pytest.raises(UnsupportedOpError, match="layer 'conv1'.*even number of input channels"):
        _choose(seq, "q15")
    seq = Sequential((9, 6, 2), "s").conv(3, (3, 2)).softmax()
    with pytest.raises(UnsupportedOpError, match="layer 'softmax1'.*zero padding channel"):
        _choose(seq, "q15")


def test_q15_dsp_odd_output_width_nonsquare_is_refused():
    with pytest.raises(UnsupportedOpError, match=r"layer 'conv1'.*output 40x7x28.*even output width"):
        _choose(Sequential((49, 10, 1), "kws").conv(28, (10, 4)), "q15", "dsp")


def test_depthwise_fc_pool_activation_softmax_names():
    g = _choose(Sequential((8, 8, 4), "d").depthwise(3, pad=1).relu().maxpool(2).avgpool()
                .fc(6).sigmoid().fc(4).tanh().fc(3).softmax())
    kernels = [n.kernel for n in g.nodes]
    assert kernels == ["arm_depthwise_separable_conv_HWC_q7", "arm_relu_q7", "arm_maxpool_q7_HWC",
                       "arm_avepool_q7_HWC", "arm_fully_connected_q7_opt",
                       "arm_nn_activations_direct_q7", "arm_fully_connected_q7_opt",
                       "arm_nn_activations_direct_q7", "arm_fully_connected_q7_opt",
                       "arm_softmax_q7"]
    g = _choose(Sequential((8, 6, 4), "d").depthwise((3, 2)).flatten().fc(3), fc_opt=False)
    assert [n.kernel for n in g.nodes] == ["arm_depthwise_separable_conv_HWC_q7_nonsquare", None,
                                           "arm_fully_connected_q7"]
    g = _choose(Sequential((5,), "f").fc(3).relu().fc(2).softmax(), "q15")
    assert [n.kernel for n in g.nodes] == ["arm_fully_connected_q15_opt", "arm_relu_q15",
                                           "arm_fully_connected_q15_opt", "arm_softmax_q15"]
    g = _choose(Sequential((4, 4, 6), "s").softmax())
    assert g.node("softmax1").kernel == "arm_softmax_with_batch_q7"


@pytest.mark.parametrize("seq, scheme, match", [
    (Sequential((4, 4, 6), "s").softmax(), "q15", "q15 softmax takes one vector"),
])
def test_refusals_name_the_layer(seq, scheme, match):
    with pytest.raises(UnsupportedOpError, match=f"layer '.*1'.*{match}"):
        _choose(seq, scheme)


@pytest.mark.parametrize("seq, scheme, kernel, why", [
    (Sequential((8, 8, 4), "d").depthwise(3), "q15", "qsim_depthwise_conv_HWC_q15_nonsquare",
     "only a q7 depthwise"),
    (Sequential((8, 6, 4), "p").maxpool(2), "q7", "qsim_maxpool_q7_HWC_nonsquare", "square only"),
    (Sequential((8, 8, 4), "p").avgpool(2), "q7q15", "qsim_avepool_q15_HWC_nonsquare",
     "only q7 pooling"),
])
def test_companion_where_cmsis_has_no_kernel(seq, scheme, kernel, why):
    """What legacy CMSIS-NN cannot run goes to a qsim companion kernel, with the reason kept."""
    g = _choose(seq, scheme)
    node = g.nodes[0]
    assert node.kernel == kernel
    assert why in g.meta["kernels"][node.name] and "qsim companion" in g.meta["kernels"][node.name]


def test_batchnorm_needs_the_pipeline():
    g = Graph("b")
    g.add_input("input", (4, 4, 2))
    ones = np.ones(2, np.float32)
    g.add_node(Node("bn", "batchnorm", ["input"], ["bn"], {},
                    {"scale": ones, "bias": ones, "mean": ones, "var": ones}))
    g.quant = QuantSettings("q7")
    with pytest.raises(UnsupportedOpError, match="layer 'bn'.*run_pipeline"):
        choose_kernels(g)


def test_fast_geometry_condition():
    # natural output sizes always satisfy §1.3; a too-large output does not
    def g(in_yx, ch_in, k, pad, stride, out_yx, ch_out):
        return ConvGeometry(*in_yx, ch_in, *k, *pad, *stride, *out_yx, ch_out)
    assert fast_geometry_ok(g((8, 8), 4, (3, 3), (1, 1), (1, 1), (8, 8), 4))
    assert fast_geometry_ok(g((49, 10), 28, (10, 4), (0, 0), (2, 1), (20, 7), 30))
    assert not fast_geometry_ok(g((8, 8), 4, (3, 3), (1, 1), (1, 1), (10, 10), 4))


def test_known_bug_warnings():
    seq = Sequential((4,), "a").fc(3).sigmoid()
    with pytest.warns(UserWarning, match="layer 'sigmoid1'.*5.7.0 maps every negative input"):
        g = seq.build(seed=0)
        g.quant = QuantSettings("q15", "ref", "5.7.0")
        choose_kernels(g)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g.quant = QuantSettings("q15", "ref", "5.9.0")
        choose_kernels(g)
    with pytest.warns(UserWarning, match="layer 'softmax1'.*DSP path of 5.7.0"):
        g = Sequential((4,), "s").fc(3).softmax().build(seed=0)
        g.quant = QuantSettings("q7", "dsp", "5.7.0")
        choose_kernels(g)


def test_q7_channels_are_zero_padded_for_fast_kernels(monkeypatch):
    """Zero channels (10 -> 12, 9 -> 12) make arm_convolve_HWC_q7_fast legal; same integers."""
    from qsim import passes
    from qsim.calibrate import calibrate
    from qsim.quantize import quantize
    from qsim.simulate import simulate
    from tests.harness.test_parity_host import PADDED_Q7

    g = Sequential.from_dict(PADDED_Q7).build(seed=0)
    x = np.random.default_rng(0).normal(0, 1, (64, 9, 9, 3)).astype(np.float32)
    cal = calibrate(g, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, cal, scheme="q7", path="dsp", version="5.9.0")
        conv1, conv2, conv3 = (n for n in q.nodes if n.op == "conv")
        assert conv2.kernel == conv3.kernel == "arm_convolve_HWC_q7_fast"
        assert (conv1.pad_ch_out, conv2.pad_ch_in, conv2.pad_ch_out, conv3.pad_ch_in) == (2, 2, 3, 3)
        assert stored_shape(q, conv1.output) == (9, 9, 12)
        padded = simulate(q, x, trace=True)
        monkeypatch.setattr(passes.choose_kernels, "_q7_fast_padding", lambda *a: None)
        plain = quantize(g, cal, scheme="q7", path="dsp", version="5.9.0")
        assert [n.kernel for n in plain.nodes if n.op == "conv"][1] == "arm_convolve_HWC_q7_basic"
        unpadded = simulate(plain, x, trace=True)
    for t in unpadded:
        np.testing.assert_array_equal(padded[t], unpadded[t], err_msg=t)


def test_q7_padding_skipped_when_a_reader_cannot_ignore_zero_channels():
    g = _choose(Sequential((8, 8, 3), "c").conv(10, 3, pad=1).relu().depthwise(3, pad=1)
                .conv(9, 3))
    assert all(n.pad_ch_in is None and n.pad_ch_out is None for n in g.nodes)
