"""finetune: recovers what minmax PTQ loses, deterministic, output consumable by simulate."""
import warnings

import numpy as np
import pytest

from qsim import float_exec
from qsim.calibrate import calibrate
from qsim.errors import ShapeError
from qsim.importers.spec import Sequential
from qsim.qat import QatNet, finetune
from qsim.quantize import quantize
from qsim.simulate import predict, simulate
from qsim.train import train

CENTERS = np.random.default_rng(42).normal(0, 1, (4, 6, 6, 2)).astype(np.float32)


def _data(n, rng):
    c = rng.integers(0, 4, n)
    return (rng.normal(0, 1, (n, 6, 6, 2)) + 0.5 * CENTERS[c]).astype(np.float32), c


@pytest.fixture(scope="module")
def problem():
    """A float net whose conv channel 0 is scaled up 48x and fc1's columns for it down 48x: the
    same float function (relu is positively homogeneous), but the per-tensor q7 format of conv1's
    output must cover the big channel, so the other channels keep only a few levels (the per-tensor
    range imbalance that batch-norm folding often creates)."""
    rng = np.random.default_rng(0)
    X, y = _data(2000, rng)
    Xv, yv = _data(500, rng)
    Xt, yt = _data(1000, rng)
    g = Sequential((6, 6, 2), "syn").conv(4, 3).relu().flatten().fc(8).relu().fc(4).softmax() \
        .build(seed=0)
    g, _ = train(g, X, y, Xv, yv, epochs=8, batch_size=64, lr=3e-3, seed=0)
    conv, fc = g.node("conv1"), g.node("fc1")
    conv.params["weight"][0] *= 48
    conv.params["bias"][0] *= 48
    fc.params["weight"][:, 0::4] /= 48
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, calibrate(g, X[:256]), scheme="q7")
    return g, q, (X, y, Xv, yv, Xt, yt)


def _acc(pred, y):
    return float((pred == y).mean())


def _quiet_predict(q, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return predict(q, x)


def test_qat_recovers_most_of_the_ptq_loss(problem):
    g, q, (X, y, Xv, yv, Xt, yt) = problem
    acc_float = _acc(float_exec.run(g, Xt).argmax(1), yt)
    acc_ptq = _acc(_quiet_predict(q, Xt), yt)
    assert acc_float - acc_ptq >= 0.03, (acc_float, acc_ptq)
    qat, hist = finetune(g, q, X, y, Xv, yv, epochs=10, batch_size=64, lr=1e-2, seed=0,
                         patience=4)
    acc_qat = _acc(_quiet_predict(qat, Xt), yt)     # held-out test set, through qsim.simulate
    assert acc_qat - acc_ptq >= 0.8 * (acc_float - acc_ptq), (acc_float, acc_ptq, acc_qat)
    # the validation accuracy QAT reports is the bit-exact simulator's
    assert hist["val_acc"][hist["best_epoch"]] == _acc(_quiet_predict(qat, Xv), yv)
    assert hist["initial_val_acc"] == _acc(_quiet_predict(q, Xv), yv)


def test_output_is_the_same_ir_with_weights_on_their_grids(problem):
    g, q, (X, y, Xv, yv, *_) = problem
    qat, hist = finetune(g, q, X[:512], y[:512], Xv, yv, epochs=1, lr=1e-2, seed=1)
    assert hist["best_epoch"] in (-1, 0) and len(hist["loss"]) == 1
    assert qat.meta["qat"]["seed"] == 1
    for a, b in zip(q.nodes, qat.nodes):
        assert (a.name, a.kernel, a.weight_q, a.bias_q, a.bias_shift, a.out_shift) == \
            (b.name, b.kernel, b.weight_q, b.bias_q, b.bias_shift, b.out_shift)
        for k, p in b.params.items():
            assert p.dtype == np.float32
            fmt = b.weight_q if k == "weight" else b.bias_q
            np.testing.assert_array_equal(fmt.quantize(p) * fmt.step, p)   # exactly on the grid
    assert [t.qformat for t in q.tensors.values()] == [t.qformat for t in qat.tensors.values()]
    assert q.node("conv1").params["weight"] is not qat.node("conv1").params["weight"]


def test_deterministic_for_a_seed(problem):
    g, q, (X, y, Xv, yv, *_) = problem
    runs = [finetune(g, q, X[:600], y[:600], Xv, yv, epochs=2, lr=1e-2, seed=5, patience=None)
            for _ in range(2)]
    assert runs[0][1]["loss"] == runs[1][1]["loss"]
    for a, b in zip(runs[0][0].nodes, runs[1][0].nodes):
        for k in a.params:
            np.testing.assert_array_equal(a.params[k], b.params[k])
    other = finetune(g, q, X[:600], y[:600], Xv, yv, epochs=2, lr=1e-2, seed=6, patience=None)
    assert other[1]["loss"] != runs[0][1]["loss"]


def test_reselect_formats_requantizes_and_stays_exact(problem):
    g, q, (X, y, Xv, yv, *_) = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # requantizing may coarsen a bias format: it warns
        qat, hist = finetune(g, q, X[:600], y[:600], Xv, yv, epochs=2, lr=1e-2, seed=0,
                             reselect_formats=True, patience=None)
    assert qat.quant == q.quant and [n.kernel for n in qat.nodes] == [n.kernel for n in q.nodes]
    # whatever formats were kept, the QatNet of the result predicts as the simulator does
    qnet = QatNet(qat.copy())
    np.testing.assert_array_equal(qnet.predict(qnet.quantize_input(Xv)), _quiet_predict(qat, Xv))
    assert set(hist["reselected"]) <= {0, 1}


def test_without_validation_returns_last_epoch(problem):
    g, q, (X, y, *_) = problem
    _, hist = finetune(g, q, X[:300], y[:300], epochs=2, seed=0)
    assert hist["best_epoch"] == 1 and hist["val_acc"] == [] and hist["initial_val_acc"] is None


def test_bad_labels_are_named(problem):
    g, q, (X, y, *_) = problem
    with pytest.raises(ShapeError, match="labels must be in 0..3"):
        finetune(g, q, X[:10], y[:10] + 4, epochs=1)
    with pytest.raises(ShapeError, match=r"\(N,\) \+ \(6, 6, 2\)"):
        finetune(g, q, X[:10, :5], y[:10], epochs=1)


def test_cosine_schedule_starts_at_lr_and_then_decays(problem):
    g, q, (X, y, *_) = problem
    run = lambda n, sched: finetune(g, q, X[:300], y[:300], epochs=n, lr=1e-2, seed=2,  # noqa: E731
                                    lr_schedule=sched)[0]
    w = lambda r: r.node("fc2").params["weight"]  # noqa: E731
    # epoch 0 of the cosine runs at lr itself: one epoch is the constant run
    np.testing.assert_array_equal(w(run(1, "cosine")), w(run(1, None)))
    cos2 = run(2, "cosine")
    assert cos2.meta["qat"]["lr_schedule"] == "cosine"
    assert not np.array_equal(w(cos2), w(run(2, None)))
    with pytest.raises(ValueError, match="lr_schedule"):
        run(1, "step")


def _offset_net(problem, offset):
    """problem's float net with `offset` added to fc2's bias (a prior shift made after training,
    as qsim.kws.flow.shift_unknown_prior does), quantized."""
    g, _, (X, y, *_) = problem
    g = g.copy()
    g.node("fc2").params["bias"] = (g.node("fc2").params["bias"] + offset).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return g, quantize(g, calibrate(g, X[:256]), scheme="q7")


def test_logit_offset_is_kept_through_fine_tuning(problem):
    _, _, (X, y, Xv, yv, Xt, yt) = problem
    offset = np.array([0.0, 0.0, 2.5, 0.0])
    g, q = _offset_net(problem, offset)
    kw = dict(epochs=4, seed=0, lr=1e-2, patience=None)
    plain, _ = finetune(g, q, X, y, Xv, yv, **kw)
    kept, hist = finetune(g, q, X, y, Xv, yv, logit_offset=offset, **kw)

    def margin(n):              # class 2's mean logit over the others' on the test inputs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z = n.tensors["fc2"].qformat.dequantize(simulate(n, Xt, trace=True)["fc2"])
        return float(np.mean(z[:, 2] - z[:, [0, 1, 3]].mean(1)))
    # without logit_offset, training on y learns the offset away (3.2 -> -0.3 here); with it,
    # the returned net keeps most of it on top of what training changed
    assert margin(plain) < margin(q) - 2.0
    assert margin(kept) > margin(plain) + 1.0
    assert kept.meta["qat"]["logit_offset"] == offset.tolist()
    # validation accuracy was scored on the bit-exact logits less the offset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logits = simulate(kept, Xv, trace=True)["fc2"]
    z = kept.tensors["fc2"].qformat.dequantize(logits) - offset
    best = hist["best_epoch"]
    val = hist["val_acc"][best] if best >= 0 else hist["initial_val_acc"]
    assert val == pytest.approx(_acc(z.argmax(1), yv))


def test_logit_offset_defaults_to_the_one_the_model_records(problem):
    _, _, (X, y, Xv, yv, *_) = problem
    offset = np.array([0.0, 0.0, 2.5, 0.0])
    g, q = _offset_net(problem, offset)
    kw = dict(epochs=2, seed=0, lr=1e-2, patience=None)
    explicit, _ = finetune(g, q, X, y, Xv, yv, logit_offset=offset, **kw)
    q.meta = dict(q.meta, logit_offset=offset.tolist())      # as shift_unknown_prior records it
    implicit, _ = finetune(g, q, X, y, Xv, yv, **kw)
    off, _ = finetune(g, q, X, y, Xv, yv, logit_offset=np.zeros(4), **kw)
    w = [n.node("fc2").params["weight"] for n in (explicit, implicit, off)]
    assert np.array_equal(w[0], w[1]) and not np.array_equal(w[0], w[2])
    assert implicit.meta["qat"]["logit_offset"] == offset.tolist()
    assert implicit.meta["logit_offset"] == offset.tolist()       # the returned net keeps it


@pytest.mark.parametrize("offset", [[1.0, 2.0], [0, 0, np.nan, 0], "up", [[0, 0, 0, 0]] * 2])
def test_bad_logit_offset_is_a_clear_error(problem, offset):
    g, q, (X, y, *_) = problem
    with pytest.raises(ShapeError, match="logit_offset"):
        finetune(g, q, X[:64], y[:64], epochs=1, logit_offset=offset)
    q = q.copy()
    q.meta = dict(q.meta, logit_offset=offset)                   # from a model file: untrusted
    with pytest.raises(ShapeError, match="qgraph.meta's logit_offset"):
        finetune(g, q, X[:64], y[:64], epochs=1)
