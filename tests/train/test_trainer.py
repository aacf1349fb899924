"""train(): a tiny separable problem is learned in a few epochs, deterministically for a seed."""
import numpy as np
import pytest

from qsim import float_exec
from qsim.errors import ShapeError
from qsim.importers.spec import KWS_SPEC, Sequential
from qsim.train import workers
from qsim.train.trainer import train


def blobs(n, seed):
    """Three classes of 6x5x2 'images': a class-specific pattern plus noise (linearly separable)."""
    rng = np.random.default_rng(seed)
    patterns = np.random.default_rng(123).standard_normal((3, 6, 5, 2))
    y = rng.integers(0, 3, n)
    return (patterns[y] + 0.8 * rng.standard_normal((n, 6, 5, 2))).astype(np.float32), y


def small_net(seed=0):
    return (Sequential((6, 5, 2), name="tiny").conv(4, (3, 3), pad=(1, 1)).relu()
            .maxpool((2, 2), stride=(2, 2), pad=(0, 1)).fc(8).relu().fc(3).softmax()
            ).build(seed=seed)


def accuracy(graph, X, y):
    return float((float_exec.run(graph, X).argmax(-1) == y).mean())


def test_learns_separable_problem():
    X, y = blobs(400, seed=1)
    Xv, yv = blobs(200, seed=2)
    g0 = small_net()
    before = {n.name: {k: v.copy() for k, v in n.params.items()} for n in g0.nodes}
    g, hist = train(g0, X, y, Xv, yv, epochs=5, batch_size=32, lr=1e-2, seed=0, patience=3)
    assert hist["val_acc"][-1] >= 0.95 and hist["acc"][-1] >= 0.95
    assert hist["loss"][-1] < hist["loss"][0]
    # The trained graph runs in float_exec with the same accuracy the trainer measured.
    assert accuracy(g, Xv, yv) == pytest.approx(hist["val_acc"][hist["best_epoch"]])
    for n in g0.nodes:   # the input graph is untouched
        for k, v in n.params.items():
            np.testing.assert_array_equal(v, before[n.name][k])


def test_same_seed_same_weights_other_seed_differs():
    X, y = blobs(200, seed=3)
    runs = [train(small_net(), X, y, epochs=2, batch_size=16, seed=s)[0] for s in (7, 7, 8)]
    for a, b, c in zip(*(r.nodes for r in runs)):
        for k in a.params:
            np.testing.assert_array_equal(a.params[k], b.params[k])
    w = [r.node("fc2").params["weight"] for r in runs]
    assert not np.array_equal(w[0], w[2])


@pytest.mark.parametrize("min_split", [1, 1 << 30])   # the net's parts / only the ops' parts
def test_the_same_weights_for_any_thread_count(monkeypatch, min_split):
    """The batch's parts are fixed (workers.BLOCKS), whatever WORKERS is, and their gradients are
    added in part order: 1, 2 and 3 threads train the same bits."""
    X, y = blobs(96, seed=4)
    monkeypatch.setattr(workers, "MIN_SPLIT", min_split)
    runs = []
    for k in (1, 2, 3):
        monkeypatch.setattr(workers, "WORKERS", k)
        runs.append(train(small_net(), X, y, epochs=2, batch_size=32, seed=1)[0])
    for other in runs[1:]:
        for a, b in zip(runs[0].nodes, other.nodes):
            for key in a.params:
                np.testing.assert_array_equal(a.params[key], b.params[key], err_msg=a.name)


def test_early_stopping_keeps_best_epoch():
    X, y = blobs(120, seed=4)
    Xv, yv = blobs(60, seed=5)
    # A far too large learning rate makes validation accuracy fall after the first epoch.
    g, hist = train(small_net(), X, y, Xv, yv, epochs=30, batch_size=8, lr=0.3, seed=0, patience=2)
    best = hist["best_epoch"]
    assert hist["val_acc"][best] == max(hist["val_acc"])
    assert len(hist["val_acc"]) - 1 - best == 2   # stopped after `patience` epochs without gain
    assert accuracy(g, Xv, yv) == pytest.approx(hist["val_acc"][best])


def test_keep_last_returns_the_last_epoch_even_when_an_earlier_one_validated_better():
    X, y = blobs(120, seed=4)
    Xv, yv = blobs(60, seed=5)
    kw = dict(epochs=6, batch_size=8, lr=0.3, seed=0, patience=None)
    _, best = train(small_net(), X, y, Xv, yv, **kw)
    assert best["best_epoch"] < 5                     # the too-large lr makes later epochs worse
    g, hist = train(small_net(), X, y, Xv, yv, keep="last", **kw)
    assert hist["best_epoch"] == 5 and hist["val_acc"] == best["val_acc"]
    assert accuracy(g, Xv, yv) == pytest.approx(hist["val_acc"][-1])
    with pytest.raises(ValueError, match="keep"):
        train(small_net(), X, y, Xv, yv, keep="first", **kw)


def test_weight_decay_shrinks_weights():
    X, y = blobs(100, seed=6)
    plain, _ = train(small_net(), X, y, epochs=2, seed=0)
    decayed, _ = train(small_net(), X, y, epochs=2, seed=0, weight_decay=0.5)
    norm = lambda g: sum(float((n.params["weight"] ** 2).sum()) for n in g.nodes if n.params)
    assert norm(decayed) < norm(plain)


def test_bad_shapes_are_named():
    X, y = blobs(10, seed=0)
    with pytest.raises(ShapeError, match=r"X has shape \(10, 5, 6, 2\)"):
        train(small_net(), X.transpose(0, 2, 1, 3), y)
    with pytest.raises(ShapeError, match="integer labels"):
        train(small_net(), X, y[:5])
    with pytest.raises(ShapeError, match=r"labels must be in 0\.\.2"):
        train(small_net(), X, y + 1)


def test_kws_net_trains_one_epoch():
    g0 = Sequential.from_dict(KWS_SPEC).build(seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 49, 10, 1)).astype(np.float32), rng.integers(0, 3, 40)
    g, hist = train(g0, X, y, X[:8], y[:8], epochs=1, batch_size=16, seed=0)
    w0, w1 = g0.node("conv2").params["weight"], g.node("conv2").params["weight"]
    assert w1.dtype == np.float32 and w1.shape == w0.shape and not np.array_equal(w0, w1)
    assert len(hist["loss"]) == 1 and np.isfinite(hist["loss"][0])


def test_augment_cosine_and_label_smoothing():
    X, y = blobs(200, seed=7)
    Xv, yv = blobs(100, seed=8)
    seen = []

    def aug(xb, rng):
        seen.append(len(xb))
        return xb + 0.1 * rng.standard_normal(xb.shape)
    kw = dict(epochs=3, batch_size=32, lr=1e-2, seed=0, patience=None, augment=aug,
              lr_schedule="cosine", label_smoothing=0.1)
    g, hist = train(small_net(), X, y, Xv, yv, **kw)
    assert sum(seen) == 3 * len(X) and hist["val_acc"][hist["best_epoch"]] >= 0.9
    assert g.meta["train"]["lr_schedule"] == "cosine" and g.meta["train"]["augment"]
    g2, _ = train(small_net(), X, y, Xv, yv, **kw)          # still deterministic for a seed
    np.testing.assert_array_equal(g.node("fc2").params["weight"], g2.node("fc2").params["weight"])
    with pytest.raises(ValueError, match="lr_schedule"):
        train(small_net(), X, y, epochs=1, lr_schedule="step")


def test_label_smoothing_gradient():
    from qsim.train.layers import SoftmaxCrossEntropy
    rng = np.random.default_rng(0)
    z, y, h = rng.standard_normal((3, 5)), np.array([0, 2, 4]), 1e-6
    loss = SoftmaxCrossEntropy(0.1)
    loss.forward(z, y)
    g = loss.backward()
    for i, j in np.ndindex(z.shape):
        d = np.zeros_like(z)
        d[i, j] = h
        up, down = SoftmaxCrossEntropy(0.1).forward(z + d, y), loss.forward(z - d, y)
        assert (up - down) / (2 * h) == pytest.approx(g[i, j], abs=1e-7)


def test_mixup_loss_gradient_and_training():
    from qsim.train.layers import SoftmaxCrossEntropy
    rng = np.random.default_rng(1)
    z, y, y2, h = rng.standard_normal((3, 5)), np.array([0, 2, 4]), np.array([1, 2, 0]), 1e-6
    for e in (0.0, 0.1):
        loss = SoftmaxCrossEntropy(e)
        value = loss.forward(z, y, (y2, 0.3))
        # the loss is the same mix of the two cross-entropies
        assert value == pytest.approx(0.3 * SoftmaxCrossEntropy(e).forward(z, y)
                                      + 0.7 * SoftmaxCrossEntropy(e).forward(z, y2))
        g = loss.backward()
        for i, j in np.ndindex(z.shape):
            d = np.zeros_like(z)
            d[i, j] = h
            up = SoftmaxCrossEntropy(e).forward(z + d, y, (y2, 0.3))
            down = SoftmaxCrossEntropy(e).forward(z - d, y, (y2, 0.3))
            assert (up - down) / (2 * h) == pytest.approx(g[i, j], abs=1e-7)
    X, y = blobs(200, seed=9)
    Xv, yv = blobs(100, seed=10)
    kw = dict(epochs=4, batch_size=32, lr=1e-2, seed=0, patience=None)
    g, hist = train(small_net(), X, y, Xv, yv, mixup=0.4, **kw)
    assert hist["val_acc"][-1] >= 0.9 and g.meta["train"]["mixup"] == 0.4
    g2, _ = train(small_net(), X, y, Xv, yv, mixup=0.4, **kw)     # deterministic for a seed
    g0, _ = train(small_net(), X, y, Xv, yv, **kw)                 # and it does change training
    w = [r.node("fc2").params["weight"] for r in (g, g2, g0)]
    np.testing.assert_array_equal(w[0], w[1])
    assert not np.array_equal(w[0], w[2])
    with pytest.raises(ValueError, match="mixup"):
        train(small_net(), X, y, epochs=1, mixup=-1)
