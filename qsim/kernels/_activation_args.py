"""Checks shared by the two direct-table activation kernels (doc §5.3, §5.4)."""
from ..errors import KernelArgumentError


def check_int_width(fn, int_width):
    if not 0 <= int_width <= 3:
        raise KernelArgumentError(
            f"{fn}: int_width={int_width} is outside 0..3; the C shift count 3 - int_width then wraps "
            "to a huge uint16 (undefined). help: saturate the input to Q3.x first; a wider integer "
            "part makes no difference after sigmoid/tanh.")
