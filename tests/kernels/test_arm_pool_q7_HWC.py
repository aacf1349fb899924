"""Edge cases of arm_maxpool_q7_HWC / arm_avepool_q7_HWC: REF vs DSP bodies (doc §3, §8)."""
import numpy as np
import pytest

from kernels_ref import KERNELS_REF
from qsim.errors import KernelArgumentError
from qsim.kernels import KERNELS

from ._compare import assert_bit_exact

POOLS = ("arm_maxpool_q7_HWC", "arm_avepool_q7_HWC")
IMPLS = {"numba": KERNELS, "twin": KERNELS_REF}


def _image(rows):
    """(1, H, W, 1) int8 from a list of rows."""
    return np.array(rows, np.int8)[None, :, :, None]


@pytest.mark.parametrize("impl", IMPLS)
def test_avepool_dsp_averages_row_averages(impl):
    # 2x2 window, stride 2: rows sum to 1 and 3. REF 4 // 4 = 1; DSP (1 // 2 + 3 // 2) // 2 = 0.
    im = _image([[0, 1], [1, 2]])
    avepool = IMPLS[impl]["arm_avepool_q7_HWC"]
    assert avepool(im, 2, 1, 2, 0, 2, 1, path="ref", release="5.7.0").ravel().tolist() == [1]
    assert avepool(im, 2, 1, 2, 0, 2, 1, path="dsp", release="5.7.0").ravel().tolist() == [0]


@pytest.mark.parametrize("impl", IMPLS)
def test_maxpool_same_3x3_differs_on_dsp(impl):
    # 3x3, stride 1, padding 1 (padding >= stride): the x pass copies max(a, b) into pixel 0, and
    # pixel 2's window then starts at the overwritten pixel 1, so the 5 spreads to the right.
    im = _image([[5, 0, 0], [0, 0, 0], [0, 0, 0]])
    maxpool = IMPLS[impl]["arm_maxpool_q7_HWC"]
    ref = maxpool(im, 3, 1, 3, 1, 1, 3, path="ref", release="5.7.0")[0, :, :, 0]
    dsp = maxpool(im, 3, 1, 3, 1, 1, 3, path="dsp", release="5.7.0")[0, :, :, 0]
    assert ref.tolist() == [[5, 5, 0], [5, 5, 0], [0, 0, 0]]
    assert dsp.tolist() == [[5, 5, 5], [5, 5, 5], [0, 0, 0]]


def test_maxpool_paths_agree_when_padding_below_stride(rng):
    for _ in range(30):
        k, stride = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        pad = int(rng.integers(0, min(stride, k)))
        dim, ch = int(rng.integers(max(k, 2), 12)), int(rng.integers(1, 10))
        dim_out = (dim + 2 * pad - k) // stride + 1
        im = rng.integers(-128, 128, (2, dim, dim, ch)).astype(np.int8)
        args = (im, dim, ch, k, pad, stride, dim_out)
        assert_bit_exact(KERNELS["arm_maxpool_q7_HWC"](*args, path="dsp", release="5.7.0"),
                         KERNELS["arm_maxpool_q7_HWC"](*args,
                                                       path="ref", release="5.7.0"), f"maxpool {args[1:]}")


def test_avepool_dsp_closed_form_when_padding_below_stride(rng):
    # doc §3.2: out = tdiv(sum over valid rows of tdiv(row sum over valid columns, |C|), |R|).
    def tdiv(a, b):
        return abs(a) // b * (1 if a >= 0 else -1)
    for _ in range(20):
        k, stride = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        pad = int(rng.integers(0, min(stride, k)))
        dim, ch = int(rng.integers(max(k, 2), 10)), int(rng.integers(1, 6))
        dim_out = (dim + 2 * pad - k) // stride + 1
        im = rng.integers(-128, 128, (1, dim, dim, ch)).astype(np.int8)
        got = KERNELS["arm_avepool_q7_HWC"](im, dim, ch, k, pad, stride, dim_out, path="dsp",
                                            release="5.7.0")[0]
        span = [range(max(o * stride - pad, 0), min(o * stride - pad + k, dim)) for o in range(dim_out)]
        for oy in range(dim_out):
            for ox in range(dim_out):
                for c in range(ch):
                    rows = [tdiv(sum(int(im[0, y, x, c]) for x in span[ox]), len(span[ox])) for y in span[oy]]
                    assert got[oy, ox, c] == tdiv(sum(rows), len(rows))


@pytest.mark.parametrize("impl", IMPLS)
def test_avepool_dsp_saturates_groups_of_4_and_wraps_the_rest(impl):
    # 260 pixels of 127 in one x window: channels 0..3 saturate at 32767 (-> 126), channel 4 wraps
    # to 33020 - 65536 = -32516 (-> -125); the y pass then averages 260 equal rows.
    im = np.full((1, 260, 260, 5), 127, np.int8)
    out = IMPLS[impl]["arm_avepool_q7_HWC"](im, 260, 5, 260, 0, 1, 1, path="dsp", release="5.7.0")
    assert out.ravel().tolist() == [126, 126, 126, 126, -125]


@pytest.mark.parametrize("impl", IMPLS)
def test_maxpool_ref_empty_window_is_127(impl):
    # padding 3 > kernel 2: the first window is all padding; C stores int8(-129) = 127.
    im = np.full((1, 4, 4, 2), -7, np.int8)
    out = IMPLS[impl]["arm_maxpool_q7_HWC"](im, 4, 2, 2, 3, 1, 7, path="ref", release="5.7.0")
    assert (out[0, 0] == 127).all() and (out[0, :, 0] == 127).all()
    assert out[0, 3, 3].tolist() == [-7, -7]


@pytest.mark.parametrize("fn", POOLS)
@pytest.mark.parametrize("path", ["ref", "dsp"])
def test_caller_input_is_never_modified(fn, path, rng):
    im = rng.integers(-128, 128, (3, 7, 7, 5)).astype(np.int8)
    keep = im.copy()
    KERNELS[fn](im, 7, 5, 3, 1, 1, 7, path=path, release="5.7.0")
    KERNELS_REF[fn](im, 7, 5, 3, 1, 1, 7, path=path, release="5.7.0")
    assert_bit_exact(im, keep, f"{fn} input after the call")


@pytest.mark.parametrize("fn", POOLS)
def test_same_bytes_in_both_releases(fn, rng):
    im = rng.integers(-128, 128, (2, 9, 9, 3)).astype(np.int8)
    for path in ("ref", "dsp"):
        assert_bit_exact(KERNELS[fn](im, 9, 3, 3, 1, 2, 5, path=path, release="5.9.0"),
                         KERNELS[fn](im, 9, 3, 3, 1, 2, 5, path=path, release="5.7.0"), fn)


REFUSED = [  # (fn or None for both, path, geometry dim, ch, k, pad, stride, dim_out, message part)
    (None, "dsp", (4, 1, 2, 0, 1, 5), "dim_im_out <= dim_im_in"),
    (None, "dsp", (6, 1, 2, 2, 1, 5), "padding only"),
    ("arm_avepool_q7_HWC", "ref", (6, 1, 2, 2, 1, 5), "divides by zero"),
    (None, "ref", (4, 1, 40000, 0, 1, 1), "int16"),
    (None, "dsp", (3, 30000, 1, 0, 1, 3), "65535"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fn", POOLS)
@pytest.mark.parametrize("only, path, geometry, message", REFUSED)
def test_refusals(impl, fn, only, path, geometry, message):
    if only and fn != only:
        return
    dim, ch = geometry[:2]
    im = np.zeros((1, dim, dim, ch), np.int8)
    with pytest.raises(KernelArgumentError) as err:
        IMPLS[impl][fn](im, *geometry, path=path, release="5.7.0")
    if impl == "numba":
        assert message in str(err.value) and "help:" in str(err.value)
