"""Quantization-aware fine-tuning (numpy) with the bit-exact fixed-point forward pass.

    from qsim.qat import finetune
    qat_graph, history = finetune(float_graph, qgraph, X, y, X_val, y_val, epochs=10)

Modules: ste (straight-through estimators), layers (fixed-point forward / STE backward per op),
net (QatNet: a quantized graph over float shadow weights), train (finetune: the loop).
"""
from .net import QatNet
from .train import finetune

__all__ = ["QatNet", "finetune"]
