"""Full-shape checks of the kernel API (qsim.kernel_args, issue 11 item 9).

An array whose size fits but whose layout does not (HWIO weights, NCHW or (N, W, H, C) images,
a transposed fc matrix, a 1-D input without its batch axis) is refused with a ShapeError naming
the expected shape, by the numba kernels and their twins alike; the documented forms ((N, size)
flat items, flat weights, (N,) + logical shape) give identical results.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels_ref import KERNELS_REF
from qsim.errors import KernelArgumentError, ShapeError
from qsim.kernels import INTERLEAVE, KERNELS

from ._compare import assert_bit_exact

IMPLS = {"numba": KERNELS, "twin": KERNELS_REF}
OPT = dict(path="ref", release="5.9.0")


def _conv_case(rng):
    """Non-square q7 basic conv: H=5, W=7, C_in=2, C_out=3, kernel 3x2 (all axes distinct)."""
    im = rng.integers(-128, 128, (2, 5, 7, 2)).astype(np.int8)           # (N, H, W, C)
    wt = rng.integers(-128, 128, (3, 3, 2, 2)).astype(np.int8)           # OHWI: (C_out, KY, KX, C_in)
    geo = dict(dim_im_in_x=7, dim_im_in_y=5, ch_im_in=2, ch_im_out=3, dim_kernel_x=2, dim_kernel_y=3,
               padding_x=0, padding_y=0, stride_x=1, stride_y=1, bias=np.zeros(3, np.int8),
               bias_shift=0, out_shift=6, dim_im_out_x=6, dim_im_out_y=3)
    return im, wt, geo


@pytest.mark.parametrize("impl", IMPLS)
def test_conv_layouts(impl, rng):
    fn = IMPLS[impl]["arm_convolve_HWC_q7_basic_nonsquare"]
    im, wt, geo = _conv_case(rng)
    want = fn(Im_in=im, wt=wt, **geo, **OPT)
    assert want.shape == (2, 3, 6, 3)
    assert_bit_exact(fn(Im_in=im.reshape(2, -1), wt=wt.ravel(), **geo, **OPT), want, "flat forms")
    bad = {"HWIO weights": dict(wt=wt.transpose(1, 2, 3, 0)),
           "OIHW weights": dict(wt=wt.transpose(0, 3, 1, 2)),
           "NCHW input": dict(Im_in=im.transpose(0, 3, 1, 2)),
           "(N, W, H, C) input": dict(Im_in=im.transpose(0, 2, 1, 3)),
           "no batch axis": dict(Im_in=im[0])}
    for name, change in bad.items():
        kw = dict(Im_in=im, wt=wt) | change
        with pytest.raises(ShapeError, match=r"\(N, 5, 7, 2\)|\(3, 3, 2, 2\)") as e:
            fn(**kw, **geo, **OPT)
        assert "arm_convolve_HWC_q7_basic_nonsquare" in str(e.value), name


@pytest.mark.parametrize("impl", IMPLS)
def test_depthwise_and_pool_layouts(impl, rng):
    dw = IMPLS[impl]["arm_depthwise_separable_conv_HWC_q7_nonsquare"]
    im = rng.integers(-128, 128, (1, 4, 6, 4)).astype(np.int8)
    wt = rng.integers(-128, 128, (3, 2, 4)).astype(np.int8)               # (KY, KX, C)
    args = (6, 4, 4, None, 4, 2, 3, 0, 0, 1, 1, np.zeros(4, np.int8), 0, 7, 5, 2)   # x=6, y=4
    call = lambda x, w: dw(x, args[0], args[1], args[2], w, *args[4:], **OPT)  # noqa: E731
    assert call(im.reshape(1, -1), wt.ravel()).shape == call(im, wt).shape == (1, 2, 5, 4)
    with pytest.raises(ShapeError, match=r"\(3, 2, 4\)"):
        call(im, wt.transpose(1, 0, 2))
    pool = IMPLS[impl]["arm_maxpool_q7_HWC"]
    x = rng.integers(-128, 128, (2, 4, 4, 3)).astype(np.int8)
    assert pool(x, 4, 3, 2, 0, 2, 2, **OPT).shape == (2, 2, 2, 3)
    with pytest.raises(ShapeError, match=r"\(N, 4, 4, 3\)"):
        pool(x.transpose(0, 3, 1, 2).copy().reshape(2, 3, 4, 4), 4, 3, 2, 0, 2, 2, **OPT)


@pytest.mark.parametrize("impl", IMPLS)
def test_fc_layouts(impl, rng):
    vec = rng.integers(-128, 128, (2, 6)).astype(np.int8)
    mat = rng.integers(-128, 128, (4, 6)).astype(np.int8)
    bias = np.zeros(4, np.int8)
    fc, opt = IMPLS[impl]["arm_fully_connected_q7"], IMPLS[impl]["arm_fully_connected_q7_opt"]
    want = fc(vec, mat, 6, 4, 0, 7, bias, **OPT)
    assert_bit_exact(fc(vec, mat.ravel(), 6, 4, 0, 7, bias, **OPT), want, "flat matrix")
    with pytest.raises(ShapeError, match=r"\(4, 6\)"):
        fc(vec, mat.T.copy(), 6, 4, 0, 7, bias, **OPT)                     # (dim_vec, rows)
    with pytest.raises(ShapeError, match="leading batch axis"):
        fc(vec[0], mat, 6, 4, 0, 7, bias, **OPT)
    assert_bit_exact(opt(vec, INTERLEAVE["arm_fully_connected_q7_opt"](mat), 6, 4, 0, 7, bias, **OPT),
                     want, "_opt")
    with pytest.raises(ShapeError, match="INTERLEAVE"):                  # forgot to interleave
        opt(vec, mat, 6, 4, 0, 7, bias, **OPT)
    with pytest.raises(ShapeError, match=r"\(4,\)"):
        fc(vec, mat, 6, 4, 0, 7, bias.reshape(4, 1), **OPT)


@pytest.mark.parametrize("impl", IMPLS)
def test_softmax_refuses_1d_input(impl):
    """Decision: a 1-D vec_in is refused (never read as a batch of dim_vec 1-element vectors, nor
    guessed to be one vector); one vector is passed as vec[None]."""
    fn = IMPLS[impl]["arm_softmax_q7"]
    vec = np.array([10, 0, -5, 3], np.int8)
    for dim_vec in (4, 1):
        with pytest.raises(ShapeError, match=r"leading batch axis.*vec\[None\]|x\[None\]"):
            fn(vec, dim_vec, **OPT)
    assert fn(vec[None], 4, **OPT).shape == (1, 4)
    with pytest.raises(ShapeError, match=r"\(N, 4\)"):
        fn(vec.reshape(1, 2, 2), 4, **OPT)


@pytest.mark.parametrize("impl", IMPLS)
def test_softmax_with_batch_layouts(impl, rng):
    fn = IMPLS[impl]["arm_softmax_with_batch_q7"]
    x = rng.integers(-128, 128, (2, 3, 5)).astype(np.int8)              # (N, nb_batches, dim_vec)
    assert_bit_exact(fn(x.reshape(2, 15), 3, 5, **OPT), fn(x, 3, 5, **OPT), "flat slices")
    with pytest.raises(ShapeError, match=r"\(N, 3, 5\)"):
        fn(x.transpose(0, 2, 1), 3, 5, **OPT)


@pytest.mark.parametrize("impl", IMPLS)
def test_q15_fast_odd_width_message_names_the_release(impl):
    fn = IMPLS[impl]["arm_convolve_HWC_q15_fast"]
    x, w, b = np.zeros((1, 5, 5, 2), np.int16), np.zeros((2, 3, 3, 2), np.int16), np.zeros(2, np.int16)
    square = (x, 5, 2, w, 2, 3, 1, 1, b, 0, 8, 3)                        # dim_im_out 3: odd
    assert fn(*square, path="ref", release="5.9.0").shape == (1, 3, 3, 2)
    if impl == "twin":
        return                       # the twin shares the refusal (it calls the same check)
    with pytest.raises(KernelArgumentError, match="CMSIS 5.9.0 returns ARM_MATH_SIZE_MISMATCH") as e:
        fn(*square, path="dsp", release="5.9.0")
    assert "overrun" not in str(e.value)
    with pytest.raises(KernelArgumentError, match="CMSIS 5.7.0's DSP body .* overruns bufferA"):
        fn(*square, path="dsp", release="5.7.0")
    ns = KERNELS["arm_convolve_HWC_q15_fast_nonsquare"]              # 5.9.0 kept the overrun here
    with pytest.raises(KernelArgumentError, match="CMSIS 5.9.0's DSP body .* overruns bufferA"):
        ns(x, 5, 5, 2, w, 2, 3, 3, 1, 1, 1, 1, b, 0, 8, 3, 3, path="dsp", release="5.9.0")


@settings(max_examples=40, deadline=None)
@given(perm=st.permutations([0, 1, 2, 3]), batch=st.integers(1, 3))
def test_any_other_axis_order_is_refused(perm, batch):
    """Every transpose of an (N, H, W, C) input whose shape differs from (N, 5, 7, 2) is refused."""
    im, wt, geo = _conv_case(np.random.default_rng(0))
    im = np.ascontiguousarray(np.repeat(im[:1], batch, 0).transpose(perm))
    fn = KERNELS["arm_convolve_HWC_q7_basic_nonsquare"]
    if im.shape[1:] == (5, 7, 2):
        assert fn(im, wt=wt, **geo, **OPT).shape == (im.shape[0], 3, 6, 3)
    else:
        with pytest.raises(ShapeError):
            fn(im, wt=wt, **geo, **OPT)
