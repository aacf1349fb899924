"""Quantization schemes: how many bits activations, weights and biases get, per op.

    q7      8-bit activations, weights and biases everywhere (the q7 CMSIS-NN kernels)
    q15     16-bit activations, weights and biases everywhere (the q15 kernels)
    q7q15   16-bit activations; fully connected layers keep 8-bit weights and biases
            (arm_fully_connected_mat_q7_vec_q15), convolutions are q15
Legacy CMSIS-NN has no q15 depthwise convolution and no q15 pooling: `passes.choose_kernels`
rejects those ops in the 16-bit schemes.
"""
from .errors import QuantizationError

SCHEMES = ("q7", "q15", "q7q15")


def check_scheme(scheme):
    if scheme not in SCHEMES:
        raise QuantizationError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}. help: 'q7' "
                                "for 8-bit everything, 'q15' for 16-bit, 'q7q15' for 16-bit "
                                "activations with 8-bit fully connected weights")
    return scheme


def act_bits(scheme) -> int:
    """Bits of every activation tensor (graph input included)."""
    return 8 if check_scheme(scheme) == "q7" else 16


def weight_bits(scheme, op) -> int:
    """Bits of the weight and bias arrays of a conv / depthwise_conv / fc node."""
    check_scheme(scheme)
    if scheme == "q7" or (scheme == "q7q15" and op == "fc"):
        return 8
    return 16
