"""arm_fully_connected_mat_q7_vec_q15_opt: the §2.3 weight interleaving and equality with the plain
kernel; the interleave, equality and edge tests are shared with the other _opt kernels in _fc_edges.
"""
import numpy as np

from qsim.kernels import DEINTERLEAVE, INTERLEAVE
from qsim.kernels.arm_fully_connected_mat_q7_vec_q15_opt import (deinterleave_mat_q7_vec_q15_opt,
                                                                 interleave_mat_q7_vec_q15_opt)

# the shared tests and their `fn` fixture (FN below), collected as this file's own
from ._fc_edges import (fn, test_edges, test_interleave_errors,  # noqa: F401
                        test_interleave_matches_twin_and_round_trips, test_opt_equals_plain_on_logical_matrix,
                        test_release_rounding_at_out_shift_31)

FN = "arm_fully_connected_mat_q7_vec_q15_opt"


def test_registered():
    assert INTERLEAVE[FN] is interleave_mat_q7_vec_q15_opt and DEINTERLEAVE[FN] is deinterleave_mat_q7_vec_q15_opt


def test_layout_mat_q7_vec_q15_4x3():
    # doc §2.3: rows of a pair alternate first, then the columns
    assert interleave_mat_q7_vec_q15_opt(np.arange(12).reshape(4, 3)).tolist() == \
        [0, 3, 1, 4, 6, 9, 7, 10, 2, 5, 8, 11]
