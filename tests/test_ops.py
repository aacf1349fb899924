"""The op catalogue's traits agree with what the ops do: shapes, parameters and kernel choice."""
import numpy as np
import pytest

from qsim.graph import QuantSettings
from qsim.importers.spec import Sequential
from qsim.ops import OPS, ConvGeometry
from qsim.passes.choose_kernels import choose_kernels


def _net():
    return (Sequential((8, 8, 4), "t").conv(6, 3, pad=1).relu().depthwise(3, pad=1).sigmoid()
            .maxpool(2).avgpool(2).tanh().flatten().fc(5).reshape((5,)).fc(3).softmax()
            .build(seed=0))


def test_traits_are_consistent():
    for name, spec in OPS.items():
        assert spec.weighted == ("weight" in spec.params), name
        assert (spec.channel_axis is not None) == spec.weighted, name
        assert not (spec.keeps_format and spec.fixed_output), name
        assert spec.window == ("kernel_shape" in spec.attrs), name
        if spec.elementwise:
            assert spec.pass_through, name


def test_traits_match_the_graph():
    g = _net()
    for node in g.nodes:
        spec = OPS[node.op]
        x, y = g.tensors[node.input].shape, g.tensors[node.output].shape
        if spec.weighted:       # fold_batchnorm scales this axis: one entry per output channel
            assert node.params["weight"].shape[spec.channel_axis] == y[-1], node.name
        if spec.elementwise:
            assert x == y, node.name
        if spec.pass_through:   # the channel axis survives, last
            assert x[-1] == y[-1] and len(x) == len(y) == 3, node.name
        if spec.window:
            geo = ConvGeometry.of(g, node)
            assert (geo.in_y, geo.in_x, geo.ch_in, geo.out_y, geo.out_x, geo.ch_out) == x + y
            assert ConvGeometry.from_args(dict(geo.c_args(square=False), ch_im_in=geo.ch_in,
                                               ch_im_out=geo.ch_out)) == geo


@pytest.mark.parametrize("scheme", ["q7"])
def test_data_moves_get_no_kernel(scheme):
    g = _net()
    g.quant = QuantSettings(scheme)
    choose_kernels(g)
    for node in g.nodes:
        assert (node.kernel is None) == bool(OPS[node.op].data_move), node.name
    assert np.any([OPS[n.op].data_move for n in g.nodes])
