"""qsim's companion kernels (qsim.kernels.COMPANION_KERNELS): numba == kernels_ref twins on the
shared random cases, hand-worked values of the documented arithmetic, cross-checks against
independent oracles (onnxruntime pooling, the CMSIS q7 depthwise mirror, numpy concatenate), and
the refusals of illegal arguments."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.cases import COMPANION_CASES
from kernels_ref import COMPANION_REF
from qsim.companion_signatures import COMPANION_SIGNATURES
from qsim.errors import KernelArgumentError
from qsim.kernels import COMPANION_KERNELS, KERNELS

from ._compare import assert_bit_exact

K, R = COMPANION_KERNELS, COMPANION_REF
N_CASES = 10


def test_every_companion_function_has_kernel_twin_and_cases():
    assert sorted(K) == sorted(COMPANION_SIGNATURES)
    assert sorted(R) == sorted(COMPANION_SIGNATURES)
    assert sorted(COMPANION_CASES) == sorted(COMPANION_SIGNATURES)


@pytest.mark.parametrize("fn", sorted(COMPANION_SIGNATURES))
def test_kernel_equals_twin(fn):
    rng = np.random.default_rng(sum(map(ord, fn)))
    for i in range(N_CASES):
        args = COMPANION_CASES[fn](rng)
        truncate = i % 5 == 4
        assert_bit_exact(K[fn](*args, truncate=truncate), R[fn](*args, truncate=truncate),
                         f"{fn} case {i} truncate={truncate}")


def _row(values, bits=8):
    """(1, 1, W, 1) image of one row."""
    return np.array(values, np.int8 if bits == 8 else np.int16)[None, None, :, None]


@pytest.mark.parametrize("impl", [K, R], ids=["numba", "twin"])
@pytest.mark.parametrize("values, lshift, rounding, truncate, want", [
    ([1, 2], 0, 0, False, 2),        # 1.5 -> half up 2
    ([1, 2], 0, 1, False, 1),        # toward zero 1
    ([-1, -2], 0, 0, False, -1),     # -1.5 -> floor(-1.5 + 0.5) = -1
    ([-1, -2], 0, 0, True, -2),      # ARM_NN_TRUNCATE: floor(-1.5) = -2
    ([-1, -2], 0, 1, True, -1),      # toward zero ignores truncate
    ([3, 2, 2], 1, 1, False, 4),     # ML-KWS style: (7 << 1) / 3 = 4 (C division)
    ([3, 2, 2], 1, 0, False, 5),     # half up: floor(14/3 + 1/2) = 5
    ([100, 100], 1, 0, False, 127),  # 200 saturates
])
def test_avepool_rounding(impl, values, lshift, rounding, truncate, want):
    w = len(values)
    out = impl["qsim_avepool_q7_HWC_nonsquare"](_row(values), w, 1, 1, w, 1, 0, 0, 1, 1, 0, rounding, lshift,
                                                 1, 1, truncate=truncate)
    assert out.ravel().tolist() == [want]


@pytest.mark.parametrize("impl", [K, R], ids=["numba", "twin"])
def test_avepool_count_include_pad_and_empty_windows(impl):
    im = _row([8, 4])                                   # 1x2 image, 2x2 windows, top/left padding 1
    args = (im, 2, 1, 1, 2, 2, 1, 1, 1, 1)
    with_pad = impl["qsim_avepool_q7_HWC_nonsquare"](*args, 1, 0, 0, 3, 2)[0, :, :, 0]
    valid = impl["qsim_avepool_q7_HWC_nonsquare"](*args, 0, 0, 0, 3, 2)[0, :, :, 0]
    assert with_pad.tolist() == [[2, 3, 1], [2, 3, 1]]  # 8/4, 12/4, 4/4
    assert valid.tolist() == [[8, 6, 4], [8, 6, 4]]     # 8/1, 12/2, 4/1
    empty = impl["qsim_avepool_q7_HWC_nonsquare"](im, 2, 1, 1, 1, 1, 3, 0, 1, 1, 0, 0, 0, 1, 1)
    maxed = impl["qsim_maxpool_q15_HWC_nonsquare"](_row([5, 6], 16), 2, 1, 1, 1, 1, 3, 0, 1, 1, 1, 1)
    assert empty.ravel().tolist() == [0] and maxed.ravel().tolist() == [-32768]


@settings(max_examples=30, deadline=None)
@given(k=st.integers(0, 4), total=st.integers(-2**14, 2**14), lshift=st.integers(0, 8),
       truncate=st.booleans())
def test_power_of_two_count_is_nn_round_shift(k, total, lshift, truncate):
    # count = 2**k: the half-up divide is exactly asr(v + NN_ROUND(k), k), the shifts' rounding.
    from qsim.kernels._companion import average
    v = total << lshift
    rnd = 0 if truncate or k == 0 else 1 << (k - 1)
    assert average(total, 1 << k, lshift, 0, truncate) == (v + rnd) >> k


def _ort_pool(op, x, kernel, strides, pads, count_include_pad=0):
    """onnxruntime's MaxPool / AveragePool on an NHWC float image (pads: top, left, bottom, right)."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper
    attrs = dict(kernel_shape=list(kernel), strides=list(strides), pads=list(pads))
    if op == "AveragePool":
        attrs["count_include_pad"] = count_include_pad
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    g = helper.make_graph([node], "p", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2), np.float32)})[0]
    return y.transpose(0, 2, 3, 1)


def _same_geometry(rng):
    """A TF "SAME" geometry with an even kernel along one axis: asymmetric padding."""
    dy, dx, ky, kx = int(rng.integers(3, 12)), int(rng.integers(3, 12)), int(rng.integers(1, 5)), 4
    sy, sx = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    oy, ox = -(-dy // sy), -(-dx // sx)
    ty, tx = max((oy - 1) * sy + ky - dy, 0), max((ox - 1) * sx + kx - dx, 0)
    return dy, dx, ky, kx, sy, sx, oy, ox, (ty // 2, tx // 2, ty - ty // 2, tx - tx // 2)


@pytest.mark.parametrize("bits", [8, 16])
def test_maxpool_matches_onnxruntime_with_same_padding(rng, bits):
    for _ in range(5):
        dy, dx, ky, kx, sy, sx, oy, ox, pads = _same_geometry(rng)
        im = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (2, dy, dx, 3)).astype(np.int8 if bits == 8 else np.int16)
        got = K[f"qsim_maxpool_q{bits - 1}_HWC_nonsquare"](im, dx, dy, 3, kx, ky, pads[1], pads[0], sx, sy, ox, oy)
        want = _ort_pool("MaxPool", im, (ky, kx), (sy, sx), pads)
        assert_bit_exact(got, want.astype(got.dtype), f"maxpool q{bits - 1} {im.shape} k{ky}x{kx} pads {pads}")


@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_avepool_matches_onnxruntime_within_half_an_lsb(rng, count_include_pad):
    # got == floor(mean * 2**lshift + 1/2), compared where the float32 mean is not within 1e-3 of a
    # tie (ties are exact in the integer kernel but may round either way in float32).
    for _ in range(5):
        dy, dx, ky, kx, sy, sx, oy, ox, pads = _same_geometry(rng)
        lshift = int(rng.integers(0, 6))
        im = rng.integers(-20, 20, (2, dy, dx, 3)).astype(np.int16)
        got = K["qsim_avepool_q15_HWC_nonsquare"](im, dx, dy, 3, kx, ky, pads[1], pads[0], sx, sy,
                                                   count_include_pad, 0, lshift, ox, oy)
        want = _ort_pool("AveragePool", im, (ky, kx), (sy, sx), pads, count_include_pad) * 2.0 ** lshift
        near_tie = np.abs(want + 0.5 - np.round(want + 0.5)) < 1e-3
        expected = np.floor(want + 0.5)
        assert np.array_equal(got[~near_tie], expected[~near_tie]), (pads, lshift)
        assert np.abs(got - want).max() <= 0.5 + 1e-3


def test_global_avepool_equals_avepool_over_the_whole_image(rng):
    for bits in (8, 16):
        im = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (3, 25, 5, 7)).astype(np.int8 if bits == 8 else np.int16)
        lshift = 3
        g = K[f"qsim_global_avepool_q{bits - 1}_HWC"](im, 5, 25, 7, lshift)
        a = K[f"qsim_avepool_q{bits - 1}_HWC_nonsquare"](im, 5, 25, 7, 5, 25, 0, 0, 1, 1, 0, 0, lshift, 1, 1)
        assert_bit_exact(g, a, f"global vs avepool q{bits - 1}")


@pytest.mark.parametrize("impl", [K, R], ids=["numba", "twin"])
def test_add_worked_values(impl):
    a = np.array([[100, -3, 5, -128]], np.int8)
    b = np.array([[100, 0, -6, -128]], np.int8)
    # (a*2 + b + 1) >> 1: 301>>1 = 150 -> 127; -5>>1 = -3; 5>>1 = 2; -383>>1 = -192 -> -128
    assert impl["qsim_add_q7"](a, 1, b, 0, 1, 4).tolist() == [[127, -3, 2, -128]]
    assert impl["qsim_add_q7"](a, 1, b, 0, 1, 4, truncate=True).tolist() == [[127, -3, 2, -128]]
    big = np.array([[-32768, 32767]], np.int16)          # (+-2**29 each) * 2 + 2**30, >> 31
    assert impl["qsim_add_q15"](big, 14, big, 14, 31, 2).tolist() == [[0, 0]]    # -0.5 rounds up to 0
    assert impl["qsim_add_q15"](big, 14, big, 14, 31, 2, truncate=True).tolist() == [[-1, 0]]


@pytest.mark.parametrize("impl", [K, R], ids=["numba", "twin"])
def test_clip_is_relu6(impl):
    frac = 4                                            # Q3.4: 6.0 is 96
    data = np.array([[-128, -1, 0, 50, 96, 97, 127]], np.int8)
    keep = data.copy()
    assert impl["qsim_clip_q7"](data, 7, 0, 6 << frac).tolist() == [[0, 0, 0, 50, 96, 96, 96]]
    assert impl["qsim_clip_q7"](data, 7, -300, 300).tolist() == keep.tolist()
    assert_bit_exact(data, keep, "clip input after the call")


@pytest.mark.parametrize("bits", [8, 16])
def test_concat_calls_equal_numpy_concatenate(rng, bits):
    dtype = np.int8 if bits == 8 else np.int16
    fn = K[f"qsim_concat_channels_q{bits - 1}"]
    parts = [rng.integers(-100, 100, (2, 6, 5, c)).astype(dtype) for c in (3, 1, 4)]
    out = np.zeros((2, 30 * 8), dtype)
    off = 0
    for p in parts:
        out = fn(p, 30, p.shape[-1], out, 8, off).reshape(2, -1)
        off += p.shape[-1]
    assert_bit_exact(out.reshape(2, 6, 5, 8), np.concatenate(parts, axis=-1), "concat")


def test_depthwise_q15_equals_the_cmsis_q7_mirror_on_q7_data(rng):
    # q7 data, weights and bias, outputs within int8: the q15 kernel must give the q7 kernel's bytes
    # (arm_depthwise_separable_conv_HWC_q7_nonsquare, checked against the real CMSIS-NN elsewhere).
    for _ in range(10):
        ch, kx, ky = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        dx, dy, px, py = int(rng.integers(2, 9)), int(rng.integers(2, 9)), int(rng.integers(0, kx)), int(rng.integers(0, ky))
        ox, oy = dx + 2 * px - kx + 1, dy + 2 * py - ky + 1
        im = rng.integers(-128, 128, (2, dy, dx, ch)).astype(np.int8)
        wt = rng.integers(-128, 128, (ky, kx, ch)).astype(np.int8)
        bias = rng.integers(-128, 128, ch).astype(np.int8)
        args = (dx, dy, ch)
        geo = (ch, kx, ky, px, py, 1, 1)
        q7 = KERNELS["arm_depthwise_separable_conv_HWC_q7_nonsquare"](
            im, *args, wt, *geo, bias, 2, 12, ox, oy, path="ref", release="5.7.0")
        q15 = K["qsim_depthwise_conv_HWC_q15_nonsquare"](
            im.astype(np.int16), *args, wt.astype(np.int16), *geo, bias.astype(np.int16), 2, 12, ox, oy)
        assert_bit_exact(q15, q7.astype(np.int16), "depthwise q15 vs q7 mirror")


def test_depthwise_q15_wraps_int32_like_the_legacy_convolutions():
    # two taps of (-32768)**2 = 2**31 wrap to -2**31; out_shift 16 -> -32768
    im = np.full((1, 1, 2, 1), -32768, np.int16)
    wt = np.full((1, 2, 1), -32768, np.int16)
    for impl in (K, R):
        out = impl["qsim_depthwise_conv_HWC_q15_nonsquare"](im, 2, 1, 1, wt, 1, 2, 1, 0, 0, 1, 1,
                                                            np.zeros(1, np.int16), 0, 16, 1, 1)
        assert out.ravel().tolist() == [-32768]


REFUSED = [
    ("qsim_avepool_q7_HWC_nonsquare", (np.zeros((1, 4, 4, 1), np.int8), 4, 4, 1, 4, 4, 0, 0, 1, 1, 0, 0, 20, 1, 1),
     "overflow"),
    ("qsim_avepool_q15_HWC_nonsquare", (np.zeros((1, 4, 4, 1), np.int16), 4, 4, 1, 2, 2, 0, 0, 1, 1, 2, 0, 0, 3, 3),
     "count_include_pad"),
    ("qsim_maxpool_q7_HWC_nonsquare", (np.zeros((1, 4, 4, 1), np.int8), 4, 4, 1, 2, 2, 0, 0, 0, 1, 3, 3), "stride_x"),
    ("qsim_global_avepool_q15_HWC", (np.zeros((1, 25, 5, 1), np.int16), 5, 25, 1, 9), "overflow"),
    ("qsim_add_q15", (np.zeros((1, 3), np.int16), 15, np.zeros((1, 3), np.int16), 0, 0, 3), "lshift_a"),
    ("qsim_clip_q7", (np.zeros((1, 3), np.int8), 3, 6, 0), "min_val"),
    ("qsim_depthwise_conv_HWC_q15_nonsquare", (np.zeros((1, 2, 2, 2), np.int16), 2, 2, 2, np.zeros(2, np.int16), 3, 1,
                                               1, 0, 0, 1, 1, np.zeros(3, np.int16), 0, 0, 2, 2), "ch_im_in == ch_im_out"),
    ("qsim_concat_channels_q7", (np.zeros((1, 6), np.int8), 2, 3, np.zeros((1, 8), np.int8), 4, 2), "ch_offset"),
]


@pytest.mark.parametrize("fn, args, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refusals(fn, args, message):
    with pytest.raises(KernelArgumentError) as err:
        K[fn](*args)
    assert message in str(err.value) and "help:" in str(err.value)
    with pytest.raises(KernelArgumentError):
        R[fn](*args)


@settings(max_examples=200, deadline=None)
@given(total=st.integers(-2**30, 2**30), count=st.integers(1, 2**32 - 1), rounding=st.integers(0, 1),
       truncate=st.booleans())
def test_float_divide_in_average_is_exact(total, count, rounding, truncate):
    # the numba average divides in float64; the exact integer rule is the kernels_ref one
    from kernels_ref.qsim_pool_HWC_nonsquare import average as exact
    from qsim.kernels._companion import average
    assert average(total, count, 0, rounding, truncate) == exact(total, count, 0, rounding, truncate)


@pytest.mark.parametrize("total, count", [(2**30, 3), (-2**30, 3), (2**30 - 1, 2**30), (-7, 7), (2**30, 2**32 - 1)])
def test_float_divide_edges(total, count):
    from kernels_ref.qsim_pool_HWC_nonsquare import average as exact
    from qsim.kernels._companion import average
    for rounding in (0, 1):
        for truncate in (False, True):
            assert average(total, count, 0, rounding, truncate) == exact(total, count, 0, rounding, truncate)


@pytest.mark.parametrize("value", [-128, 127])
def test_global_avepool_q7_many_pixels_at_the_extremes(value):
    """600 pixels of 256 channels: the q7 kernel's int16 partial sums are flushed every 256
    pixels here (one pixel per group); a missed flush would wrap them."""
    im = np.full((1, 20, 30, 256), value, np.int8)
    im[0, 0, 0, 0] = -value - 1                 # one different value, so channel 0 differs
    fn = "qsim_global_avepool_q7_HWC"
    got = K[fn](im, 30, 20, 256, 0)
    assert_bit_exact(got, R[fn](im, 30, 20, 256, 0), fn)
    assert got.ravel()[1] == value
