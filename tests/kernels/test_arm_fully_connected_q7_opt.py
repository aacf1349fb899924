"""arm_fully_connected_q7_opt: the §2.1 weight interleaving and equality with the plain kernel;
the interleave, equality and edge tests are shared with the other _opt kernels in _fc_edges.
"""
import numpy as np

from qsim.kernels import DEINTERLEAVE, INTERLEAVE
from qsim.kernels.arm_fully_connected_q7_opt import deinterleave_q7_opt, interleave_q7_opt

# the shared tests and their `fn` fixture (FN below), collected as this file's own
from ._fc_edges import (fn, test_edges, test_interleave_errors,  # noqa: F401
                        test_interleave_matches_twin_and_round_trips, test_opt_equals_plain_on_logical_matrix,
                        test_release_rounding_at_out_shift_31)

FN = "arm_fully_connected_q7_opt"


def test_registered():
    assert INTERLEAVE[FN] is interleave_q7_opt and DEINTERLEAVE[FN] is deinterleave_q7_opt


def test_layout_q7_5x6():
    # doc §2.1 written out for 5 rows x 6 columns, values = flat row-major index
    want = [0, 6, 2, 8, 12, 18, 14, 20, 1, 7, 3, 9, 13, 19, 15, 21,
            4, 10, 16, 22, 5, 11, 17, 23, 24, 25, 26, 27, 28, 29]
    assert interleave_q7_opt(np.arange(30).reshape(5, 6)).tolist() == want
