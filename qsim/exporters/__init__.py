"""Exporters: a qsim Graph written in another framework's format (ONNX)."""
from .onnx_export import export_onnx, to_onnx

__all__ = ["export_onnx", "to_onnx"]
