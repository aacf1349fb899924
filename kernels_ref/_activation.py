"""Shared bits of the activation twins: the C `switch (type)` and the int_width check."""
from qsim.errors import KernelArgumentError

from . import arm_nntables as T


def pick(type, bits):
    if type == 0:  # ARM_SIGMOID
        return T.sigmoidTable_q7 if bits == 8 else T.sigmoidTable_q15
    return T.tanhTable_q7 if bits == 8 else T.tanhTable_q15  # ARM_TANH and default


def check_int_width(fn, int_width):
    if not 0 <= int_width <= 3:
        raise KernelArgumentError(f"{fn}: int_width={int_width} is outside 0..3")
