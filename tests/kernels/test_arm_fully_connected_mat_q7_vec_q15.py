"""arm_fully_connected_mat_q7_vec_q15: edges (out_shift 0/31, int32 wrap, saturation, truncate) and errors,
shared with the other fully connected kernels in _fc_edges.
"""

# the shared tests and their `fn` fixture (FN below), collected as this file's own
from ._fc_edges import (fn, test_bad_arguments, test_edges,  # noqa: F401
                        test_release_rounding_at_out_shift_31, test_rounds_half_up_and_floors_negative)

FN = "arm_fully_connected_mat_q7_vec_q15"
