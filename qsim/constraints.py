"""What each legacy CMSIS-NN window function can run, stated once: `constraints(cfunc, g, path,
release) -> [reasons]` (empty = legal), for a `qsim.ops.ConvGeometry` g.

Read by kernel choice (`passes.choose_kernels` takes the first candidate with no reasons and
reports the others') and by the numba kernels' own refusals (`check_call`, before any loop runs),
so the two cannot disagree. `kernels_ref/` keeps its own spelled-out conditions: it is the
independent executable spec that the kernels are tested against.

Every reason is a `Reason`: its text, what to do (`fix`), and its `kind`:
    mismatch  the C returns ARM_MATH_SIZE_MISMATCH and writes nothing (both paths): refused
    unsafe    the C reads or writes out of bounds, or overflows a loop counter: refused
    wrong     the C runs and computes a wrong result that qsim reproduces bit for bit (the
              signed-char index quirk): the kernel runs it, kernel choice never picks it
    form      the function's arguments cannot express the geometry (square-only functions)

Release facts used here (qsim.releases): `Release.signed_char_index(path)`, true where the REF
path keeps input row/column indices in a signed char (5.7.0; semantics doc §1.1, fixed in 5.8.0)
in the SIGNED_CHAR_INDEX functions, and `Release.q15_fast_odd_width_check`, true where the square
q15_fast DSP body returns ARM_MATH_SIZE_MISMATCH for an odd output width (5.9.0, §1.8).
PATH_DEPENDENT lists the functions whose REF and DSP builds give different bytes for some input
(doc §8).
"""
from .cmsis_signatures import SIGNATURES
from .errors import KernelArgumentError
from .releases import release as find_release

SIGNED_CHAR_INDEX = frozenset({
    "arm_convolve_HWC_q7_basic", "arm_convolve_HWC_q7_basic_nonsquare", "arm_convolve_HWC_q7_fast",
    "arm_convolve_HWC_q7_RGB", "arm_convolve_HWC_q15_basic", "arm_convolve_HWC_q15_fast",
    "arm_convolve_HWC_q15_fast_nonsquare"})
# The signed-char functions differ by path through the quirk; the others by their DSP algorithm.
PATH_DEPENDENT = SIGNED_CHAR_INDEX | {
    "arm_avepool_q7_HWC", "arm_maxpool_q7_HWC", "arm_softmax_q7", "arm_softmax_with_batch_q7",
    "arm_nn_accumulate_q7_to_q15"}
REFUSED = ("mismatch", "unsafe")      # kinds a kernel call refuses
_POOLS = ("arm_maxpool_q7_HWC", "arm_avepool_q7_HWC")
_I16_MAX = 32767


class Reason(str):
    """Why `cfunc` cannot run a geometry (the text), with `kind`, `fix` (see the module doc) and
    `brief`, the text without what the C does about it (for lists of several functions)."""

    def __new__(cls, kind, text, fix, brief=None):
        r = super().__new__(cls, text)
        r.kind, r.fix, r.brief = kind, fix, brief or text
        return r


def index_quirk(cfunc, path, release) -> bool:
    """True where `cfunc` keeps input indices in a signed char on `path` of `release` (a
    qsim.releases.Release or its tag): the REF path of 5.7.0 (doc §1.1, §10)."""
    return cfunc in SIGNED_CHAR_INDEX and find_release(release).signed_char_index(path)


def quirk_hit(g) -> bool:
    """True if some input row/column index of g leaves [-128, 127] (where the signed char wraps)."""
    return any((d_out - 1) * s + k - 1 - p > 127 or p > 128 for _, _, k, p, s, d_out in g.axes())


def fast_geometry_ok(g) -> bool:
    """§1.3: the q7 _fast DSP body skips bounds tests in the middle region; exact iff this holds."""
    return not _fast_geometry(g, per_axis=False)


def _mismatch(need, got, fix):
    return Reason("mismatch", f"needs {need}, got {got}; the C returns ARM_MATH_SIZE_MISMATCH and "
                  "writes nothing", fix, f"needs {need}, got {got}")


def _dsp(why, fix):
    return Reason("unsafe", f"path='dsp' cannot run this geometry: {why}", fix)


def _dsp_limits(g):
    """DSP bodies keep coordinates in int16_t and the column length C_in*KX*KY in a uint16_t (§0.5)."""
    taps = g.ch_in * g.k_y * g.k_x
    out = []
    if not 1 <= taps <= 65535:
        out.append(_dsp(f"ch_im_in*kernel_x*kernel_y = {taps} is outside 1..65535 (the DSP loops "
                        "keep it in a uint16_t)", "split the layer or use path='ref'"))
    for axis, d_in, k, _, s, d_out in g.axes():
        reach = max(d_in, (d_out - 1) * s + k) if d_out else d_in
        if reach >= 32768:
            out.append(_dsp(f"the {axis} coordinates reach {reach}, beyond the int16_t the DSP "
                            "loops use", "use images and outputs below 32768 pixels per axis"))
    return out


def _fast_geometry(g, per_axis):
    """q7_fast DSP (§1.3): middle rows/columns skip bounds tests; the top/left loops run `padding`
    times. per_axis: name the _nonsquare arguments (padding_x, ...) in the reasons."""
    out = []
    mid_rows = g.out_y - 2 * g.pad_y > 0
    for axis, d_in, k, p, s, d_out in g.axes():
        needed = mid_rows if axis == "y" else mid_rows and g.out_x - 2 * g.pad_x > 0
        name = "_" + axis if per_axis else ""
        if p > d_out:
            out.append(_dsp(f"padding{name}={p} > dim_im_out{name}={d_out} (the border loop writes "
                            "past the output)", "use padding <= output size or path='ref'"))
        if needed and (d_out - p - 1) * s - p + k > d_in:
            out.append(_dsp(
                f"along {axis}, (dim_im_out{name} - padding{name} - 1)*stride{name} - padding{name} "
                f"+ dim_kernel{name} = {(d_out - p - 1) * s - p + k} > dim_im_in{name} = {d_in}: the "
                "unchecked middle region would read outside the image",
                "use the natural output size floor((in + 2*pad - k)/stride) + 1 or path='ref'"))
    return out


def _q7_fast_channels(g):
    out = []
    if g.ch_in % 4:
        out.append(_mismatch("ch_im_in % 4 == 0", f"ch_im_in={g.ch_in}",
                             "pad the input channels to a multiple of 4 with zero weights, or use "
                             "the arm_convolve_HWC_q7_basic variant (arm_convolve_HWC_q7_RGB for 3 "
                             "channels)."))
    if g.ch_out % 2:
        out.append(_mismatch("ch_im_out % 2 == 0", f"ch_im_out={g.ch_out}",
                             "use an even number of output channels, or the "
                             "arm_convolve_HWC_q7_basic variant."))
    return out


def _q15_fast_odd_width(cfunc, g, rel):
    """§1.8: the q15_fast DSP body's 2-pixel block only fires at odd x. 5.9.0 added an odd-width
    check (ARM_MATH_SIZE_MISMATCH) to the square function only; elsewhere the C writes wrong
    output slots, leaves the last ones unwritten and overruns bufferA."""
    fix = "use an even output width, arm_convolve_HWC_q15_basic, or path='ref'"
    if SIGNATURES[cfunc].square and rel.q15_fast_odd_width_check:
        return Reason("mismatch", f"path='dsp' needs an even dim_im_out, got {g.out_x}; CMSIS {rel} "
                      "returns ARM_MATH_SIZE_MISMATCH and writes nothing (semantics doc §1.8)", fix,
                      f"path='dsp' needs an even dim_im_out, got {g.out_x}")
    x = "" if SIGNATURES[cfunc].square else "_x"
    return _dsp(f"dim_im_out{x}={g.out_x} is odd: CMSIS {rel}'s DSP body writes wrong output slots, "
                "leaves the last ones unwritten and overruns bufferA (semantics doc §1.8)", fix)


def _conv(cfunc, g, path, rel):
    """ARM_MATH_SIZE_MISMATCH checks, then (path "dsp") the DSP body's limits, per function."""
    out = []
    if cfunc == "arm_convolve_HWC_q7_RGB" and g.ch_in != 3:
        out.append(_mismatch("ch_im_in == 3", f"ch_im_in={g.ch_in}",
                             "use arm_convolve_HWC_q7_basic (or _fast when ch_im_in % 4 == 0) for "
                             "other channel counts."))
    if "q7_fast" in cfunc:
        out += _q7_fast_channels(g)
    if cfunc == "arm_convolve_1x1_HWC_q7_fast_nonsquare":
        for name, value, want in (("dim_kernel_x", g.k_x, 1), ("dim_kernel_y", g.k_y, 1),
                                  ("padding_x", g.pad_x, 0), ("padding_y", g.pad_y, 0),
                                  ("stride_x", g.stride_x, 1), ("stride_y", g.stride_y, 1)):
            if value != want:
                out.append(_mismatch(f"{name} == {want}", f"{name}={value}",
                                     "use arm_convolve_HWC_q7_fast_nonsquare for kernels, padding "
                                     "or strides other than 1x1 / 0 / 1."))
    if "q15_fast" in cfunc:
        if g.ch_in % 2:
            out.append(_mismatch("ch_im_in % 2 == 0", f"ch_im_in={g.ch_in}",
                                 "use arm_convolve_HWC_q15_basic, or pad the input channels to an "
                                 "even count."))
        if g.ch_out % 2:
            out.append(_mismatch("ch_im_out % 2 == 0", f"ch_im_out={g.ch_out}",
                                 "use arm_convolve_HWC_q15_basic, or an even number of output "
                                 "channels."))
    if "depthwise" in cfunc and g.ch_in != g.ch_out:
        out.append(_mismatch("ch_im_in == ch_im_out (channel multiplier 1)",
                             f"ch_im_in={g.ch_in}, ch_im_out={g.ch_out}",
                             "this function has no channel multiplier and no pointwise part; follow "
                             "it with a 1x1 convolution to change the channel count."))
    if path != "dsp":
        return out
    out += _dsp_limits(g)
    if cfunc in ("arm_convolve_HWC_q7_fast", "arm_convolve_HWC_q7_fast_nonsquare"):
        out += _fast_geometry(g, per_axis=not SIGNATURES[cfunc].square)
    if "q15_fast" in cfunc and g.out_x % 2:
        out.append(_q15_fast_odd_width(cfunc, g, rel))
    if cfunc == "arm_convolve_1x1_HWC_q7_fast_nonsquare" and not (g.out_x == g.in_x
                                                                  and g.out_y <= g.in_y):
        out.append(_dsp(f"output {g.out_x}x{g.out_y} (x*y) vs input {g.in_x}x{g.in_y}: the DSP "
                        "body reads the input at the output coordinates",
                        "use dim_im_out_x == dim_im_in_x and dim_im_out_y <= dim_im_in_y "
                        "(normally both equal), or path='ref'"))
    return out


def _pool(cfunc, g, path):
    """Refuse what the C leaves undefined: int16 loop overflow, and per path the cases of doc §3."""
    dim, ch, k, pad, stride, dim_out = g.in_y, g.ch_in, g.k_y, g.pad_y, g.stride_y, g.out_y
    out = []
    if max(dim, ch, dim_out, pad) > _I16_MAX or (dim_out and (dim_out - 1) * stride - pad + k > _I16_MAX):
        out.append(Reason("unsafe", "geometry too large; the C keeps pixel, channel and window "
                          "coordinates in int16_t", "keep dim_im_in, ch_im_in, dim_im_out, padding "
                          "and (dim_im_out-1)*stride-padding+dim_kernel at most 32767."))
    if path == "dsp" and dim_out > dim:
        out.append(Reason("unsafe", f"path='dsp' needs dim_im_out <= dim_im_in, got {dim_out} > "
                          f"{dim}; the in-place x pass would write into the next row",
                          "use path='ref' or a smaller output."))
    if path == "dsp" and dim_out * ch > 65535:
        out.append(Reason("unsafe", f"path='dsp' passes dim_im_out*ch_im_in = {dim_out * ch} as "
                          "uint16_t length", "keep it at most 65535."))
    if path == "dsp" or cfunc == "arm_avepool_q7_HWC":
        empty = [o for o in range(dim_out) if max(o * stride - pad, 0) >= min(o * stride - pad + k, dim)]
        if empty:
            why = "divides by zero" if path == "ref" else "reads outside the image"
            out.append(Reason("unsafe", f"output row/column {empty[0]} pools a window of padding "
                              f"only, where the C {why} (path={path!r})",
                              "use padding < dim_kernel and dim_im_out = (dim_im_in + 2*padding - "
                              "dim_kernel) // stride + 1."))
    return out


def constraints(cfunc, g, path, release) -> list:
    """Reasons (`Reason`, a str) why C function `cfunc` cannot run geometry `g` on `path` of CMSIS
    `release` (a qsim.releases.Release or its tag); empty when it computes the true result. See
    the module doc."""
    release = find_release(release)
    out = []
    if SIGNATURES[cfunc].square and not g.square:
        out.append(Reason("form", "is square only (one dim_im_in, dim_kernel, padding, "
                          "stride)", "use a square image, kernel, stride and padding"))
    out += _pool(cfunc, g, path) if cfunc in _POOLS else _conv(cfunc, g, path, release)
    if index_quirk(cfunc, path, release) and quirk_hit(g):
        out.append(Reason("wrong", f"on path 'ref' of CMSIS {release} keeps input indices in a "
                          "signed char and computes a wrong convolution once an index passes 127 "
                          "(semantics doc §1.1)", "use version='5.9.0', path='dsp', or for q7 give "
                          "the layer ch_in % 4 == 0 and an even ch_out so "
                          "arm_convolve_HWC_q7_fast_nonsquare can be used",
                          "keeps input indices in a signed char (wrong past 127, §1.1)"))
    return out


def check_call(cfunc, g, path, release):
    """Raise KernelArgumentError for the first reason a call of `cfunc` refuses (before any output)."""
    for r in constraints(cfunc, g, path, release):
        if r.kind in REFUSED:
            raise KernelArgumentError(f"{cfunc}: {r}. help: {r.fix}")
