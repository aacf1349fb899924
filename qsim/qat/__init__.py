"""Quantization-aware fine-tuning (numpy) with the bit-exact fixed-point forward pass.

    from qsim.qat import finetune
    qat_graph, history = finetune(float_graph, qgraph, X, y, X_val, y_val, epochs=10)

Modules: ste (straight-through estimators), layers (fixed-point forward / STE backward per op),
net (QatNet: a quantized graph over float shadow weights), train (finetune: the loop).
"""
from ._intconv import quiet_numba_workers
from .net import QatNet
from .train import finetune

quiet_numba_workers()     # before any numba region: see its docstring (measured 3.7 -> 2.6 s/epoch)

__all__ = ["QatNet", "finetune"]
