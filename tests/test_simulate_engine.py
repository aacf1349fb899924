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


def _reference(q, x):
    """Layer by layer through kernels_ref (the plain-Python twins), no simulate engine."""
    from qsim.lower import data_move, stored_shape
    t = {q.inputs[0]: q.tensors[q.inputs[0]].qformat.quantize(x)}
    opts = dict(path=q.quant.path, release=q.quant.version, truncate=q.quant.truncate)
    for node in q.nodes:
        call = kernel_call(q, node)
        if call is None:
            t[node.output] = data_move(node, t[node.input], stored_shape(q, node.output))
            continue
        y = REF[call.c_name](**{call.in_arg: call.kernel_input(t[node.input])}, **call.args, **opts)
        t[node.output] = np.asarray(y).reshape((len(x),) + stored_shape(q, node.output))
    return t[q.outputs[0]]


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
