"""Case generators for the fully connected functions (being extended by the FC work)."""
from ._util import ints, shifts


def fc_q7(rng, path, version):
    dim_vec = int(rng.integers(1, 70))
    rows = int(rng.integers(1, 20))
    bias_shift, out_shift = shifts(rng, 8, dim_vec)
    return (ints(rng, (int(rng.integers(1, 4)), dim_vec), 8), ints(rng, (rows, dim_vec), 8),
            dim_vec, rows, bias_shift, out_shift, ints(rng, (rows,), 8))


CASES = {"arm_fully_connected_q7": fc_q7}
