"""C code generation for quantized graphs: one CMSIS-NN call per layer (see generate.py)."""
from .generate import GeneratedNetwork, OutputExistsError, render, write_network

__all__ = ["GeneratedNetwork", "OutputExistsError", "render", "write_network"]
