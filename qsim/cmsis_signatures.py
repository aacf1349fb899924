"""The C prototypes of the legacy CMSIS-NN q7/q15 API, with the role and size of every argument.

One table shared by the simulator wrappers (argument order), the cffi harness (cdef, buffer
allocation, scratch sizes) and the code generator (scratch sizes, call templates). Sizes are
element counts of the argument's C type, computed from the call's scalar arguments; scratch sizes
are the largest either path needs (semantics doc §1.13, §2, §3).

Roles:
  batched  data input; the Python kernel takes it with a leading batch axis
  inout    batched data the C modifies in place; the Python kernel returns the new value
  const    weights or bias, shared by the whole batch
  scalar   a plain integer argument
  out      the output buffer; the Python kernel returns it, shape `out_shape`
  scratch  bufferA / bufferB / vec_buffer; never seen by Python callers
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

CTYPES = {"q7_t": "int8", "q15_t": "int16", "q31_t": "int32", "uint16_t": "uint16",
          "uint32_t": "uint32", "arm_nn_activation_type": "int32"}


@dataclass(frozen=True)
class CArg:
    name: str
    ctype: str                       # element type without '*' or const
    role: str
    size: Optional[Callable] = None  # element count from the scalar-args dict (arrays only)
    c_const: Optional[bool] = None   # pointer constness in the C prototype when it differs from the role's
    shape: Optional[Callable] = None # logical shape (per batch item for batched/inout); None = (size,)


@dataclass(frozen=True)
class CFunc:
    name: str
    returns: str                     # "arm_status" or "void"
    args: tuple
    out_shape: Callable = field(default=None)   # per-item output shape from scalar args
    c_file: str = ""                 # CMSIS/NN/Source/<folder>/<file>.c

    def __post_init__(self):
        # py_args: the Python kernel's arguments in C order (all but outputs and scratch).
        # Computed once: bind() reads it on every kernel call, and small layers are bound by
        # call overhead.
        object.__setattr__(self, "py_args", tuple(a for a in self.args
                                                  if a.role not in ("out", "scratch")))

    @property
    def square(self) -> bool:
        """True for the square window functions (one dim_im_in, dim_kernel, padding, stride)."""
        return any(a.name == "dim_im_in" for a in self.args)

    def arg(self, name):
        return next(a for a in self.args if a.name == name)

    def cdecl(self) -> str:
        parts = []
        for a in self.args:
            if a.role == "scalar":
                parts.append(f"{a.ctype} {a.name}")
            else:
                is_const = a.role in ("batched", "const") if a.c_const is None else a.c_const
                const = "const " if is_const else ""
                parts.append(f"{const}{a.ctype} *{a.name}")
        return f"{self.returns} {self.name}({', '.join(parts)});"


def _s(*names, ctype="uint16_t"):
    return tuple(CArg(n, ctype, "scalar") for n in names)


def _conv(name, dtype, square, depthwise=False, folder="ConvolutionFunctions", buf_a=None):
    if square:
        geo_in = _s("dim_im_in", "ch_im_in")
        geo_k = _s("ch_im_out", "dim_kernel", "padding", "stride")
        hw_in = lambda a: a["dim_im_in"] * a["dim_im_in"]
        kk = lambda a: a["dim_kernel"] * a["dim_kernel"]
        hw = lambda a: (a["dim_im_in"], a["dim_im_in"])
        khw = lambda a: (a["dim_kernel"], a["dim_kernel"])
        out_shape = lambda a: (a["dim_im_out"], a["dim_im_out"], a["ch_im_out"])
        dims_out = _s("dim_im_out")
    else:
        geo_in = _s("dim_im_in_x", "dim_im_in_y", "ch_im_in")
        geo_k = _s("ch_im_out", "dim_kernel_x", "dim_kernel_y", "padding_x", "padding_y",
                   "stride_x", "stride_y")
        hw_in = lambda a: a["dim_im_in_x"] * a["dim_im_in_y"]
        kk = lambda a: a["dim_kernel_x"] * a["dim_kernel_y"]
        hw = lambda a: (a["dim_im_in_y"], a["dim_im_in_x"])
        khw = lambda a: (a["dim_kernel_y"], a["dim_kernel_x"])
        out_shape = lambda a: (a["dim_im_out_y"], a["dim_im_out_x"], a["ch_im_out"])
        dims_out = _s("dim_im_out_x", "dim_im_out_y")
    wt_size = (lambda a: kk(a) * a["ch_im_in"]) if depthwise else \
        (lambda a: a["ch_im_out"] * kk(a) * a["ch_im_in"])
    wt_shape = (lambda a: khw(a) + (a["ch_im_in"],)) if depthwise else \
        (lambda a: (a["ch_im_out"],) + khw(a) + (a["ch_im_in"],))      # (KY, KX, C) / OHWI
    buf_a = buf_a or (lambda a: 2 * a["ch_im_in"] * kk(a))
    args = (
        (CArg("Im_in", dtype, "batched", lambda a: hw_in(a) * a["ch_im_in"],
              shape=lambda a: hw(a) + (a["ch_im_in"],)),)
        + geo_in[:0] + geo_in
        + (CArg("wt", dtype, "const", wt_size, shape=wt_shape),)
        + geo_k
        + (CArg("bias", dtype, "const", lambda a: a["ch_im_out"]),)
        + _s("bias_shift", "out_shift")
        + (CArg("Im_out", dtype, "out", lambda a: _prod(out_shape(a))),)
        + dims_out
        + (CArg("bufferA", "q15_t", "scratch", buf_a), CArg("bufferB", "q7_t", "scratch", lambda a: 0))
    )
    return CFunc(name, "arm_status", args, out_shape, f"{folder}/{name}.c")


def _fc(name, vec_t, mat_t, out_t, vec_buffer):
    args = (
        CArg("pV", vec_t, "batched", lambda a: a["dim_vec"]),
        # _opt: the interleaved 1-D storage (qsim.kernels.INTERLEAVE); plain: (num_of_rows, dim_vec)
        CArg("pM", mat_t, "const", lambda a: a["dim_vec"] * a["num_of_rows"],
             shape=None if name.endswith("_opt") else lambda a: (a["num_of_rows"], a["dim_vec"])),
    ) + _s("dim_vec", "num_of_rows", "bias_shift", "out_shift") + (
        CArg("bias", mat_t, "const", lambda a: a["num_of_rows"]),
        CArg("pOut", out_t, "out", lambda a: a["num_of_rows"]),
        CArg("vec_buffer", "q15_t", "scratch", vec_buffer),
    )
    return CFunc(name, "arm_status", args, lambda a: (a["num_of_rows"],),
                 f"FullyConnectedFunctions/{name}.c")


def _pool(name):
    args = (CArg("Im_in", "q7_t", "inout", lambda a: a["dim_im_in"] ** 2 * a["ch_im_in"],
                 shape=lambda a: (a["dim_im_in"], a["dim_im_in"], a["ch_im_in"])),) + _s(
        "dim_im_in", "ch_im_in", "dim_kernel", "padding", "stride", "dim_im_out") + (
        CArg("bufferA", "q7_t", "scratch", lambda a: 2 * a["dim_im_out"] * a["ch_im_in"]),
        CArg("Im_out", "q7_t", "out", lambda a: a["dim_im_out"] ** 2 * a["ch_im_in"]),
    )
    return CFunc(name, "void", args, lambda a: (a["dim_im_out"], a["dim_im_out"], a["ch_im_in"]),
                 "PoolingFunctions/arm_pool_q7_HWC.c")


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


_FUNCS = [
    _conv("arm_convolve_HWC_q7_basic", "q7_t", True),
    _conv("arm_convolve_HWC_q7_basic_nonsquare", "q7_t", False),
    _conv("arm_convolve_HWC_q7_fast", "q7_t", True),
    _conv("arm_convolve_HWC_q7_fast_nonsquare", "q7_t", False),
    _conv("arm_convolve_1x1_HWC_q7_fast_nonsquare", "q7_t", False),
    _conv("arm_convolve_HWC_q7_RGB", "q7_t", True),
    _conv("arm_convolve_HWC_q15_basic", "q15_t", True,
          buf_a=lambda a: a["ch_im_in"] * a["dim_kernel"] ** 2),
    _conv("arm_convolve_HWC_q15_fast", "q15_t", True),
    _conv("arm_convolve_HWC_q15_fast_nonsquare", "q15_t", False),
    _conv("arm_depthwise_separable_conv_HWC_q7", "q7_t", True, depthwise=True),
    _conv("arm_depthwise_separable_conv_HWC_q7_nonsquare", "q7_t", False, depthwise=True),
    _fc("arm_fully_connected_q7", "q7_t", "q7_t", "q7_t", lambda a: a["dim_vec"]),
    _fc("arm_fully_connected_q7_opt", "q7_t", "q7_t", "q7_t", lambda a: a["dim_vec"]),
    _fc("arm_fully_connected_q15", "q15_t", "q15_t", "q15_t", lambda a: 0),
    _fc("arm_fully_connected_q15_opt", "q15_t", "q15_t", "q15_t", lambda a: 0),
    _fc("arm_fully_connected_mat_q7_vec_q15", "q15_t", "q7_t", "q15_t", lambda a: 0),
    _fc("arm_fully_connected_mat_q7_vec_q15_opt", "q15_t", "q7_t", "q15_t", lambda a: 0),
    CFunc("arm_relu_q7", "void", (CArg("data", "q7_t", "inout", lambda a: a["size"]),) + _s("size"),
          lambda a: (a["size"],), "ActivationFunctions/arm_relu_q7.c"),
    CFunc("arm_relu_q15", "void", (CArg("data", "q15_t", "inout", lambda a: a["size"]),) + _s("size"),
          lambda a: (a["size"],), "ActivationFunctions/arm_relu_q15.c"),
    CFunc("arm_nn_activations_direct_q7", "void",
          (CArg("data", "q7_t", "inout", lambda a: a["size"]),) + _s("size", "int_width")
          + _s("type", ctype="arm_nn_activation_type"),
          lambda a: (a["size"],), "ActivationFunctions/arm_nn_activations_q7.c"),
    CFunc("arm_nn_activations_direct_q15", "void",
          (CArg("data", "q15_t", "inout", lambda a: a["size"]),) + _s("size", "int_width")
          + _s("type", ctype="arm_nn_activation_type"),
          lambda a: (a["size"],), "ActivationFunctions/arm_nn_activations_q15.c"),
    _pool("arm_maxpool_q7_HWC"),
    _pool("arm_avepool_q7_HWC"),
    CFunc("arm_softmax_q7", "void",
          (CArg("vec_in", "q7_t", "batched", lambda a: a["dim_vec"]),) + _s("dim_vec")
          + (CArg("p_out", "q7_t", "out", lambda a: a["dim_vec"]),),
          lambda a: (a["dim_vec"],), "SoftmaxFunctions/arm_softmax_q7.c"),
    CFunc("arm_softmax_q15", "void",
          (CArg("vec_in", "q15_t", "batched", lambda a: a["dim_vec"]),) + _s("dim_vec")
          + (CArg("p_out", "q15_t", "out", lambda a: a["dim_vec"]),),
          lambda a: (a["dim_vec"],), "SoftmaxFunctions/arm_softmax_q15.c"),
    CFunc("arm_softmax_with_batch_q7", "void",
          (CArg("vec_in", "q7_t", "batched", lambda a: a["nb_batches"] * a["dim_vec"],
                shape=lambda a: (a["nb_batches"], a["dim_vec"])),)
          + _s("nb_batches", "dim_vec")
          + (CArg("p_out", "q7_t", "out", lambda a: a["nb_batches"] * a["dim_vec"]),),
          lambda a: (a["nb_batches"], a["dim_vec"]), "SoftmaxFunctions/arm_softmax_with_batch_q7.c"),
    CFunc("arm_nn_mult_q7", "void",
          (CArg("pSrcA", "q7_t", "batched", lambda a: a["blockSize"], c_const=False),
           CArg("pSrcB", "q7_t", "batched", lambda a: a["blockSize"], c_const=False),
           CArg("pDst", "q7_t", "out", lambda a: a["blockSize"]))
          + _s("out_shift") + _s("blockSize", ctype="uint32_t"),
          lambda a: (a["blockSize"],), "NNSupportFunctions/arm_nn_mult_q7.c"),
    CFunc("arm_nn_mult_q15", "void",
          (CArg("pSrcA", "q15_t", "batched", lambda a: a["blockSize"], c_const=False),
           CArg("pSrcB", "q15_t", "batched", lambda a: a["blockSize"], c_const=False),
           CArg("pDst", "q15_t", "out", lambda a: a["blockSize"]))
          + _s("out_shift") + _s("blockSize", ctype="uint32_t"),
          lambda a: (a["blockSize"],), "NNSupportFunctions/arm_nn_mult_q15.c"),
    CFunc("arm_nn_add_q7", "void",
          (CArg("input", "q7_t", "batched", lambda a: a["block_size"]),
           CArg("output", "q31_t", "out", lambda a: 1)) + _s("block_size", ctype="uint32_t"),
          lambda a: (), "NNSupportFunctions/arm_nn_add_q7.c"),
    CFunc("arm_nn_accumulate_q7_to_q15", "void",
          (CArg("dst", "q15_t", "inout", lambda a: a["block_size"]),
           CArg("src", "q7_t", "batched", lambda a: a["block_size"]))
          + _s("block_size", ctype="uint32_t"),
          lambda a: (a["block_size"],), "NNSupportFunctions/arm_nn_accumulate_q7_to_q15.c"),
    CFunc("arm_q7_to_q15_no_shift", "void",
          (CArg("pSrc", "q7_t", "batched", lambda a: a["blockSize"]),
           CArg("pDst", "q15_t", "out", lambda a: a["blockSize"]))
          + _s("blockSize", ctype="uint32_t"),
          lambda a: (a["blockSize"],), "NNSupportFunctions/arm_q7_to_q15_no_shift.c"),
]

SIGNATURES = {f.name: f for f in _FUNCS}
