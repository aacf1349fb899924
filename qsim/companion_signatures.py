"""The C prototypes of qsim's companion kernels (codegen/companion/), in the table format of
qsim.cmsis_signatures: one CFunc per function, with every argument's role and size.

Companion kernels are qsim's own C functions for layers legacy CMSIS-NN has no kernel for
(non-square and q15 pooling, global average pooling, requantizing add, clip, q15 depthwise conv,
channel concat, the q7 <-> q15 change between layers of mixed precision). They are written in
the library's style (q7/q15 data, HWC, power-of-two shifts, NN_ROUND rounding, saturation) but
are not CMSIS code. Their arithmetic is documented once in
codegen/companion/qsim_companion.h and in each numba kernel's docstring.

The table is separate from SIGNATURES so everything that means "a CMSIS-NN function" (the CMSIS
build's cdef, parity against a checkout) stays as it is; `signature(name)` finds either kind.
Companion kernels give the same bytes on every path and release: their Python kernels take no
path/release options, only `truncate` (ARM_NN_TRUNCATE turns their rounding into a floor too).
"""
from .cmsis_signatures import SIGNATURES, CArg, CFunc

C_FOLDER = "codegen/companion"
HEADER = "qsim_companion.h"


def _s(*names, ctype="uint16_t"):
    return tuple(CArg(n, ctype, "scalar") for n in names)


def _hw_in(a):
    return a["dim_im_in_x"] * a["dim_im_in_y"]


def _hw_out(a):
    return a["dim_im_out_x"] * a["dim_im_out_y"]


def _image(a):
    """Logical shape of an HWC input image (kernel_args accepts it or the flat (size,))."""
    return (a["dim_im_in_y"], a["dim_im_in_x"], a["ch_im_in"])


_GEO_IN = _s("dim_im_in_x", "dim_im_in_y", "ch_im_in")
_GEO_K = _s("dim_kernel_x", "dim_kernel_y", "padding_x", "padding_y", "stride_x", "stride_y")
_GEO_OUT = _s("dim_im_out_x", "dim_im_out_y")


def _pool(name, ctype, average):
    extra = _s("count_include_pad", "rounding", "out_lshift") if average else ()
    args = ((CArg("Im_in", ctype, "batched", lambda a: _hw_in(a) * a["ch_im_in"], shape=_image),)
            + _GEO_IN + _GEO_K + extra + (CArg("Im_out", ctype, "out", lambda a: _hw_out(a) * a["ch_im_in"]),) + _GEO_OUT)
    return CFunc(name, "void", args, lambda a: (a["dim_im_out_y"], a["dim_im_out_x"], a["ch_im_in"]),
                 "qsim_pool_HWC_nonsquare.c")


def _global(name, ctype):
    args = ((CArg("Im_in", ctype, "batched", lambda a: _hw_in(a) * a["ch_im_in"], shape=_image),)
            + _GEO_IN + _s("out_lshift") + (CArg("Im_out", ctype, "out", lambda a: a["ch_im_in"]),))
    return CFunc(name, "void", args, lambda a: (1, 1, a["ch_im_in"]), "qsim_global_avepool_HWC.c")


def _add(name, ctype):
    size = lambda a: a["block_size"]
    args = (CArg("pSrcA", ctype, "batched", size),) + _s("lshift_a") + (
        CArg("pSrcB", ctype, "batched", size),) + _s("lshift_b", "out_shift") + (
        CArg("pDst", ctype, "out", size),) + _s("block_size", ctype="uint32_t")
    return CFunc(name, "void", args, lambda a: (a["block_size"],), "qsim_add.c")


def _clip(name, ctype):
    args = (CArg("data", ctype, "inout", lambda a: a["size"]),) + _s("size", ctype="uint32_t") + \
        _s("min_val", "max_val", ctype="int16_t")
    return CFunc(name, "void", args, lambda a: (a["size"],), "qsim_clip.c")


def _requantize(name, ctype_in, ctype_out):
    size = lambda a: a["block_size"]
    args = (CArg("pSrc", ctype_in, "batched", size),) + _s("lshift", "rshift") + (
        CArg("pDst", ctype_out, "out", size),) + _s("block_size", ctype="uint32_t")
    return CFunc(name, "void", args, lambda a: (a["block_size"],), "qsim_requantize.c")


def _concat(name, ctype):
    args = (CArg("Im_in", ctype, "batched", lambda a: a["num_pixels"] * a["ch_im_in"],
                 shape=lambda a: (a["num_pixels"], a["ch_im_in"])),) + \
        _s("num_pixels", ctype="uint32_t") + _s("ch_im_in") + \
        (CArg("Im_out", ctype, "inout", lambda a: a["num_pixels"] * a["ch_im_out"],
              shape=lambda a: (a["num_pixels"], a["ch_im_out"])),) + \
        _s("ch_im_out", "ch_offset")
    return CFunc(name, "void", args, lambda a: (a["num_pixels"], a["ch_im_out"]), "qsim_concat_channels.c")


def _depthwise_q15():
    kk = lambda a: a["dim_kernel_x"] * a["dim_kernel_y"]
    args = ((CArg("Im_in", "q15_t", "batched", lambda a: _hw_in(a) * a["ch_im_in"], shape=_image),)
            + _GEO_IN
            + (CArg("wt", "q15_t", "const", lambda a: kk(a) * a["ch_im_in"],
                    shape=lambda a: (a["dim_kernel_y"], a["dim_kernel_x"], a["ch_im_in"])),)
            + _s("ch_im_out") + _GEO_K
            + (CArg("bias", "q15_t", "const", lambda a: a["ch_im_out"]),) + _s("bias_shift", "out_shift")
            + (CArg("Im_out", "q15_t", "out", lambda a: _hw_out(a) * a["ch_im_out"]),) + _GEO_OUT
            + (CArg("bufferA", "q15_t", "scratch", lambda a: 0),
               CArg("bufferB", "q7_t", "scratch", lambda a: 0)))
    name = "qsim_depthwise_conv_HWC_q15_nonsquare"
    return CFunc(name, "int32_t", args, lambda a: (a["dim_im_out_y"], a["dim_im_out_x"], a["ch_im_out"]),
                 f"{name}.c")


_FUNCS = [
    _pool("qsim_maxpool_q7_HWC_nonsquare", "q7_t", False),
    _pool("qsim_maxpool_q15_HWC_nonsquare", "q15_t", False),
    _pool("qsim_avepool_q7_HWC_nonsquare", "q7_t", True),
    _pool("qsim_avepool_q15_HWC_nonsquare", "q15_t", True),
    _global("qsim_global_avepool_q7_HWC", "q7_t"),
    _global("qsim_global_avepool_q15_HWC", "q15_t"),
    _add("qsim_add_q7", "q7_t"),
    _add("qsim_add_q15", "q15_t"),
    _clip("qsim_clip_q7", "q7_t"),
    _clip("qsim_clip_q15", "q15_t"),
    _requantize("qsim_requantize_q7_q15", "q7_t", "q15_t"),
    _requantize("qsim_requantize_q15_q7", "q15_t", "q7_t"),
    _depthwise_q15(),
    _concat("qsim_concat_channels_q7", "q7_t"),
    _concat("qsim_concat_channels_q15", "q15_t"),
]

COMPANION_SIGNATURES = {f.name: f for f in _FUNCS}

# Values of the avepool `rounding` argument (QSIM_ROUND_* in qsim_companion.h).
ROUND_HALF_UP = 0       # floor(x + 1/2), like NN_ROUND; a floor under ARM_NN_TRUNCATE
ROUND_TOWARD_ZERO = 1   # C integer division (ML-KWS-for-MCU's non-square average pool)


def signature(name) -> CFunc:
    """The CFunc of a CMSIS-NN function or of a companion kernel (KeyError if neither)."""
    return SIGNATURES[name] if name in SIGNATURES else COMPANION_SIGNATURES[name]
