"""qsim.simulate's engine: chunked, threaded, with a per-graph plan cache. The result must not
depend on the chunking or the thread count, and an edited graph must be validated and lowered
again (never simulated with a stale plan)."""
import warnings

import numba
import numpy as np
import pytest

import importlib
from kernels_ref import KERNELS_REF as REF
from qsim.calibrate import calibrate
from qsim.errors import QsimError
from qsim.importers.spec import KWS_SPEC, Sequential
from qsim.lower import kernel_call
from qsim.quantize import quantize
from qsim.simulate import simulate

sim = importlib.import_module("qsim.simulate")   # the module (qsim.simulate is also a function)


@pytest.fixture(scope="module")
def kws():
    g = Sequential.from_dict(KWS_SPEC).build(seed=3)
    rng = np.random.default_rng(3)
    x = rng.normal(0, 4, (96,) + g.tensors["input"].shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, calibrate(g, x), scheme="q7")
    return q, x, _reference(q, x[:16])


def _layer_by_layer(q, x, kernel):
    """The output of q on x run layer by layer, no simulate engine: kernel(call) gives the
    function for a kernel call and the options it takes. Input channel padding is added and the
    output's stripped as simulate does."""
    from qsim.lower import channel_pad, data_move, stored_shape
    xi = q.tensors[q.inputs[0]].qformat.quantize(x)
    t = {q.inputs[0]: np.pad(xi, ((0, 0),) * (xi.ndim - 1) + ((0, channel_pad(q, q.inputs[0])),))}
    for node in q.nodes:
        call = kernel_call(q, node)
        if call is None:
            t[node.output] = data_move(node, t[node.input], stored_shape(q, node.output))
            continue
        fn, opts = kernel(call)
        y = fn(**{call.in_arg: call.kernel_input(t[node.input])}, **call.args, **opts)
        t[node.output] = np.asarray(y).reshape((len(x),) + stored_shape(q, node.output))
    out = q.outputs[0]
    return t[out][..., :q.tensors[out].shape[-1]]


def _options(q, call):
    if call.companion:                       # one C body: no path / release
        return {"truncate": q.quant.truncate}
    return dict(path=q.quant.path, release=q.quant.version, truncate=q.quant.truncate)


def _reference(q, x):
    """Layer by layer through kernels_ref (the plain-Python twins)."""
    return _layer_by_layer(q, x, lambda call: (REF[call.c_name], _options(q, call)))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("chunk_macs", [1, 1 << 24, 1 << 40])
def test_chunking_and_threads_change_nothing(kws, monkeypatch, threads, chunk_macs):
    q, x, want = kws
    monkeypatch.setattr(sim, "CHUNK_MACS", chunk_macs)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = simulate(q, x[:16], batch_size=7)
            full = simulate(q, x, trace=True, batch_size=32)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(full[q.outputs[0]][:16], want)
    assert all(len(v) == len(x) for v in full.values())


def test_edited_graph_is_lowered_again(kws):
    q, x, _ = kws
    q = q.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = simulate(q, x)
        node = next(n for n in q.nodes if n.op == "fc")
        node.params["weight"] *= -1.0                  # in place: same array object
        after = simulate(q, x)
        fresh = simulate(q.copy(), x)
    np.testing.assert_array_equal(after, fresh)
    assert not np.array_equal(after, before)


def test_edited_graph_is_validated_again(kws):
    q, x, _ = kws
    q = q.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulate(q, x[:2])
    next(n for n in q.nodes if n.op == "conv").out_shift = -3
    with pytest.raises(QsimError):
        simulate(q, x[:2])


def test_plan_cache_is_bounded(kws):
    q, x, _ = kws
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(sim._PLANS_MAX + 3):
            simulate(q.copy(), x[:1])
    assert len(sim._PLANS) <= sim._PLANS_MAX


@pytest.mark.parametrize("fn", ["arm_fully_connected_q7_opt", "arm_convolve_HWC_q7_basic"])
def test_remembered_weights_follow_in_place_edits(fn):
    """The kernels remember prepared weights by address and content (`_simd.memo`): an array
    edited in place between calls must give the new result, as kernels_ref does."""
    from qsim.kernels import KERNELS, INTERLEAVE
    rng = np.random.default_rng(5)
    if fn == "arm_fully_connected_q7_opt":
        rows, dim = 64, 128
        mat = rng.integers(-128, 128, (rows, dim), dtype=np.int8)
        w = np.asarray(INTERLEAVE[fn](mat)).copy()
        args = dict(pV=rng.integers(-128, 128, (4, dim), dtype=np.int8), pM=w, dim_vec=dim,
                    num_of_rows=rows, bias_shift=0, out_shift=7,
                    bias=rng.integers(-128, 128, rows, dtype=np.int8))
    else:
        w = rng.integers(-128, 128, 32 * 5 * 5 * 8, dtype=np.int8)
        args = dict(Im_in=rng.integers(-128, 128, (3, 10 * 10 * 8), dtype=np.int8), dim_im_in=10,
                    ch_im_in=8, wt=w, ch_im_out=32, dim_kernel=5, padding=2, stride=1,
                    bias=rng.integers(-128, 128, 32, dtype=np.int8), bias_shift=0, out_shift=9,
                    dim_im_out=10)
    for _ in range(3):
        got = KERNELS[fn](**args, path="ref", release="5.9.0")
        np.testing.assert_array_equal(got, np.asarray(REF[fn](**args, path="ref", release="5.9.0"))
                                      .reshape(got.shape))
        w[:] = np.roll(w, 1)                             # in place: same address, new values


def _wrappers(q, x):
    """Layer by layer through the public numba wrappers (qsim.kernels.KERNELS / COMPANION_KERNELS,
    which bind and check every call)."""
    from qsim.kernels import COMPANION_KERNELS, KERNELS
    return _layer_by_layer(q, x, lambda call: (
        (COMPANION_KERNELS if call.companion else KERNELS)[call.c_name], _options(q, call)))


@pytest.mark.parametrize("spec", ["KWS_SPEC", "DS_CNN_SPEC", "CIFAR10_SPEC"])
@pytest.mark.parametrize("scheme", ["q7", "q15"])
def test_prepared_layers_equal_the_wrappers(spec, scheme, monkeypatch):
    """simulate runs conv / fc / softmax layers through run functions prepared once per graph
    from a batch-1 binding (qsim.kernels.PREPARE); on other batch sizes, chunkings and thread
    counts they must give the bytes of the public wrappers called layer by layer."""
    from qsim.importers import spec as specs
    g = Sequential.from_dict(getattr(specs, spec)).build(seed=1)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, (37,) + g.tensors[g.inputs[0]].shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            q = quantize(g, calibrate(g, x), scheme=scheme)
        except QsimError as e:                      # e.g. a layer legacy CMSIS-NN lacks in q15
            pytest.skip(str(e))
        want = _wrappers(q, x)
        plan = sim._plan(q)
        used = [n.name for n, c in plan.calls if plan.run.get(n.name) is not None]
        assert used and all(n.name in used for n, c in plan.calls if n.op in ("conv", "fc"))
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            try:
                for batch_size, chunk_macs in ((1024, sim.CHUNK_MACS), (5, 1), (16, 1 << 22)):
                    monkeypatch.setattr(sim, "CHUNK_MACS", chunk_macs)
                    got = simulate(q, x, batch_size=batch_size)
                    np.testing.assert_array_equal(got, want, err_msg=f"{threads} {batch_size}")
            finally:
                numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        one = simulate(q, x[3:4])
    np.testing.assert_array_equal(one, want[3:4])


def test_prepared_path_falls_back_on_another_dtype(kws, monkeypatch):
    """A layer whose input arrives in another dtype than its kernel's C type goes through the
    checking wrapper (which converts or refuses), never through the prepared run."""
    q, x, want = kws
    plan = sim._plan(q)
    name = next(n.name for n, c in plan.calls if n.op == "conv")
    run, dtype = plan.run[name]
    calls = []
    monkeypatch.setitem(plan.run, name, (lambda v: calls.append(1) or run(v), np.dtype(np.int16)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = simulate(q, x[:16])
    np.testing.assert_array_equal(got, want)
    assert not calls
    monkeypatch.setitem(plan.run, name, (lambda v: calls.append(1) or run(v), dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(simulate(q, x[:16]), want)
    assert calls


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_saturation_count_is_exact(dtype):
    """_saturated counts the values at the format's limits (the low one only when count_lo),
    over the kept channels only, in the data's own dtype."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(7)
    y = rng.integers(info.min, info.max + 1, (5, 4, 3, 6), dtype=dtype)
    y.reshape(-1)[::7] = info.max
    y.reshape(-1)[3::11] = info.min
    for count_lo in (True, False):
        for ch in (None, 4):
            kept = y if ch is None else y[..., :ch]
            want = int(np.sum(kept == info.max)) + count_lo * int(np.sum(kept == info.min))
            assert sim._saturated((info.min, info.max, count_lo, ch), y) == (want, kept.size)


def test_concurrent_calls_share_no_pool(kws, monkeypatch):
    """Calls from several threads at once (each lends or makes its own worker pool) give the
    same bytes as one call, and the pools kept afterwards are bounded (one per thread count)."""
    from concurrent.futures import ThreadPoolExecutor
    q, x, want = kws
    monkeypatch.setattr(sim, "CHUNK_MACS", 1 << 24)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with ThreadPoolExecutor(4) as callers:
                results = list(callers.map(lambda _: simulate(q, x[:16], batch_size=8), range(8)))
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for got in results:
        np.testing.assert_array_equal(got, want)
    assert len(sim._POOLS) <= numba.config.NUMBA_NUM_THREADS


def test_a_failing_chunk_stops_every_worker(kws, monkeypatch):
    """An error in one chunk (here: the third) reaches the caller once every worker has stopped
    pulling chunks, the calling thread's numba thread count is restored, and the next call gives
    the right bytes (the pool kept is usable)."""
    q, x, want = kws
    monkeypatch.setattr(sim, "CHUNK_MACS", 1 << 24)
    real, calls = sim._run_chunk, []

    def flaky(qgraph, plan, xs, *args):
        calls.append(len(xs))
        if len(calls) == 3:
            raise RuntimeError("chunk 3 failed")
        return real(qgraph, plan, xs, *args)

    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            monkeypatch.setattr(sim, "_run_chunk", flaky)
            with pytest.raises(RuntimeError, match="chunk 3 failed"):
                simulate(q, x, batch_size=4)
            assert numba.get_num_threads() == threads
            n_failed = len(calls)
            assert n_failed < len(x) // 2             # the other chunks were not all run
            monkeypatch.setattr(sim, "_run_chunk", real)
            np.testing.assert_array_equal(simulate(q, x[:16], batch_size=4), want)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
