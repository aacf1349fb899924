"""qsim: bit-exact simulation, quantization and code generation for legacy CMSIS-NN q7/q15 networks."""
__version__ = "0.1.0"
