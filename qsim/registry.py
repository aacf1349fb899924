"""The kernel module lists and the name -> function collectors shared by qsim.kernels and kernels_ref."""
import importlib

from .cmsis_signatures import SIGNATURES
from .companion_signatures import COMPANION_SIGNATURES

KERNEL_MODULES = (
    "arm_convolve_HWC_q7_basic", "arm_convolve_HWC_q7_fast", "arm_convolve_HWC_q7_fast_nonsquare",
    "arm_convolve_1x1_HWC_q7_fast_nonsquare", "arm_convolve_HWC_q7_RGB", "arm_convolve_HWC_q15_basic",
    "arm_convolve_HWC_q15_fast", "arm_convolve_HWC_q15_fast_nonsquare",
    "arm_depthwise_separable_conv_HWC_q7", "arm_depthwise_separable_conv_HWC_q7_nonsquare",
    "arm_fully_connected_q7", "arm_fully_connected_q7_opt", "arm_fully_connected_q15",
    "arm_fully_connected_q15_opt", "arm_fully_connected_mat_q7_vec_q15",
    "arm_fully_connected_mat_q7_vec_q15_opt",
    "arm_relu_q7", "arm_relu_q15", "arm_nn_activations_q7", "arm_nn_activations_q15",
    "arm_pool_q7_HWC", "arm_softmax_q7", "arm_softmax_q15", "arm_softmax_with_batch_q7",
    "arm_nn_mult_q7", "arm_nn_mult_q15", "arm_nn_add_q7", "arm_nn_accumulate_q7_to_q15",
    "arm_q7_to_q15_no_shift",
)


def collect(package, modules=KERNEL_MODULES, signatures=SIGNATURES):
    """{C function name: the function of that name} over `package`'s `modules`."""
    found = {}
    for mod_name in modules:
        mod = importlib.import_module(f"{package}.{mod_name}")
        for name in signatures:
            if hasattr(mod, name):
                found[name] = getattr(mod, name)
    return found



# qsim's own companion kernels (codegen/companion/), one module per C file.
COMPANION_MODULES = (
    "qsim_pool_HWC_nonsquare", "qsim_global_avepool_HWC", "qsim_add", "qsim_clip",
    "qsim_requantize",
    "qsim_depthwise_conv_HWC_q15_nonsquare", "qsim_concat_channels",
)


def collect_companion(package):
    return collect(package, COMPANION_MODULES, COMPANION_SIGNATURES)


def collect_prepare(package, modules=KERNEL_MODULES, signatures=SIGNATURES):
    """{C function name: its module's `prepare_<name>`} where one exists: prepare(b) takes the
    Bound arguments of a call (qsim.kernel_args.bind) and returns run(x) computing the output
    for any batch x of the data argument as (N, size) C-contiguous of its C type. The public
    function is bind + prepare + run, so both give the same bytes (simulate prepares once per
    layer and calls run per chunk)."""
    found = {}
    for mod_name in modules:
        mod = importlib.import_module(f"{package}.{mod_name}")
        for name in signatures:
            if hasattr(mod, f"prepare_{name}"):
                found[name] = getattr(mod, f"prepare_{name}")
    return found
