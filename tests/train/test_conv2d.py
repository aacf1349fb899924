"""qsim.train.conv2d (chunked, batch-parallel conv products) and qsim.train.workers."""
import threading

import numpy as np
import pytest

from qsim.train import conv2d, workers
from qsim.train.layers import Conv

from .test_grad import naive_conv


def naive_grads(x, w, g, stride, padding):
    """Weight, bias and input gradients of naive_conv by the same loops, transposed."""
    n, h, wd, ci = x.shape
    co, kh, kw, _ = w.shape
    (sy, sx), (py, px) = stride, padding
    gw, gx = np.zeros(w.shape), np.zeros(x.shape)
    for i in range(g.shape[1]):
        for j in range(g.shape[2]):
            for ky in range(kh):
                for kx in range(kw):
                    r, c = i * sy - py + ky, j * sx - px + kx
                    if 0 <= r < h and 0 <= c < wd:
                        gw[:, ky, kx, :] += g[:, i, j, :].T @ x[:, r, c, :]
                        gx[:, r, c, :] += g[:, i, j, :] @ w[:, ky, kx, :]
    return gw, g.sum((0, 1, 2)), gx


CASES = [((7, 9, 6, 3), (4, 3, 2, 3), (1, 1), (0, 0)),
         ((5, 11, 8, 2), (6, 3, 3, 2), (2, 1), (1, 1)),
         ((9, 12, 5, 4), (3, 5, 2, 4), (2, 2), (2, 0))]


@pytest.mark.parametrize("chunk_bytes", [1, 1 << 20])      # one item per chunk, whole slices
@pytest.mark.parametrize("xs, ws, stride, padding", CASES)
def test_forward_and_grads_match_loops(monkeypatch, chunk_bytes, xs, ws, stride, padding):
    monkeypatch.setattr(conv2d, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = conv2d.conv_forward(x, w, b, stride, padding)
    np.testing.assert_allclose(y, naive_conv(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    mask = rng.random(y.shape) < 0.7
    gw, gb, gx = conv2d.conv_grads(x, w, g, stride, padding, mask=mask)
    for got, want in zip((gw, gb, gx), naive_grads(x, w, g * mask, stride, padding)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert conv2d.conv_grads(x, w, g, stride, padding, need_input_grad=False)[2] is None


def test_float32_grads_stay_float32_with_a_float64_gradient():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 5, 2)).astype(np.float32)
    w = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    g = rng.standard_normal((4, 5, 4, 3))                      # float64, as a loss may give
    gw, gb, gx = conv2d.conv_grads(x, w, g, (1, 1), (0, 0))
    assert gw.dtype == gb.dtype == gx.dtype == np.float32
    np.testing.assert_allclose(gx, naive_grads(x, w, g, (1, 1), (0, 0))[2], rtol=1e-4, atol=1e-4)


def test_conv_layer_runs_the_same_sums_whatever_the_worker_count(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((10, 12, 6, 3)).astype(np.float32)
    params = {"weight": rng.standard_normal((5, 3, 2, 3)).astype(np.float32),
              "bias": rng.standard_normal(5).astype(np.float32)}
    g = rng.standard_normal((10, 10, 5, 5)).astype(np.float32)
    runs = []
    for k in (1, 2, 3):
        monkeypatch.setattr(workers, "WORKERS", k)
        layer = Conv("c")
        y = layer.forward(x, params)
        runs.append((y,) + layer.backward(g))
    for y, gx, grads in runs[1:]:
        np.testing.assert_array_equal(y, runs[0][0])           # each item's sums are the same
        np.testing.assert_array_equal(gx, runs[0][1])
        for key in ("weight", "bias"):      # the batch's fixed parts: the same sums
            np.testing.assert_array_equal(grads[key], runs[0][2][key])


def test_over_batch_parts_are_fixed_in_order_and_do_not_nest(monkeypatch):
    """The parts depend on n and size only (BLOCKS), never on WORKERS: the caller and pool threads
    take them in turn; inside a part over_batch runs whole."""
    monkeypatch.setattr(workers, "BLOCKS", 3)
    for k in (1, 2, 3, 4):
        monkeypatch.setattr(workers, "WORKERS", k)
        names = []

        def part(lo, hi):
            names.append(threading.current_thread().name)
            inner = workers.over_batch(lambda a, b: (a, b), 4)      # inside a part: runs here
            return lo, hi, inner

        got = workers.over_batch(part, 10)
        assert [(lo, hi) for lo, hi, _ in got] == [(0, 3), (3, 6), (6, 10)]
        assert all(inner == [(0, 4)] for _, _, inner in got)
        threads = set(names)
        assert len(threads) <= min(k, 3)          # a thread may take several parts in turn
        assert k > 1 or threads == {threading.current_thread().name}
        assert all(n.startswith("qsim-train") for n in threads - {threading.current_thread().name})
    assert workers.over_batch(lambda lo, hi: (lo, hi), 1) == [(0, 1)]
    assert workers.over_batch(lambda lo, hi: (lo, hi), 2) == [(0, 1), (1, 2)]
    small = workers.MIN_SPLIT - 1                                 # too small to pay for a worker
    assert workers.over_batch(lambda lo, hi: (lo, hi), 10, size=small) == [(0, 10)]
    assert len(workers.over_batch(lambda lo, hi: (lo, hi), 10, size=small + 1)) == 3


def test_over_batch_waits_for_every_part_and_raises(monkeypatch):
    monkeypatch.setattr(workers, "WORKERS", 2)
    done = []

    def part(lo, hi):
        if lo == 0:
            raise ValueError("part 0")
        done.append(lo)
        return lo

    with pytest.raises(ValueError, match="part 0"):
        workers.over_batch(part, 4)
    assert done == [2]


def test_scratch_is_per_thread_and_per_key():
    a = workers.scratch("a", 100, np.float32)
    assert workers.scratch("a", 50, np.float32).base is a.base           # reused, same memory
    assert not np.shares_memory(workers.scratch("b", 100, np.float32), a)
    other = []
    t = threading.Thread(target=lambda: other.append(workers.scratch("a", 100, np.float32)))
    t.start()
    t.join()
    assert not np.shares_memory(other[0], a)


# float32 runs qsim.train._ftile's tiles: output channels over and under one 32-lane group, tap
# counts off the 8-row and 32-lane tiles, window rows off the 8-row tile, padding, strides
F32_CASES = CASES + [((3, 10, 9, 5), (40, 3, 3, 5), (1, 2), (1, 1)),
                     ((2, 5, 5, 70), (65, 1, 1, 70), (1, 1), (0, 0)),
                     ((3, 16, 7, 28), (30, 10, 4, 28), (2, 1), (0, 0)),     # KWS conv2's shape
                     ((3, 13, 10, 1), (28, 10, 4, 1), (1, 1), (0, 0))]      # KWS conv1's


@pytest.mark.parametrize("chunk_bytes", [1, 1 << 20])
@pytest.mark.parametrize("xs, ws, stride, padding", F32_CASES)
def test_float32_tiles_match_loops(monkeypatch, chunk_bytes, xs, ws, stride, padding):
    monkeypatch.setattr(conv2d, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(4)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, ws[0]))
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    ref = naive_conv(x64, w64, b.astype(np.float64), stride, padding)
    y = conv2d.conv_forward(x, w, b, stride, padding)
    assert y.dtype == np.float32
    tol = dict(rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(y, ref, **tol)
    np.testing.assert_allclose(conv2d.conv_forward(x, w, None, stride, padding), ref - b, **tol)
    g = rng.standard_normal(y.shape).astype(np.float32)
    mask = rng.random(y.shape) < 0.7
    for m in (None, mask):
        gm = g if m is None else g * m
        want = naive_grads(x64, w64, gm.astype(np.float64), stride, padding)
        got = conv2d.conv_grads(x, w, g, stride, padding, mask=m)
        for a, e in zip(got, want):
            assert a.dtype == np.float32 and a.shape == e.shape
            np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5 * np.abs(e).max())
        gw, gb, gx = conv2d.conv_grads(x, w, g, stride, padding, need_input_grad=False, mask=m)
        assert gx is None
        np.testing.assert_allclose(gw, want[0], rtol=1e-5, atol=1e-5 * np.abs(want[0]).max())


def test_float32_forward_is_the_same_whatever_the_slicing(monkeypatch):
    """Each output is one chain of fused multiply-adds in tap order: any chunk size, worker count
    or batch slice gives the same bits (float_exec in batches = one whole-set run)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((11, 16, 7, 28)).astype(np.float32)
    w = rng.standard_normal((30, 10, 4, 28)).astype(np.float32)
    b = rng.standard_normal(30).astype(np.float32)
    whole = conv2d.conv_forward(x, w, b, (2, 1), (0, 0))
    for chunk_bytes, k in ((1, 1), (1 << 20, 2), (5000, 3)):
        monkeypatch.setattr(conv2d, "CHUNK_BYTES", chunk_bytes)
        monkeypatch.setattr(workers, "WORKERS", k)
        np.testing.assert_array_equal(conv2d.conv_forward(x, w, b, (2, 1), (0, 0)), whole)
        np.testing.assert_array_equal(
            np.concatenate([conv2d.conv_forward(x[s:s + 4], w, b, (2, 1), (0, 0))
                            for s in range(0, 11, 4)]), whole)
