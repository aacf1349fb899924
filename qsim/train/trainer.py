"""Seeded minibatch training of a Graph's float parameters (Adam, softmax cross-entropy).

Deterministic for a seed: the only randomness is the per-epoch shuffle, drawn from
``np.random.default_rng(seed)``; BLAS and the numba loops (each batch item writes its own slice)
give the same sums run to run on the same machine, for any thread count (the batch is cut into
qsim.train.workers' fixed parts, whose gradients are added in part order).
"""
import logging

import numpy as np
from tqdm import tqdm

from ..errors import ShapeError
from .layers import LAYERS, SoftmaxCrossEntropy
from .net import Net
from .optim import Adam, check_schedule, record_validation, scheduled_lr
from .workers import single_blas

log = logging.getLogger(__name__)


def evaluate(net, X, y, batch_size=1024):
    """(mean cross-entropy, accuracy) of ``net`` on ``X``, ``y``."""
    logits = net.predict(X, batch_size)
    loss = SoftmaxCrossEntropy().forward(logits.reshape(len(X), -1), y)
    return loss, float((logits.reshape(len(X), -1).argmax(1) == y).mean())


def _check(graph, X, y, what):
    shape = graph.tensors[graph.inputs[0]].shape
    if X.shape[1:] != shape:
        raise ShapeError(f"{what}: X has shape {X.shape}, the graph input needs (N,) + {shape} "
                         "(HWC)")
    if y.shape != (len(X),):
        raise ShapeError(f"{what}: y has shape {y.shape}, expected ({len(X)},) integer labels")


def train(graph, X, y, X_val=None, y_val=None, epochs=20, batch_size=64, lr=1e-3, seed=0,
          patience=5, verbose=False, weight_decay=0.0, layers=LAYERS, augment=None,
          lr_schedule=None, label_smoothing=0.0, keep="best", mixup=0.0):
    """Train a copy of ``graph`` to classify ``X`` as ``y``.

    Parameters
    ----------
    graph : Graph (HWC, float); not modified.
    X, y : (N,) + input shape floats, (N,) integer class labels.
    X_val, y_val : validation set; with it, training stops after ``patience`` epochs without a
        better validation accuracy (ties broken by lower validation loss; patience=None never
        stops early) and the best epoch's weights are returned (see ``keep``). Without it, the
        last epoch's.
    epochs, batch_size, lr, weight_decay : AdamW settings; an epoch's last batch may be short.
    seed : seeds the shuffle; same seed, same data -> same weights.
    verbose : tqdm progress bar over epochs.
    layers : op -> Layer class (QAT substitutes fixed-point forward / STE backward classes).
    augment : optional ``augment(X_batch, rng) -> X_batch`` applied to every training batch (a new
        array; validation data is never augmented). ``rng`` is its own generator seeded from
        ``seed``, so the shuffle does not depend on it and runs stay deterministic.
    lr_schedule : None (constant ``lr``) or "cosine": epoch e uses
        ``lr * 0.5 * (1 + cos(pi * e / epochs))``.
    label_smoothing : training-loss label smoothing (SoftmaxCrossEntropy); validation loss is plain.
    mixup : alpha of mixup (0 = off): every training batch (after ``augment``) becomes
        ``lam * x + (1 - lam) * x[perm]`` with the loss ``lam * CE(y) + (1 - lam) * CE(y[perm])``
        (SoftmaxCrossEntropy ``mix``), ``perm`` a permutation of the batch and ``lam`` ~
        Beta(alpha, alpha), both from their own generator seeded from ``seed``.
    keep : "best" (the best validation epoch's weights) or "last" (the last epoch's; validation is
        still scored and early stopping still applies). "last" suits a schedule that anneals the
        learning rate to zero: the best-scoring epoch of a small validation set is often a noisy
        high-learning-rate state of mid-training.

    Returns
    -------
    (graph, history): a trained copy of ``graph`` (params float32), and a dict of per-epoch lists
    "loss", "acc" (training, averaged over batches), "val_loss", "val_acc", plus "best_epoch" (the
    epoch whose weights are returned).
    """
    X, y = np.asarray(X, np.float32), np.asarray(y, np.int64)
    _check(graph, X, y, "train")
    has_val = X_val is not None
    if has_val:
        X_val, y_val = np.asarray(X_val, np.float32), np.asarray(y_val, np.int64)
        _check(graph, X_val, y_val, "train (validation)")
    graph = graph.copy()
    net = Net(graph, layers=layers, dtype=np.float32)
    classes = graph.tensors[net.logits].size
    for labels in (y, y_val) if has_val else (y,):
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ShapeError(f"train: labels must be in 0..{classes - 1} (the size of "
                             f"'{net.logits}'), got {labels.min()}..{labels.max()}")
    opt = Adam(net.params, lr=lr, weight_decay=weight_decay)
    if keep not in ("best", "last"):
        raise ValueError(f"train: keep must be 'best' or 'last', got {keep!r}")
    check_schedule(lr_schedule, "train")
    loss_fn, rng = SoftmaxCrossEntropy(label_smoothing), np.random.default_rng(seed)
    aug_rng = np.random.default_rng([seed, 1])
    if mixup < 0:
        raise ValueError(f"train: mixup must be >= 0 (0 = off), got {mixup}")
    mix_rng = np.random.default_rng([seed, 2])
    history = {"loss": [], "acc": [], "val_loss": [], "val_acc": [], "best_epoch": None}
    best, best_key, waited = None, None, 0
    bar = tqdm(range(epochs), desc=f"train {graph.name}", disable=not verbose, unit="epoch")
    with single_blas():     # parallel over the batch instead (qsim.train.workers)
        for epoch in bar:
            opt.lr = scheduled_lr(lr, lr_schedule, epoch, epochs)
            order = rng.permutation(len(X))
            losses, hits = [], 0
            for s in range(0, len(X), batch_size):
                idx = order[s:s + batch_size]
                xb = X[idx] if augment is None else np.asarray(augment(X[idx], aug_rng), np.float32)
                mix = None
                if mixup:
                    lam, perm = mix_rng.beta(mixup, mixup), mix_rng.permutation(len(idx))
                    xb = (lam * xb + (1 - lam) * xb[perm]).astype(np.float32)
                    mix = (y[idx][perm], lam)
                logits = net.forward(xb).reshape(len(idx), -1)
                losses.append(loss_fn.forward(logits, y[idx], mix) * len(idx))
                hits += int((logits.argmax(1) == y[idx]).sum())
                opt.step(net.backward(loss_fn.backward()))
            history["loss"].append(float(np.sum(losses) / len(X)))
            history["acc"].append(hits / len(X))
            stats = {"loss": history["loss"][-1], "acc": history["acc"][-1]}
            if has_val:
                key = record_validation(history, stats, *evaluate(net, X_val, y_val, batch_size))
                if best_key is None or key > best_key:
                    best_key, waited, history["best_epoch"] = key, 0, epoch
                    best = {k: p.copy() for k, p in net.params.items()}
                else:
                    waited += 1
            bar.set_postfix({k: round(v, 4) for k, v in stats.items()})
            log.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.4f}" for k, v in stats.items()))
            if has_val and patience is not None and waited >= patience:
                log.info("early stop after epoch %d; best epoch %d", epoch, history["best_epoch"])
                break
    if keep == "last":
        best = None
    if best is not None:
        for k, p in net.params.items():
            p[...] = best[k]
    elif epochs:
        history["best_epoch"] = len(history["loss"]) - 1
    graph.meta["train"] = {"epochs_run": len(history["loss"]), "best_epoch": history["best_epoch"],
                           "seed": seed, "lr": lr, "batch_size": batch_size,
                           "weight_decay": weight_decay, "lr_schedule": lr_schedule,
                           "label_smoothing": label_smoothing, "keep": keep,
                           "augment": augment is not None, "mixup": mixup}
    return graph, history

