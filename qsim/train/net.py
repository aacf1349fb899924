"""A trainable view of an HWC Graph: one layer object per node, forward and backward over the DAG.

Each node reads its inputs by tensor name (add and concat read several); in the backward a
tensor read by several nodes (a residual block's shortcut) gets the sum of their gradients.

The Net does not copy parameters: ``net.params`` maps "<node>/<param>" to the node's own arrays
(cast once to the training dtype), so an optimizer updating them in place updates the Graph.

Data parallel: a batch is cut into qsim.train.workers' fixed parts (workers.parts_of), and each
part runs the whole forward and backward on a worker thread with its own shallow copy of the
layers (their caches are per part); inside a part the layers run whole (no nested split). A
parameter's gradient is the sum of the parts' gradients in part order, so it does not depend on
the thread count. Two hand-offs per step instead of one per op, and the numpy glue between the
ops (masks, casts, layouts) runs on both cores too.
"""
import copy

import numpy as np

from ..errors import UnsupportedOpError
from ..ops import FREE_ATTRS
from .layers import LAYERS
from .workers import parts_of, run_parts

_HELP = {"batchnorm": "run qsim.passes.fold_batchnorm (or the whole pipeline) before training"}


def make_layer(node, layers=LAYERS):
    """The layer object for ``node`` from the ``layers`` table (op name -> class)."""
    cls = layers.get(node.op)
    if cls is None:
        hint = _HELP.get(node.op, f"trainable ops are {sorted(layers)}")
        raise UnsupportedOpError(f"node '{node.name}': op '{node.op}' cannot be trained; "
                                 f"help: {hint}")
    # Annotations of later stages (ops.FREE_ATTRS, "_..."): float_exec ignores them, and so do we.
    attrs = {k: v for k, v in node.attrs.items() if not k.startswith("_") and k not in FREE_ATTRS}
    return cls(node.name, **attrs)


class Net:
    """Layers of ``graph`` in its node order, with per-tensor forward values and gradients.

    Parameters
    ----------
    graph : Graph (HWC); its params are cast in place to ``dtype``.
    layers : dict op -> Layer class; QAT passes its own classes for some ops.
    dtype : np.float32 for training, np.float64 for gradient checks.
    output : the tensor to train (default the graph's only output). If a softmax produces it,
        training reads the softmax's input as logits (see ``logits``) for a fused, stable loss.
    """

    def __init__(self, graph, layers=LAYERS, dtype=np.float32, output=None):
        graph.require_hwc("train")
        if output is None:
            if len(graph.outputs) != 1:
                raise UnsupportedOpError(f"graph '{graph.name}' has outputs {graph.outputs}; "
                                         "help: pass output= the tensor to train")
            output = graph.outputs[0]
        self.graph, self.dtype, self.output = graph, np.dtype(dtype), output
        self.nodes = list(graph.nodes)
        producer = graph.producer(output)
        self.logits = output
        if producer is not None and producer.op == "softmax" and producer.attrs.get("axis", -1) in (
                -1, len(graph.tensors[output].shape) - 1):
            self.logits = producer.inputs[0]
            self.nodes.remove(producer)
        self.layers = [make_layer(n, layers) for n in self.nodes]
        self._parts, self._part_layers = [(0, 0)], [self.layers]     # of the last forward
        self.params = {}
        for node, layer in zip(self.nodes, self.layers):
            layer.need_input_grad = any(t not in graph.inputs for t in node.inputs)
            for key, p in node.params.items():
                if p.dtype != self.dtype:
                    node.params[key] = p = p.astype(self.dtype)
                self.params[f"{node.name}/{key}"] = p

    def forward(self, x):
        """Logits (N, ...) for a batch ``x`` of the graph's (single) input."""
        x = np.asarray(x, self.dtype)
        bounds = parts_of(len(x), x.size)
        self._parts = bounds
        if len(bounds) == 1:
            self._part_layers = [self.layers]
            return self._forward(self.layers, x)
        for node, layer in zip(self.nodes, self.layers):
            if hasattr(layer, "prepare"):       # per-step work on the weights, once (QAT)
                layer.prepare(node.params)
        # part 0 runs self.layers (so they hold a forward's caches, as without parts); the
        # others shallow copies: the same bound and prepared state, their own caches
        self._part_layers = [self.layers] + [[copy.copy(layer) for layer in self.layers]
                                             for _ in bounds[1:]]
        index = {lo: i for i, (lo, _) in enumerate(bounds)}
        try:
            outs = run_parts(lambda lo, hi: self._forward(self._part_layers[index[lo]],
                                                          x[lo:hi]), bounds)
        finally:            # a part that failed must not leave a prepared layer for a later call
            for layer in self.layers:
                if hasattr(layer, "prepare"):
                    layer.prepared = False
        return np.concatenate(outs)

    def _forward(self, layers, x):
        env = {self.graph.inputs[0]: x}
        for node, layer in zip(self.nodes, layers):
            xs = [env[t] for t in node.inputs]
            env[node.outputs[0]] = layer.forward(xs[0] if layer.n_inputs == 1 else xs,
                                                 node.params)
        return env[self.logits]

    def backward(self, grad_logits):
        """Gradients of every parameter, {"<node>/<param>": array}, after one ``forward``.

        ``grad_logits`` may come flattened to (N, -1) (as from SoftmaxCrossEntropy).
        """
        shape = (len(grad_logits),) + self.graph.tensors[self.logits].shape
        g = grad_logits.reshape(shape)
        bounds = self._parts
        if len(bounds) == 1:
            return self._backward(self.layers, g)
        index = {lo: i for i, (lo, _) in enumerate(bounds)}
        parts = run_parts(lambda lo, hi: self._backward(self._part_layers[index[lo]], g[lo:hi]),
                          bounds)
        grads = parts[0]
        for other in parts[1:]:             # in part order: the same sum for any thread count
            for key, gp in other.items():
                grads[key] = grads[key] + gp
        return grads

    def _backward(self, layers, g):
        grads, tgrad = {}, {self.logits: g}
        for node, layer in zip(reversed(self.nodes), reversed(layers)):
            g = tgrad.pop(node.outputs[0], None)
            if g is None:       # this node does not reach the trained output
                continue
            grad_in, pgrads = layer.backward(g)
            for key, gp in pgrads.items():
                grads[f"{node.name}/{key}"] = gp
            grads_in = [grad_in] if layer.n_inputs == 1 else grad_in
            for src, gi in zip(node.inputs, grads_in or ()):
                if gi is None or src in self.graph.inputs:
                    continue
                # a tensor read by several nodes sums their gradients
                tgrad[src] = gi if src not in tgrad else tgrad[src] + gi
        return grads

    def predict(self, x, batch_size=1024):
        """Logits for ``x`` in batches (same layers, so QAT layers predict in fixed point)."""
        return np.concatenate([self.forward(x[s:s + batch_size])
                               for s in range(0, len(x), batch_size)])
