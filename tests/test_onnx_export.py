"""ONNX export: onnxruntime on the exported model == float_exec; export -> import round trips.

Tolerance (ORT vs float_exec): float_exec runs in float64, onnxruntime in float32 on float32
weights; float32 rounding accumulated over dot products of up to ~800 terms (conv 5x5x32) and a
few layers gives relative errors around 1e-6, so outputs are compared with rtol 1e-4 and atol
1e-5 * max(1, max|ref|) (outputs range from softmax probabilities to activations of a few units).
Round trip: weights are float32 on both sides and the imported graph runs the same ops in the
same order, so float_exec results are compared exactly.
"""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from qsim import float_exec
from qsim.errors import UnsupportedOpError
from qsim.exporters import export_onnx, to_onnx
from qsim.graph import Graph, Node
from qsim.importers.onnx_import import load_onnx
from qsim.importers.spec import KWS_SPEC, Sequential

RTOL, ATOL = 1e-4, 1e-5


def kws():
    return Sequential.from_dict(KWS_SPEC)


def cifar():
    """CMSIS's CIFAR-10 example shape, with padded pools."""
    return (Sequential((32, 32, 3), "cifar")
            .conv(32, 5, pad=2).relu().maxpool(3, stride=2, pad=1)
            .conv(16, 5, pad=2).relu().avgpool(3, stride=2, pad=1)
            .conv(32, 5, pad=2).relu().avgpool(3, stride=2)
            .fc(10).softmax())


def depthwise():
    """Depthwise-separable blocks, sigmoid/tanh, global average pooling, explicit flatten."""
    return (Sequential((12, 10, 8), "dw")
            .depthwise(3, pad=1).relu().conv(16, 1).sigmoid()
            .depthwise((3, 5), stride=(2, 1), pad=(1, 2)).tanh()
            .avgpool().flatten().fc(5).softmax())


def image_out():
    """Ends on an image (NHWC output), softmax over channels."""
    return (Sequential((9, 7, 4), "img")
            .conv(6, (3, 2), stride=(1, 2)).relu().maxpool(2, stride=1, pad=1).softmax())


def reshaped():
    """A reshape back to an image between a flatten and a pool (not importable: see round trip)."""
    return (Sequential((9, 7, 4), "reshaped")
            .conv(6, (3, 2), stride=(1, 2)).relu().flatten().reshape((7, 3, 6))
            .maxpool(2, stride=1, pad=1).tanh())


ROUND_TRIP = {"kws": kws, "cifar": cifar, "depthwise": depthwise, "image_out": image_out}
NETS = dict(ROUND_TRIP, reshaped=reshaped)


def run_ort(model, x, threads=1):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def inputs(graph, rng, n=5):
    return rng.normal(size=(n, *graph.tensors[graph.inputs[0]].shape)).astype(np.float32)


@pytest.mark.parametrize("net", sorted(NETS))
def test_ort_matches_float_exec(net, rng):
    g = NETS[net]().build(seed=1)
    x = inputs(g, rng)
    ref = float_exec.run(g, x, dtype=np.float64)
    got = run_ort(to_onnx(g), x)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("opset", [11, 13, 17, onnx.defs.onnx_opset_version()])
def test_opsets(opset, rng):
    g = kws().build(seed=2)
    model = to_onnx(g, opset=opset)
    assert model.opset_import[0].version == opset
    x = inputs(g, rng)
    np.testing.assert_allclose(run_ort(model, x), float_exec.run(g, x, dtype=np.float64),
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("net", sorted(ROUND_TRIP))
def test_round_trip(net, rng, tmp_path):
    """Not `reshaped`: the importer reads a Reshape to an image as CHW (ONNX's convention)."""
    g = ROUND_TRIP[net]().build(seed=3)
    path = export_onnx(g, tmp_path / f"{net}.onnx")
    back = load_onnx(path)
    assert back.inputs == g.inputs and back.outputs == g.outputs
    weighted = [n for n in g.nodes if n.params]
    for n in weighted:
        for k, v in n.params.items():
            np.testing.assert_array_equal(back.node(n.name).params[k], v)
    x = inputs(g, rng)
    np.testing.assert_array_equal(float_exec.run(back, x), float_exec.run(g, x))


def test_transient_ops(rng):
    """batchnorm (image and vector) and transpose, which only unfolded/imported graphs hold."""
    g = Graph("transient")
    g.add_input("input", (5, 4, 3))
    bn = {k: rng.uniform(0.5, 1.5, 3).astype(np.float32) for k in ("scale", "var")}
    bn.update({k: rng.normal(size=3).astype(np.float32) for k in ("bias", "mean")})
    g.add_node(Node("bn", "batchnorm", ["input"], ["bn"], {"epsilon": 1e-3}, bn))
    g.add_node(Node("tr", "transpose", ["bn"], ["tr"], {"perm": (1, 0, 2)}))
    g.add_node(Node("pool", "maxpool", ["tr"], ["pool"], {"kernel_shape": (2, 2)}))
    g.add_node(Node("flat", "flatten", ["pool"], ["flat"]))
    bn2 = {k: rng.uniform(0.5, 1.5, 12).astype(np.float32)
           for k in ("scale", "var", "bias", "mean")}
    g.add_node(Node("bn2", "batchnorm", ["flat"], ["bn2"], {}, bn2))
    g.outputs = ["bn2", "tr"]
    x = inputs(g, rng)
    sess = ort.InferenceSession(to_onnx(g).SerializeToString())
    got = dict(zip(g.outputs, sess.run(g.outputs, {"input": x})))
    ref = float_exec.run(g, x, dtype=np.float64)
    for t in g.outputs:
        np.testing.assert_allclose(got[t], ref[t], rtol=RTOL, atol=ATOL)


def test_file_layout_and_atomic_write(tmp_path):
    g = kws().build(seed=4)
    path = tmp_path / "sub" / "kws.onnx"
    assert export_onnx(g, path) == path
    export_onnx(g, path)                                  # overwrite in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["kws.onnx"]   # no temp files left
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    dims = lambda vi: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
    assert [(i.name, dims(i)) for i in model.graph.input] == [("input", ["N", 49, 10, 1])]
    assert [(o.name, dims(o)) for o in model.graph.output] == [("softmax1", ["N", 3])]
    assert model.producer_name == "qsim"
    transposes = [n for n in model.graph.node if n.op_type == "Transpose"]
    assert len(transposes) == 2                            # into NCHW once, back once before fc1


def test_errors(tmp_path):
    g = kws().build(seed=5)
    with pytest.raises(UnsupportedOpError, match="opset 9"):
        to_onnx(g, opset=9)
    img = image_out().build(seed=5)
    img.nodes[-1].attrs["axis"] = 0                        # softmax over H: needs opset >= 13
    with pytest.raises(UnsupportedOpError, match="opset >= 13"):
        to_onnx(img, opset=11)
    to_onnx(img, opset=13)
    chw = kws().build(seed=5)
    chw.layout = "CHW"
    with pytest.raises(UnsupportedOpError, match="HWC"):
        export_onnx(chw, tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())
