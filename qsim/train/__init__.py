"""Float training of a qsim Graph: per-op layers with their gradients, Adam, a seeded training loop.

    from qsim.train import train
    trained, history = train(graph, X, y, X_val, y_val, epochs=20, batch_size=64, lr=1e-3, seed=0)

Modules: float_ops (each op's float forward, shared with qsim.float_exec), layers (one class per
op: the float_ops forward + its backward), conv2d (the conv's chunked products),
convtaps (im2col / col2im helpers), workers (batch slices on threads, BLAS at one thread), net (a
Graph as a list of layers), optim (Adam), trainer (the loop, early stopping).
"""
from .layers import LAYERS, Layer, SoftmaxCrossEntropy
from .net import Net
from .optim import Adam
from .trainer import evaluate, train

__all__ = ["LAYERS", "Layer", "SoftmaxCrossEntropy", "Net", "Adam", "evaluate", "train"]
