"""Bit-exact numba mirrors of the legacy CMSIS-NN q7/q15 functions: KERNELS maps C name -> callable.

One module per CMSIS source file, named after it; every public function takes the C arguments in
C order minus outputs and scratch buffers, with a leading batch axis on data inputs, plus the
required keyword options path="ref"|"dsp" and release (a qsim.releases.Release or its tag
"5.7.0"|"5.9.0"; no default: the REF path of 5.7.0 is not what a Cortex-M4 runs), and truncate
(ARM_NN_TRUNCATE, default False). Array arguments are checked by full shape (qsim.kernel_args):
data inputs need their leading batch axis, (N, size) or (N,) + logical shape; a 1-D input is
refused, not read as a batch (pass x[None] for one item).

INTERLEAVE maps each `_opt` fully connected function to the function that turns the logical
(num_of_rows, dim_vec) weight matrix into the flat array it reads (doc §2.1-2.3); DEINTERLEAVE
holds the inverses, called as f(stored, num_of_rows, dim_vec).

COMPANION_KERNELS maps the names of qsim's own companion C functions (codegen/companion/, for
layers legacy CMSIS-NN lacks) to their numba mirrors; these are single-path and take only the
`truncate` option (qsim.companion_signatures).

PREPARE maps the names of the kernels split in two (convolutions, fully connected, softmax) to
prepare(b): given a call's Bound arguments (qsim.kernel_args.bind) it does every check and
weight-side computation once and returns run(x), the output for any batch x (N, size) of the data
argument. The public function is exactly bind + prepare + run; simulate keeps run per layer.
"""
from ..registry import collect, collect_companion, collect_prepare
from .arm_fully_connected_mat_q7_vec_q15_opt import (deinterleave_mat_q7_vec_q15_opt,
                                                     interleave_mat_q7_vec_q15_opt)
from .arm_fully_connected_q7_opt import deinterleave_q7_opt, interleave_q7_opt
from .arm_fully_connected_q15_opt import deinterleave_q15_opt, interleave_q15_opt

KERNELS = collect(__name__)
COMPANION_KERNELS = collect_companion(__name__)   # qsim's own C kernels (qsim.companion_signatures)
PREPARE = collect_prepare(__name__)   # C name -> prepare(bound args) -> run(data); see registry

INTERLEAVE = {
    "arm_fully_connected_q7_opt": interleave_q7_opt,
    "arm_fully_connected_q15_opt": interleave_q15_opt,
    "arm_fully_connected_mat_q7_vec_q15_opt": interleave_mat_q7_vec_q15_opt,
}
DEINTERLEAVE = {
    "arm_fully_connected_q7_opt": deinterleave_q7_opt,
    "arm_fully_connected_q15_opt": deinterleave_q15_opt,
    "arm_fully_connected_mat_q7_vec_q15_opt": deinterleave_mat_q7_vec_q15_opt,
}
