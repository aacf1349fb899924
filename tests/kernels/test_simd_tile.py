"""The int16 tile engine under every conv and fc kernel (qsim/kernels/_simd.py): exact modulo
2**32 at the extremes, for any tile / lane / group remainder, and independent of threads."""
import numba
import numpy as np
import pytest

from qsim.kernels import KERNELS
from qsim.kernels._conv import conv, conv_serial
from qsim.kernels._fc import exact_dot, fc_tiles, fc_tiles_serial
from qsim.kernels._simd import pack_pairs

from ._compare import assert_bit_exact
from ._conv_util import check, geo, random_data


def wrap32(v):
    return (v + 2**31) % 2**32 - 2**31


@pytest.mark.parametrize("items, dim_vec, rows", [(1, 1, 1), (7, 3, 16), (9, 64, 17), (10, 7, 8),
                                                   (11, 6, 9), (17, 129, 33), (8, 2100, 64), (3, 5, 70)])
def test_exact_dot_matches_int64_mod_2_32(rng, items, dim_vec, rows):
    vec = rng.choice(np.array([-32768, 32767, -32767, 0, 1], np.int16), size=(items, dim_vec))
    mat = rng.choice(np.array([-32768, 32767, -1, 5], np.int16), size=(rows, dim_vec))
    want = wrap32(vec.astype(np.int64) @ mat.astype(np.int64).T)
    assert_bit_exact(exact_dot(vec, mat), want, "exact_dot")


def test_pair_overflow_wraps_like_the_c_accumulator():
    # (-32768)**2 * 2 = 2**31 is the one int16-pair sum that leaves int32: it must wrap to -2**31
    vec = np.full((3, 2), -32768, np.int16)
    mat = np.full((2, 2), -32768, np.int16)
    assert exact_dot(vec, mat).tolist() == [[-2**31] * 2] * 3
    got = KERNELS["arm_fully_connected_q15"](vec, mat, 2, 2, 0, 0, np.zeros(2, np.int16),
                                             path="ref", release="5.7.0")
    assert got.tolist() == [[-32768] * 2] * 3       # sat16(-2**31 >> 0)


def test_pack_pairs_layout():
    w = np.arange(2 * 5, dtype=np.int16).reshape(2, 5)            # 2 channels, 5 taps -> 3 pairs
    p = pack_pairs(w)
    assert p.shape == (1, 3, 8)                                      # <= 8 channels: 8 lanes
    pairs = p.view(np.int16).reshape(1, 3, 8, 2)
    assert pairs[0, :, 0].tolist() == [[0, 1], [2, 3], [4, 0]]      # odd tap padded with 0
    assert pairs[0, :, 1].tolist() == [[5, 6], [7, 8], [9, 0]]
    assert not pairs[0, :, 2:].any()
    assert pack_pairs(np.zeros((9, 4), np.int8)).shape == (1, 2, 16)
    assert pack_pairs(np.zeros((17, 4), np.int8)).shape == (1, 2, 32)
    assert pack_pairs(np.zeros((33, 4), np.int8)).shape == (2, 2, 32)


@pytest.mark.parametrize("fn, ch_in, ch_out", [("arm_convolve_HWC_q15_fast_nonsquare", 4, 40),
                                               ("arm_convolve_HWC_q7_basic_nonsquare", 5, 7)])
def test_conv_extremes_and_channel_groups(rng, fn, ch_in, ch_out):
    g = geo(6, 5, ch_in, 3, 2, 1, 1, 2, 1, ch_out=ch_out)
    for bias_shift, out_shift in ((0, 0), (9, 16), (31, 31)):
        data = random_data(rng, fn, g, n=3, extreme=True)
        check(fn, g, data, bias_shift, out_shift, "ref", "5.9.0")


def test_results_do_not_depend_on_threads_or_tiling(rng):
    im = rng.integers(-128, 128, (37, 40 * 7 * 28)).astype(np.int8)
    wpair = pack_pairs(rng.integers(-128, 128, (30, 1120)).astype(np.int8))
    offs = np.arange(1120, dtype=np.uint64)           # only read for short kernel rows
    init = np.concatenate([rng.integers(-2**31, 2**31, 30), [0, 0]]).astype(np.int32)  # 32 lanes
    geom = (40, 7, 28, 10, 4, 0, 0, 2, 1, 16, 4)
    outs = []
    before = numba.get_num_threads()
    try:
        for run, threads in ((conv_serial, 1), (conv, 1), (conv, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            out = np.empty((37 * 64, 30), np.int8)
            run(im, wpair, offs, init, geom, False, 7, 8, out)
            outs.append(out)
        vec = im[:, :1920]
        fc = []
        for run in (fc_tiles_serial, fc_tiles):
            out = np.empty((37, 30), np.int8)
            run(vec, pack_pairs(im[:30, 1920:3840]), init, 9, 8, out)
            fc.append(out)
    finally:
        numba.set_num_threads(before)
    assert_bit_exact(outs[1], outs[0], "conv parallel 1 thread vs serial")
    assert_bit_exact(outs[2], outs[0], "conv parallel all threads vs serial")
    assert_bit_exact(fc[1], fc[0], "fc parallel vs serial")


@pytest.mark.parametrize("rows", [1, 3, 4])
def test_fc_narrow_rows_path_matches_int64(rng, rows):
    # rows <= NARROW_ROWS take plain dot products instead of a tile: same §0.4 result
    vec = rng.choice(np.array([-32768, 32767, -32767, 3], np.int16), size=(13, 37))
    mat = rng.choice(np.array([-32768, 32767, -2], np.int16), size=(rows, 37))
    bias = rng.integers(-32768, 32768, rows).astype(np.int16)
    got = KERNELS["arm_fully_connected_q15"](vec, mat, 37, rows, 5, 11, bias, path="ref", release="5.7.0")
    acc = vec.astype(np.int64) @ mat.astype(np.int64).T
    acc = wrap32(wrap32(bias.astype(np.int64) << 5) + (1 << 10) + acc)
    assert_bit_exact(got, np.clip(acc >> 11, -32768, 32767), f"fc q15 {rows} rows")


DIRECT_GEOMS = [geo(6, 5, 5, 3, 2, 1, 1, 2, 1, ch_out=7),        # odd run (10 taps): padded groups
                geo(9, 4, 1, 10, 4, ch_out=28),                   # KWS conv1-like, 1 channel
                geo(7, 7, 3, 5, 5, 2, 2, 1, 1, ch_out=40),        # RGB-like, 2 channel groups
                geo(5, 6, 4, 3, 3, 1, 0, 1, 2, out_y=7, out_x=5, ch_out=16),   # outputs past the image
                geo(4, 4, 8, 1, 1, ch_out=9)]                     # 1x1


@pytest.mark.parametrize("fn", ["arm_convolve_HWC_q7_basic_nonsquare", "arm_convolve_HWC_q15_basic"])
@pytest.mark.parametrize("vnni", [True, False])
def test_direct_conv_equals_gather_and_oracle(rng, monkeypatch, fn, vnni):
    # the direct loop (u8 quads with VNNI, int16 pairs otherwise) against the im2col gather loop
    import qsim.kernels._conv as conv_mod
    import qsim.kernels._simd as simd
    if vnni and not simd.VNNI:
        pytest.skip("this host has no AVX-512 VNNI")
    monkeypatch.setattr(simd, "VNNI", vnni)
    for g in DIRECT_GEOMS:
        if "nonsquare" not in fn and (g["in_x"] != g["in_y"] or g["k_x"] != g["k_y"]
                                      or g["pad_x"] != g["pad_y"] or g["s_x"] != g["s_y"]
                                      or g["out_x"] != g["out_y"]):
            continue
        for bias_shift, out_shift in ((0, 0), (9, 16), (31, 31), (2, 7)):
            data = random_data(rng, fn, g, n=3, extreme=out_shift != 7)
            direct = check(fn, g, data, bias_shift, out_shift, "ref", "5.9.0")
            monkeypatch.setattr(conv_mod, "DIRECT", False)
            gather = check(fn, g, data, bias_shift, out_shift, "ref", "5.9.0")
            monkeypatch.setattr(conv_mod, "DIRECT", True)
            assert_bit_exact(direct, gather, f"{fn} {g} direct vs gather")


def test_portable_quad_ir_matches_vnni_and_int64(rng):
    # the non-VNNI LLVM IR of the u8 x s8 quad product (other hosts) gives vpdpbusd's sums
    from numba import njit
    from qsim.kernels._simd import VNNI, _make_direct
    kernels = [_make_direct("u8", 32, vnni=False)] + ([_make_direct("u8", 32, vnni=True)] if VNNI else [])
    img = rng.choice(np.array([0, 255, 128, 1, 254], np.uint8), size=4096)
    img[::7] = rng.integers(0, 256, img[::7].shape)
    w8 = rng.choice(np.array([-128, 127, -1, 0, 5], np.int8), size=(100, 32, 4))
    wpack = np.ascontiguousarray(w8.view(np.int32).reshape(100, 32))
    offs = np.arange(100, dtype=np.int64) * 17 + 3
    bases = np.array([0, 1, 5, 64, 99, 100, 1000, 2000], np.int64)
    x = img[bases[:, None, None] + offs[None, :, None] + np.arange(4)].astype(np.int64)  # (8, 100, 4)
    want = wrap32(np.einsum("pit,ijt->pj", x, w8.astype(np.int64)))
    for k in kernels:
        run = njit(lambda a, b, c, d, e, k=k: k(a, b, c, d, e))
        acc = np.empty((8, 32), np.int32)
        run(img, bases, offs, wpack, acc)
        assert_bit_exact(acc, want, "u8 x s8 quads")


@pytest.mark.parametrize("vnni", [True, False])
@pytest.mark.parametrize("fn, vdt, mdt", [("arm_fully_connected_q7", np.int8, np.int8),
                                          ("arm_fully_connected_q15", np.int16, np.int16),
                                          ("arm_fully_connected_mat_q7_vec_q15", np.int16, np.int8)])
def test_direct_fc_equals_tiles_and_int64(rng, monkeypatch, vnni, fn, vdt, mdt):
    import qsim.kernels._fc as fc_mod
    import qsim.kernels._simd as simd
    if vnni and not simd.VNNI:
        pytest.skip("this host has no AVX-512 VNNI")
    monkeypatch.setattr(simd, "VNNI", vnni)
    bits = 8 if vdt == np.int8 else 16
    vi, mi = np.iinfo(vdt), np.iinfo(mdt)
    for items, dim_vec, rows in ((1, 1, 4), (9, 7, 8), (17, 129, 33), (8, 1920, 58), (3, 6, 17)):
        vec = rng.choice(np.array([vi.min, vi.max, vi.min + 1, 0, 3], vdt), size=(items, dim_vec))
        mat = rng.choice(np.array([mi.min, mi.max, -1, 5], mdt), size=(rows, dim_vec))
        bias = rng.integers(mi.min, mi.max + 1, rows).astype(mdt)     # bias has the weights' type
        for bias_shift, out_shift in ((0, 0), (5, 11), (31, 31)):
            got = KERNELS[fn](vec, mat, dim_vec, rows, bias_shift, out_shift, bias,
                              path="ref", release="5.9.0")
            monkeypatch.setattr(fc_mod, "DIRECT", False)
            tiles = KERNELS[fn](vec, mat, dim_vec, rows, bias_shift, out_shift, bias,
                                path="ref", release="5.9.0")
            monkeypatch.setattr(fc_mod, "DIRECT", True)
            rnd = 0 if out_shift == 0 else -(1 << 30) if out_shift == 31 else 1 << (out_shift - 1)
            acc = wrap32(wrap32((bias.astype(np.int64) << bias_shift) + rnd)
                         + vec.astype(np.int64) @ mat.astype(np.int64).T)
            want = np.clip(acc >> out_shift, -2 ** (bits - 1), 2 ** (bits - 1) - 1)
            assert_bit_exact(got, want, f"{fn} {items}x{dim_vec}x{rows} direct")
            assert_bit_exact(tiles, want, f"{fn} {items}x{dim_vec}x{rows} tiles")


def test_memo_compares_again_outside_its_scope():
    # memo trusts an entry only inside the memo_scope that compared it (simulate: one plan)
    from qsim.kernels._simd import memo, memo_scope
    calls = []

    def compute(a):
        calls.append(1)
        return a.sum()

    w = np.arange(5000, dtype=np.int32)
    assert memo("t16", w, compute) == w.sum()
    token = object()
    with memo_scope(token):
        assert memo("t16", w.reshape(50, 100).reshape(-1), compute) == w.sum()   # compared, kept
    w[0] += 1
    assert memo("t16", w, compute) == w.sum()                 # no scope: compared, recomputed
    with memo_scope(object()):
        w[1] += 1
        assert memo("t16", w, compute) == w.sum()             # a new scope compares again
    assert len(calls) == 3
