"""QatNet: a quantized Graph as fixed-point training layers (qsim.qat.layers) over its float shadow
weights, with the bit-exact forward, the STE backward, a per-tensor integer trace and predictions.

The graph's params are the float shadow weights (float32, updated in place by the optimizer);
its quantization fields (formats, shifts, kernels, graph.quant) say how they run. `rebind()`
re-reads those fields after they change (qsim.qat.train's reselect_formats).
"""
from contextlib import contextmanager

import numpy as np

from ..errors import QuantizationError
from ..train.net import Net, make_layer
from .layers import QAT_LAYERS, FusedReLU, QConv, to_ints
from .ste import fake_quant_ste


class QatNet:
    """Fixed-point forward / STE backward over a quantized graph whose params are shadow weights.

    ``forward(x)`` takes the dequantized input grid values (``quantize_input``) and returns the
    dequantized logits: the input of a final softmax (trained with natural-exp cross-entropy), or
    the graph output. ``predict`` and ``trace`` run the final softmax too, exactly as the C does.
    """

    def __init__(self, qgraph):
        if qgraph.quant.scheme is None or any(t.qformat is None for t in qgraph.tensors.values()):
            raise QuantizationError("QAT needs a quantized graph; help: call qsim.quantize first")
        self.graph = qgraph
        self.net = Net(qgraph, layers=QAT_LAYERS, dtype=np.float32)
        self.params = self.net.params
        self.head_node = None if self.net.logits == self.net.output else qgraph.producer(
            self.net.output)
        self.head = None if self.head_node is None else make_layer(self.head_node, QAT_LAYERS)
        self.fused = self._fuse_relus()
        self.rebind()

    def _fuse_relus(self):
        """[(conv layer, index of its ReLU, the ReLU layer)] for each ReLU that is the only reader
        of a QConv's output (not a graph output nor the logits): the conv applies it in its integer
        epilogue (qsim.qat._intconv) and the ReLU's layer becomes a FusedReLU; the same bits, one
        pass over the activations fewer each way. trace() runs them unfused."""
        g, net, fused = self.graph, self.net, []
        for node, layer in zip(net.nodes, net.layers):
            t = node.outputs[0]
            readers = [n for n in g.nodes if t in n.inputs]
            if (not isinstance(layer, QConv) or len(readers) != 1 or readers[0].op != "relu"
                    or t in g.outputs or t == net.logits or readers[0] not in net.nodes):
                continue
            i = net.nodes.index(readers[0])
            relu = net.layers[i]
            net.layers[i] = FusedReLU(relu.name)
            net.layers[i].need_input_grad = relu.need_input_grad
            layer.relu_after = True
            fused.append((layer, i, relu))
        return fused

    @contextmanager
    def _unfused(self):
        for conv, i, relu in self.fused:
            conv.relu_after, self.net.layers[i] = False, relu
        try:
            yield
        finally:
            for conv, i, relu in self.fused:
                conv.relu_after, self.net.layers[i] = True, FusedReLU(relu.name)

    def rebind(self):
        """Read every node's formats, shifts and kernel again (after they changed)."""
        g = self.graph
        for node, layer in zip(self.net.nodes, self.net.layers):
            if hasattr(layer, "bind"):
                layer.bind(g, node)
        if self.head is not None:
            self.head.bind(g, self.head_node)
        self.in_q = g.tensors[g.inputs[0]].qformat

    def quantize_input(self, x):
        """Float inputs -> their grid values in the input format (saturating), float32."""
        return fake_quant_ste(x, self.in_q)[0]

    def forward(self, x):
        return self.net.forward(x)

    def backward(self, grad_logits):
        return self.net.backward(grad_logits)

    def outputs(self, x, batch_size=1024):
        """(logits, final output) as dequantized floats over ``x`` in batches (no gradient)."""
        logits, outs = [], []
        for s in range(0, len(x), batch_size):
            z = self.forward(x[s:s + batch_size])
            logits.append(z)
            outs.append(z if self.head is None else self.head.run_kernel(z))
        return np.concatenate(logits), np.concatenate(outs)

    def predict(self, x, batch_size=1024):
        """Class indices: argmax of the bit-exact output (first index on ties), as qsim.predict."""
        out = self.outputs(x, batch_size)[1]
        return np.argmax(out.reshape(len(out), -1), axis=1)

    def trace(self, x):
        """{tensor name: integers} of every tensor for the grid-valued input ``x`` (one batch),
        shaped like qsim.simulate(trace=True)."""
        g = self.graph
        env = {g.inputs[0]: np.asarray(x, np.float32)}
        with self._unfused():           # every tensor, the conv outputs before their ReLU too
            for node, layer in zip(self.net.nodes, self.net.layers):
                xs = [env[t] for t in node.inputs]
                env[node.output] = layer.forward(xs[0] if layer.n_inputs == 1 else xs,
                                                 node.params)
        if self.head is not None:
            env[self.head_node.output] = self.head.run_kernel(env[self.head_node.input])
        return {t: to_ints(v, g.tensors[t].qformat) for t, v in env.items()}
