"""Net (the trainable view of a Graph) against float_exec, finite differences and the QAT hook."""
import numpy as np
import pytest

from qsim import float_exec
from qsim.errors import UnsupportedOpError
from qsim.graph import Node
from qsim.importers.spec import CIFAR10_SPEC, DS_CNN_SPEC, KWS_SPEC, Sequential
from qsim.train.layers import FC, LAYERS, SoftmaxCrossEntropy
from qsim.train.net import Net


def every_op_graph(seed=0):
    return (Sequential((9, 8, 3), name="all_ops")
            .conv(4, (3, 2), stride=(2, 1), pad=(1, 1)).relu()
            .depthwise((3, 3), stride=(1, 2), pad=(1, 1)).tanh()
            .maxpool((2, 2), stride=(1, 1), pad=(1, 0)).sigmoid()
            .avgpool((3, 2), stride=(2, 1), pad=(1, 1))
            .flatten().fc(5).relu().fc(3).softmax()).build(seed=seed)


@pytest.mark.parametrize("make", [every_op_graph] + [
    lambda spec=spec: Sequential.from_dict(spec).build(seed=1)
    for spec in (KWS_SPEC, CIFAR10_SPEC, DS_CNN_SPEC)])
def test_forward_matches_float_exec(make, rng):
    g = make()
    x = rng.standard_normal((5,) + g.tensors["input"].shape)
    trace = float_exec.run(g, x, dtype=np.float64, trace=True)
    net = Net(g.copy(), dtype=np.float64)
    env = {"input": x}
    for node, layer in zip(net.nodes, net.layers):
        env[node.output] = layer.forward(env[node.input], node.params)
        # one float forward (qsim.train.float_ops) for both: the same bits
        np.testing.assert_array_equal(env[node.output], trace[node.output], err_msg=node.name)
    assert g.producer(net.logits).op == "fc"   # the final softmax is fused into the loss


def test_float32_forward_matches_float_exec(rng):
    g = Sequential.from_dict(KWS_SPEC).build(seed=2)
    x = rng.standard_normal((8, 49, 10, 1)).astype(np.float32)
    logits = Net(g.copy()).forward(x)
    ref = float_exec.run(g, x, trace=True)["fc3"]
    assert logits.dtype == np.float32
    np.testing.assert_array_equal(logits, ref)        # one float forward for both


def test_reshape_node_matches_float_exec(rng):
    g = Sequential((4, 3, 2)).reshape((6, 4)).fc(2).build(seed=0)
    x = rng.standard_normal((3, 4, 3, 2))
    np.testing.assert_allclose(Net(g.copy(), dtype=np.float64).forward(x),
                               float_exec.run(g, x, dtype=np.float64), rtol=1e-12)


def test_net_gradient_finite_differences(rng):
    g = every_op_graph()
    net = Net(g, dtype=np.float64)
    x = rng.standard_normal((4, 9, 8, 3))
    labels = rng.integers(0, 3, 4)
    loss = SoftmaxCrossEntropy()
    loss.forward(net.forward(x), labels)
    grads = net.backward(loss.backward())
    assert set(grads) == set(net.params)
    eps = 1e-6
    for key, p in net.params.items():
        flat = p.reshape(-1)
        for i in rng.choice(flat.size, min(flat.size, 6), replace=False):
            old = flat[i]
            flat[i] = old + eps
            up = SoftmaxCrossEntropy().forward(net.forward(x), labels)
            flat[i] = old - eps
            down = SoftmaxCrossEntropy().forward(net.forward(x), labels)
            flat[i] = old
            # float64 central differences; the max/relu kinks are avoided by random data.
            assert grads[key].reshape(-1)[i] == pytest.approx((up - down) / (2 * eps), rel=1e-4,
                                                              abs=1e-7), key


def test_params_are_the_graph_arrays():
    g = Sequential((4, 4, 1)).conv(2, (3, 3)).relu().fc(2).build(seed=0, dtype=np.float64)
    net = Net(g, dtype=np.float32)
    assert g.node("conv1").params["weight"].dtype == np.float32
    net.params["conv1/weight"][...] = 0
    assert not g.node("conv1").params["weight"].any()
    assert not net.layers[0].need_input_grad and net.layers[1].need_input_grad


class RoundFC(FC):
    """QAT-style substitute: weights rounded to 1/8 forward, float gradient straight through."""

    def forward(self, x, params):
        return super().forward(x, {k: np.round(v * 8) / 8 for k, v in params.items()})


def test_layer_substitution_hook(rng):
    g = Sequential((3, 3, 2)).fc(4).relu().fc(2).build(seed=0)
    x = rng.standard_normal((6, 3, 3, 2))
    net = Net(g.copy(), layers={**LAYERS, "fc": RoundFC}, dtype=np.float64)
    rounded = g.copy()
    for node in rounded.nodes:
        node.params = {k: np.round(v.astype(np.float64) * 8) / 8 for k, v in node.params.items()}
    np.testing.assert_allclose(net.forward(x), float_exec.run(rounded, x, dtype=np.float64))
    grads = net.backward(np.ones((6, 2)))
    assert grads["fc1/weight"].shape == (4, 18)


def test_untrainable_op_names_node_and_fix():
    g = Sequential((2, 2, 3)).relu().build(seed=0)
    g.nodes[0].op = "batchnorm"
    with pytest.raises(UnsupportedOpError, match="relu1.*fold_batchnorm"):
        Net(g)


def test_graph_with_two_outputs_needs_output_name():
    g = Sequential((2, 2, 3)).relu().fc(2).build(seed=0)
    g.add_node(Node("side", "tanh", ["relu1"], ["side"]))
    g.outputs = ["fc1", "side"]
    with pytest.raises(UnsupportedOpError, match="output="):
        Net(g)
    assert Net(g, output="fc1").logits == "fc1"
