"""Graph IR, op catalog, spec builder and the json+npz file format."""
import json
import os

import numpy as np
import pytest

from qsim import float_exec
from qsim.errors import ModelFormatError, ShapeError, UnsupportedOpError
from qsim.fixedpoint import QFormat
from qsim.graph import Graph, Node
from qsim.importers.spec import KWS_SPEC, Sequential


def kws(seed=0):
    return Sequential.from_dict(KWS_SPEC).build(seed=seed)


def test_kws_spec_shapes_and_layouts():
    g = kws()
    shapes = {n.name: g.tensors[n.output].shape for n in g.nodes}
    assert shapes["conv1"] == (40, 7, 28) and shapes["conv2"] == (16, 4, 30)
    assert shapes["fc1"] == (58,) and shapes["softmax1"] == (3,)
    assert g.node("conv2").params["weight"].shape == (30, 10, 4, 28)      # OHWI
    assert g.node("fc1").params["weight"].shape == (58, 16 * 4 * 30)
    assert g.is_chain() and g.layout == "HWC" and g.inputs == ["input"]


def test_builder_chain_equals_dict_and_is_seeded():
    seq = (Sequential(input_shape=(49, 10, 1), name="kws")
           .conv(28, (10, 4), stride=(1, 1), pad=(0, 0)).relu().conv(30, (10, 4), stride=(2, 1)).relu().fc(58).relu().fc(128).relu().fc(3)
           .softmax())
    a = seq.build(seed=3)
    b = Sequential.from_dict(json.loads(json.dumps(seq.to_dict()))).build(seed=3)
    for na, nb in zip(a.nodes, b.nodes):
        assert na.name == nb.name and na.attrs == nb.attrs
        for k in na.params:
            np.testing.assert_array_equal(na.params[k], nb.params[k])
    w = a.node("conv2").params["weight"]
    assert abs(w.std() - np.sqrt(2 / (10 * 4 * 28))) < 0.01          # He init


def test_depthwise_pool_spec():
    g = (Sequential((8, 9, 4)).depthwise((3, 3), pad=1).relu().maxpool(2).avgpool().flatten()
         .fc(5).build(seed=0))
    assert [g.tensors[n.output].shape for n in g.nodes] == [
        (8, 9, 4), (8, 9, 4), (4, 4, 4), (1, 1, 4), (4,), (5,)]
    assert g.node("depthwise1").params["weight"].shape == (3, 3, 4)


@pytest.mark.parametrize("attrs, match", [
    ({"kernel_shape": (3, 3), "pads": (3, 0)}, "pads"),
    ({"kernel_shape": (3, 3), "strides": (0, 1)}, "strides"),
    ({"kernel_shape": (9, 3)}, "does not fit"),
    ({"kernel_shape": (3, 3), "dilation": 2}, "unexpected attributes"),
])
def test_bad_attrs_name_the_node(attrs, match):
    g = Graph()
    g.add_input("x", (6, 6, 2))
    w = {"weight": np.zeros((4, *attrs["kernel_shape"], 2)), "bias": np.zeros(4)}
    with pytest.raises((ShapeError, UnsupportedOpError), match=match) as e:
        g.add_node(Node("convA", "conv", ["x"], ["y"], attrs, w))
    assert "convA" in str(e.value)


def test_bad_weight_shape_and_unknown_op():
    g = Graph()
    g.add_input("x", (6, 6, 2))
    with pytest.raises(ShapeError, match="weight shape .* does not match"):
        g.add_node(Node("c", "conv", ["x"], ["y"], {"kernel_shape": (3, 3)},
                        {"weight": np.zeros((4, 3, 3, 3)), "bias": np.zeros(4)}))
    with pytest.raises(UnsupportedOpError, match="unknown op"):
        g.add_node(Node("z", "lrn", ["x"], ["y"]))
    with pytest.raises(ShapeError, match="no earlier node"):
        g.add_node(Node("r", "relu", ["nope"], ["y"]))


def test_save_load_roundtrip_with_quant_fields(tmp_path):
    g = kws()
    g.tensors["conv1"].qformat = QFormat(8, 4)
    n = g.node("conv1")
    n.weight_q, n.bias_q, n.bias_shift, n.out_shift = QFormat(8, 7), QFormat(8, 6), 5, 9
    n.kernel, n.pad_ch_in = "arm_convolve_HWC_q7_basic_nonsquare", 3
    g.quant.scheme, g.quant.path = "q7", "dsp"
    for target in (tmp_path / "folder", tmp_path / "pair" / "kws.json"):
        path = g.save(target)
        assert path.exists() and path.with_suffix(".npz").exists()
        h = Graph.load(target)
        assert h.tensors["conv1"].qformat == QFormat(8, 4)
        m = h.node("conv1")
        assert (m.weight_q, m.bias_q) == (QFormat(8, 7), QFormat(8, 6))
        assert (m.bias_shift, m.out_shift) == (5, 9)
        assert m.kernel == n.kernel and m.pad_ch_in == 3 and m.pad_ch_out is None
        assert h.quant == g.quant and m.attrs == n.attrs and isinstance(m.attrs["strides"], tuple)
        x = np.random.default_rng(0).normal(size=(4, 49, 10, 1))
        np.testing.assert_array_equal(float_exec.run(g, x), float_exec.run(h, x))
    assert not [f for f in os.listdir(tmp_path / "folder") if f.endswith(".tmp")]
    doc = json.loads((tmp_path / "folder" / "model.json").read_text())
    assert doc["format"] == "qsim-graph" and doc["nodes"][0]["params"] == ["weight", "bias"]


def test_load_rejects_mismatched_or_missing_files(tmp_path):
    kws(0).save(tmp_path / "a")
    kws(1).save(tmp_path / "b")
    os.replace(tmp_path / "b" / "model.npz", tmp_path / "a" / "model.npz")
    with pytest.raises(ModelFormatError, match="sha256"):
        Graph.load(tmp_path / "a")
    with pytest.raises(ModelFormatError, match="missing"):
        Graph.load(tmp_path / "b")
    (tmp_path / "c.json").write_text("{not json")
    (tmp_path / "c.npz").write_bytes(b"")
    with pytest.raises(ModelFormatError, match="JSON"):
        Graph.load(tmp_path / "c.json")


def test_bypass_and_validate():
    g = Sequential((4, 4, 2)).relu().relu().fc(3).build(seed=0)
    g.bypass(g.node("relu2"))
    assert g.node("fc1").inputs == ["relu1"] and "relu2" not in g.tensors
    g.validate()
    g.tensors["fc1"].shape = (7,)
    with pytest.raises(ShapeError, match="records shape"):
        g.validate()
