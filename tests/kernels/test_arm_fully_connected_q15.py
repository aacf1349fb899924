"""arm_fully_connected_q15: edges (out_shift 0/31, int32 wrap, saturation, truncate) and errors,
shared with the other fully connected kernels in _fc_edges; here: two full-scale products wrap int32.
"""

# the shared tests and their `fn` fixture (FN below), collected as this file's own
from ._fc_edges import (call, fn, test_bad_arguments, test_edges,  # noqa: F401
                        test_release_rounding_at_out_shift_31, test_rounds_half_up_and_floors_negative)

FN = "arm_fully_connected_q15"


def test_two_full_scale_products_wrap():
    # (-32768)**2 * 2 = 2**31 wraps to -2**31 -> saturates low, as the real library does
    got = call(FN, [[-32768, -32768]], [[-32768, -32768]], [0], 0, 0)
    assert got[0, 0] == -32768
