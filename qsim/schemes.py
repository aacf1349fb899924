"""Quantization schemes: how many bits activations, weights and biases get, per op.

    q7      8-bit activations, weights and biases everywhere (the q7 CMSIS-NN kernels)
    q15     16-bit activations, weights and biases everywhere (the q15 kernels)
    q7q15   16-bit activations; fully connected layers keep 8-bit weights and biases
            (arm_fully_connected_mat_q7_vec_q15), convolutions are q15
Legacy CMSIS-NN has no q15 depthwise convolution and no q15 pooling: `passes.choose_kernels`
runs those layers with qsim's companion kernels in the 16-bit schemes.

Mixed precision (qsim.quantize's `layer_bits`, qsim.passes.precision): a layer may run at 8 or
16 bits whatever the scheme; its weights follow its width (`weight_bits(scheme, op, bits)`), and
the scheme only decides the width of the layers not named and whether a 16-bit fc keeps 8-bit
weights ("q7q15").
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


def weight_bits(scheme, op, bits=None) -> int:
    """Bits of the weight and bias arrays of a conv / depthwise_conv / fc node whose activations
    are `bits` wide (default: the scheme's)."""
    bits = act_bits(scheme) if bits is None else bits
    if bits == 8 or (scheme == "q7q15" and op == "fc"):
        return 8
    return 16


def fc_kernel(scheme, bits) -> str:
    """The (non-_opt) fully connected function of a layer at `bits` in `scheme`."""
    if bits == 8:
        return "arm_fully_connected_q7"
    return "arm_fully_connected_mat_q7_vec_q15" if scheme == "q7q15" else "arm_fully_connected_q15"
