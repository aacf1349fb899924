"""qsim.constraints (shared by kernel choice and the numba kernels) against the independent
kernels_ref oracle: a call is refused by the numba kernel exactly when kernels_ref refuses it, and
otherwise both give the same bytes; kernel choice reports every candidate's reasons; the functions outside PATH_DEPENDENT give the
same bytes on both paths."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.cases import CASES
from kernels_ref import KERNELS_REF
from qsim.constraints import PATH_DEPENDENT, REFUSED, constraints, fast_geometry_ok
from qsim.errors import KernelArgumentError, UnsupportedOpError
from qsim.graph import QuantSettings
from qsim.importers.spec import Sequential
from qsim.kernels import KERNELS
from qsim.ops import ConvGeometry
from qsim.passes.choose_kernels import Q7_CONV, Q15_CONV, choose_kernels

CONVS = Q7_CONV + Q15_CONV + ("arm_depthwise_separable_conv_HWC_q7",
                              "arm_depthwise_separable_conv_HWC_q7_nonsquare")
POOLS = ("arm_maxpool_q7_HWC", "arm_avepool_q7_HWC")


@st.composite
def geometries(draw, square):
    """Small geometries, output sizes natural or off by one or two (what a user may pass)."""
    def axis():
        d, k = draw(st.integers(1, 6)), draw(st.integers(1, 4))
        p, s = draw(st.integers(0, 2)), draw(st.integers(1, 3))
        natural = max((d + 2 * p - k) // s + 1, 0)
        return d, k, p, s, max(natural + draw(st.integers(-1, 2)), 0)
    y = axis()
    x = y if square else axis()
    ch_in, ch_out = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    return ConvGeometry(y[0], x[0], ch_in, y[1], x[1], y[2], x[2], y[3], x[3], y[4], x[4], ch_out)


def _call(impls, fn, g, path, version, rng):
    bits = 16 if "q15" in fn else 8
    dtype = np.int8 if bits == 8 else np.int16
    im = rng.integers(-100, 100, (1, g.in_y, g.in_x, g.ch_in)).astype(dtype)
    if "depthwise" in fn:
        g = g._replace(ch_out=g.ch_in)
        wt = rng.integers(-100, 100, (g.k_y, g.k_x, g.ch_in)).astype(dtype)
    else:
        wt = rng.integers(-100, 100, (g.ch_out, g.k_y, g.k_x, g.ch_in)).astype(dtype)
    bias = rng.integers(-100, 100, g.ch_out).astype(dtype)
    geo = g.c_args(square="nonsquare" not in fn)
    args = dict(Im_in=im, ch_im_in=g.ch_in, wt=wt, ch_im_out=g.ch_out, bias=bias, bias_shift=1,
                out_shift=7, **geo)
    return g, [_outcome(impl[fn], args, path, version) for impl in impls]


def _outcome(kernel, args, path, version):
    try:
        return kernel(**args, path=path, release=version)
    except KernelArgumentError:
        return "refused"


@pytest.mark.parametrize("fn", CONVS)
@given(data=st.data())
@settings(max_examples=25, deadline=None)
def test_conv_refusals_match_the_oracle(fn, data):
    g = data.draw(geometries(square="nonsquare" not in fn))
    path, version = data.draw(st.sampled_from([("ref", "5.7.0"), ("dsp", "5.7.0"), ("dsp", "5.9.0")]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    g, (numba_out, ref_out) = _call((KERNELS, KERNELS_REF), fn, g, path, version, rng)
    refused = any(r.kind in REFUSED for r in constraints(fn, g, path, version))
    assert (isinstance(numba_out, str), isinstance(ref_out, str)) == (refused, refused), \
        (fn, g, path, constraints(fn, g, path, version))
    if not refused:
        np.testing.assert_array_equal(numba_out, ref_out)


@pytest.mark.parametrize("fn", POOLS)
@given(g=geometries(square=True), path=st.sampled_from(["ref", "dsp"]), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_pool_refusals_match_the_oracle(fn, g, path, seed):
    im = np.random.default_rng(seed).integers(-128, 128, (1, g.in_y, g.in_x, g.ch_in)).astype(np.int8)
    a = (im, g.in_y, g.ch_in, g.k_y, g.pad_y, g.stride_y, g.out_y)
    numba_out, ref_out = (_outcome(lambda **kw: impl[fn](*a, **kw), {}, path, "5.7.0")
                          for impl in (KERNELS, KERNELS_REF))
    refused = any(r.kind in REFUSED for r in constraints(fn, g, path, "5.7.0"))
    assert (isinstance(numba_out, str), isinstance(ref_out, str)) == (refused, refused), (fn, g, path)
    if not refused:
        np.testing.assert_array_equal(numba_out, ref_out)


def test_quirk_is_wrong_not_refused():
    g = ConvGeometry(130, 130, 4, 3, 3, 1, 1, 1, 1, 130, 130, 2)
    kinds = [r.kind for r in constraints("arm_convolve_HWC_q7_fast", g, "ref", "5.7.0")]
    assert kinds == ["wrong"]
    assert constraints("arm_convolve_HWC_q7_fast", g, "ref", "5.9.0") == []
    assert constraints("arm_convolve_HWC_q7_fast_nonsquare", g, "ref", "5.7.0") == []
    assert [r.kind for r in constraints("arm_convolve_HWC_q7_fast", g._replace(in_x=129), "ref",
                                        "5.9.0")] == ["form"]


def test_fast_geometry_matches_the_dsp_refusal():
    natural = ConvGeometry(8, 8, 4, 3, 3, 1, 1, 1, 1, 8, 8, 4)
    too_big = natural._replace(out_y=10, out_x=10)
    assert fast_geometry_ok(natural) and not fast_geometry_ok(too_big)
    assert constraints("arm_convolve_HWC_q7_fast", too_big, "dsp", "5.9.0")
    assert not constraints("arm_convolve_HWC_q7_fast", too_big, "ref", "5.9.0")


def test_kernel_choice_reports_every_candidate():
    g = Sequential((49, 10, 1), "kws").conv(28, (10, 4)).build(seed=0)
    g.quant = QuantSettings("q15", "dsp")
    with pytest.raises(UnsupportedOpError) as e:
        choose_kernels(g)
    for fn in Q15_CONV:
        assert fn in str(e.value)
    assert "dim_im_out_x=7 is odd" in str(e.value) and "square only" in str(e.value)


@pytest.mark.parametrize("fn", sorted(set(KERNELS) - PATH_DEPENDENT))
def test_functions_outside_path_dependent_give_the_same_bytes_on_both_paths(fn, rng):
    for _ in range(5):
        args = CASES[fn](rng, "dsp", "5.9.0")        # legal on the DSP path, hence on both
        for version in ("5.7.0", "5.9.0"):
            ref, dsp = (KERNELS[fn](*args, path=path, release=version) for path in ("ref", "dsp"))
            np.testing.assert_array_equal(ref, dsp, err_msg=f"{fn} {version}")
