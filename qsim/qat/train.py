"""Quantization-aware fine-tuning driven by the bit-exact fixed-point forward pass.

    qat_graph, history = finetune(float_graph, qgraph, X, y, X_val, y_val, epochs=10)

Forward: qsim.qat.QatNet computes, layer by layer, exactly what qsim.simulate computes (tested bit
for bit on every tensor). Backward: straight-through estimators (rounding passes the gradient,
saturation passes it only inside the representable range) through the float layers of qsim.train
evaluated at the dequantized points; Adam updates float shadow weights (batch-norm is already
folded into them by the import passes).

Loss. A final softmax is trained with the natural-exp softmax cross-entropy of the dequantized
logits against the labels, as in float training. The device's arm_softmax_q7/q15 is base 2 (one
logit LSB is a factor 2, semantics doc §4): a sharpened, saturating softmax that is only used for
its argmax. Its gradient would vanish wherever it saturates, so it is not trained through; the
validation accuracy does use its exact output (argmax, first index on ties, as qsim.predict).

Formats. By default every format and shift stays as the quantizer chose it (from the original
calibration), and only the integer weights and biases change. With reselect_formats=True, after
each epoch the float shadow weights are recalibrated (float forward over a fixed, seeded subset of
at most RESELECT_SAMPLES training items) and requantized with the original scheme, strategy, path,
version, truncate flag and format overrides (qgraph.meta["quantize"]); formats, shifts and
kernels may then change.

Result: a copy of qgraph (same IR, readable by codegen and parity unchanged) whose params are the
grid values w_int * 2**-frac_bits of the best epoch's shadow weights, so quantizing them again
gives exactly the integers that were validated.
"""
import logging

import numpy as np
from tqdm import tqdm

from ..calibrate import calibrate
from ..errors import QuantizationError, ShapeError
from ..graph import QUANT_FIELDS
from ..ops import OPS
from ..quantize import quantize
from ..train.layers import SoftmaxCrossEntropy
from ..train.optim import Adam, check_schedule, record_validation, scheduled_lr
from ..train.workers import single_blas
from .net import QatNet

log = logging.getLogger(__name__)

RESELECT_SAMPLES = 2048


def _check_data(graph, X, y, classes, what):
    shape = graph.tensors[graph.inputs[0]].shape
    X = np.asarray(X, np.float32)
    if X.ndim != len(shape) + 1 or X.shape[1:] != shape:
        raise ShapeError(f"{what}: X has shape {X.shape}, the graph input needs (N,) + {shape} "
                         "(HWC)")
    y = np.asarray(y)
    if y.shape != (len(X),) or y.dtype.kind not in "iu":
        raise ShapeError(f"{what}: y has shape {y.shape} and dtype {y.dtype}, expected ({len(X)},) "
                         "integer class labels")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ShapeError(f"{what}: labels must be in 0..{classes - 1}, got {y.min()}..{y.max()}")
    return X, y.astype(np.int64)


def _start_weights(float_graph, qgraph):
    """Shadow weights: the float model's when its layers match qgraph's one for one (names, ops,
    param shapes), else qgraph's own params (e.g. after quantize's H/W swap, which reorders
    them)."""
    fnodes = {n.name: n for n in float_graph.nodes}
    same = all(n.name in fnodes and fnodes[n.name].op == n.op and
               {k: np.shape(v) for k, v in fnodes[n.name].params.items()} ==
               {k: np.shape(v) for k, v in n.params.items()} for n in qgraph.nodes if n.params)
    if not same:
        log.info("float model and quantized model differ in structure (e.g. H/W swap); QAT starts "
                 "from the quantized model's float params")
    src = fnodes if same else {n.name: n for n in qgraph.nodes}
    return {n.name: {k: np.array(v, np.float32) for k, v in src[n.name].params.items()}
            for n in qgraph.nodes if n.params}


def _quant_state(g):
    return ({t: i.qformat for t, i in g.tensors.items()},
            {n.name: {f: getattr(n, f) for f in QUANT_FIELDS} for n in g.nodes}, g.quant)


def _set_quant_state(g, state):
    formats, fields, quant = state
    for t, q in formats.items():
        g.tensors[t].qformat = q
    for n in g.nodes:
        for f, v in fields[n.name].items():
            setattr(n, f, v)
    g.quant = quant


def _reselect(graph, X, rng_seed):
    """Recalibrate the shadow weights on a seeded training subset and requantize (same settings)."""
    settings = graph.meta.get("quantize", {})
    strategy = settings.get("strategy", "minmax")
    percentile = settings.get("percentile", 99.99)
    stats = ["minmax", "log2hist"] + ([f"percentile:{percentile:g}"] if strategy == "percentile"
                                      else [])
    idx = np.random.default_rng(rng_seed).permutation(len(X))[:RESELECT_SAMPLES]
    fg = graph.copy()
    fg.quant = type(graph.quant)()
    cal = calibrate(fg, X[np.sort(idx)], stats=stats)
    q = graph.quant
    return quantize(fg, cal, scheme=q.scheme, strategy=strategy, path=q.path, version=q.version,
                    truncate=q.truncate, percentile=percentile,
                    fc_opt=settings.get("fc_opt", True),
                    pad_channels=settings.get("pad_channels", True),
                    frac_bits_override=settings.get("frac_bits_override"),
                    layer_bits=settings.get("layer_bits"),
                    weight_frac_override=settings.get("weight_frac_override"))


def _evaluate(qnet, Xq, y, batch_size, offset=None):
    """(loss, accuracy) of the bit-exact net; with a logit offset, both of logits - offset."""
    logits, out = qnet.outputs(Xq, max(batch_size, 1024))
    logits = logits.reshape(len(Xq), -1)
    if offset is not None:
        logits = logits - offset
        pred = np.argmax(logits, axis=1)
    else:
        pred = np.argmax(out.reshape(len(out), -1), axis=1)
    loss = SoftmaxCrossEntropy().forward(logits, y)
    return loss, float((pred == y).mean())


def run_epoch(qnet, opt, Xq, y, order, batch_size, offset=None):
    """One pass over the grid-valued inputs Xq in the given order; returns (mean loss, accuracy)
    of the training batches (accuracy from the dequantized logits, less `offset` if given)."""
    loss_fn, loss_sum, hits = SoftmaxCrossEntropy(), 0.0, 0
    with single_blas():         # parallel over the batch instead (qsim.train.workers)
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            logits = qnet.forward(Xq[idx]).reshape(len(idx), -1)
            if offset is not None:
                logits = logits - offset
            loss_sum += loss_fn.forward(logits, y[idx]) * len(idx)
            hits += int((logits.argmax(1) == y[idx]).sum())
            opt.step(qnet.backward(loss_fn.backward()))
    return loss_sum / len(order), hits / len(order)


def finetune(float_graph, qgraph, X, y, X_val=None, y_val=None, epochs=10, batch_size=64, lr=1e-3,
             seed=0, patience=3, reselect_formats=False, verbose=False, lr_schedule=None,
             logit_offset=None):
    """Quantization-aware fine-tuning of a quantized graph (see the module docstring).

    Parameters
    ----------
    float_graph : the float Graph (HWC) that qgraph was quantized from; its weights are the
        starting shadow weights when its layers match qgraph's. Not modified.
    qgraph : Graph from qsim.quantize (formats, shifts, kernels, CMSIS build). Not modified.
    X, y : (N,) + input shape floats, (N,) integer labels (training data).
    X_val, y_val : validation set. With it, each epoch is scored by the accuracy of the bit-exact
        quantized net (ties broken by lower cross-entropy), training stops after ``patience``
        epochs without improvement (None: never), and the best state is returned; the starting
        (post-training-quantized) state competes too, so the result never validates worse.
        Without it, the last epoch's state is returned.
    epochs, batch_size, lr : Adam on the shadow weights; an epoch's last batch may be short.
    lr_schedule : None (constant ``lr``) or "cosine" (epoch e uses lr * 0.5 * (1 + cos(pi e /
        epochs)), as qsim.train.train): the late epochs settle, so the best validation epoch is
        less often a noisy high-learning-rate state.
    seed : seeds the per-epoch shuffle (and the recalibration subset); same seed, same data, same
        machine -> the same integers, whatever the thread count (qsim.train.workers.BLOCKS).
    reselect_formats : re-choose formats and shifts from a recalibration after every epoch.
    verbose : tqdm progress bar over epochs.
    logit_offset : (classes,) floats added to the net's logits after training on purpose (a
        prior shift such as qsim.kws.flow.shift_unknown_prior's, chosen on other data than X):
        the loss and the accuracies are taken on logits - logit_offset, so fine-tuning on X does
        not learn the offset away; the returned net keeps it. Default: qgraph.meta's
        "logit_offset" (what shift_unknown_prior records), else none; zeros turn it off.

    Returns
    -------
    (Graph, history): the fine-tuned quantized copy, and a dict of per-epoch lists "loss", "acc"
    (training, bit-exact logits), "val_loss", "val_acc", "reselected" (epochs whose formats
    changed), plus "initial_val_loss", "initial_val_acc" (before training) and "best_epoch"
    (-1: the starting state).
    """
    from ..validate import check_count, check_positive, check_seed, validate_graph, validate_quantized
    validate_quantized(qgraph, "finetune: qgraph")
    validate_graph(float_graph, "finetune: float_graph")
    check_count("finetune: epochs", epochs)
    check_count("finetune: batch_size", batch_size)
    check_positive("finetune: lr", lr)
    check_seed("finetune: seed", seed)
    if patience is not None:
        check_count("finetune: patience", patience, 0)
    qnet_graph = qgraph.copy()
    qnet_graph.require_hwc("finetune")
    for name, params in _start_weights(float_graph, qnet_graph).items():
        qnet_graph.node(name).params = params
    qnet = QatNet(qnet_graph)
    classes = qnet_graph.tensors[qnet.net.logits].size
    X, y = _check_data(qnet_graph, X, y, classes, "finetune")
    has_val = X_val is not None
    if has_val:
        X_val, y_val = _check_data(qnet_graph, X_val, y_val, classes, "finetune (validation)")
    check_schedule(lr_schedule, "finetune")
    offset = (_check_offset(logit_offset, classes) if logit_offset is not None else
              _check_offset(qgraph.meta.get("logit_offset"), classes, "qgraph.meta's logit_offset"))
    opt = Adam(qnet.params, lr=lr)
    rng = np.random.default_rng(seed)
    Xq = qnet.quantize_input(X)
    Xq_val = qnet.quantize_input(X_val) if has_val else None
    history = {"loss": [], "acc": [], "val_loss": [], "val_acc": [], "reselected": [],
               "best_epoch": None, "initial_val_loss": None, "initial_val_acc": None}
    best = best_key = None
    if has_val:
        history["initial_val_loss"], history["initial_val_acc"] = _evaluate(qnet, Xq_val, y_val,
                                                                          batch_size, offset)
        best_key = (history["initial_val_acc"], -history["initial_val_loss"])
        best = ({k: p.copy() for k, p in qnet.params.items()}, _quant_state(qnet_graph), -1)
    waited = 0
    bar = tqdm(range(epochs), desc=f"qat {qgraph.name}", disable=not verbose, unit="epoch")
    for epoch in bar:
        opt.lr = scheduled_lr(lr, lr_schedule, epoch, epochs)
        loss, acc = run_epoch(qnet, opt, Xq, y, rng.permutation(len(X)), batch_size, offset)
        history["loss"].append(loss)
        history["acc"].append(acc)
        if reselect_formats:
            try:
                new = _reselect(qnet_graph, X, seed + 1 + epoch)
            except QuantizationError as e:
                log.warning("epoch %d: formats kept, requantization failed: %s", epoch, e)
                new = qnet_graph
            if _quant_state(new)[:2] != _quant_state(qnet_graph)[:2]:
                _set_quant_state(qnet_graph, _quant_state(new))
                qnet.rebind()
                Xq = qnet.quantize_input(X)
                Xq_val = qnet.quantize_input(X_val) if has_val else None
                history["reselected"].append(epoch)
                log.info("epoch %d: formats re-chosen", epoch)
        stats = {"loss": history["loss"][-1], "acc": history["acc"][-1]}
        if has_val:
            key = record_validation(history, stats,
                                    *_evaluate(qnet, Xq_val, y_val, batch_size, offset))
            if key > best_key:
                best_key, waited = key, 0
                best = ({k: p.copy() for k, p in qnet.params.items()}, _quant_state(qnet_graph),
                        epoch)
            else:
                waited += 1
        bar.set_postfix({k: round(v, 4) for k, v in stats.items()})
        log.info("qat epoch %d: %s", epoch, ", ".join(f"{k} {v:.4f}" for k, v in stats.items()))
        if has_val and patience is not None and waited >= patience:
            log.info("early stop after epoch %d; best epoch %d", epoch, best[2])
            break
    if best is not None:
        params, state, history["best_epoch"] = best
        for k, p in qnet.params.items():
            p[...] = params[k]
        _set_quant_state(qnet_graph, state)
    else:
        history["best_epoch"] = len(history["loss"]) - 1 if epochs else -1
    settings = dict(seed=seed, lr=lr, batch_size=batch_size, lr_schedule=lr_schedule,
                    reselect_formats=bool(reselect_formats),
                    **({} if offset is None else {"logit_offset": offset.tolist()}))
    return _result(qgraph, qnet_graph, history, settings), history


def _check_offset(offset, classes, what="logit_offset"):
    """`offset` as a (classes,) float64 array, or None; ShapeError for anything else."""
    if offset is None:
        return None
    try:
        a = np.asarray(offset, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ShapeError(f"finetune: {what} must be {classes} numbers, got "
                         f"{str(offset)[:60]!r}") from None
    if a.shape != (classes,) or not np.all(np.isfinite(a)):
        raise ShapeError(f"finetune: {what} must be {classes} finite numbers (one per "
                         f"class), got {str(offset)[:60]!r}")
    return a


def _result(qgraph, trained, history, settings):
    """A copy of qgraph with the trained graph's formats and the weights on their grids."""
    out = qgraph.copy()
    _set_quant_state(out, _quant_state(trained))
    for node in out.nodes:
        if OPS[node.op].weighted:
            t = trained.node(node.name)
            node.params = {k: (q.quantize(t.params[k]) * q.step).astype(np.float32)
                           for k, q in (("weight", t.weight_q), ("bias", t.bias_q))}
    out.meta = dict(out.meta, qat={
        **settings, "epochs_run": len(history["loss"]), "best_epoch": history["best_epoch"],
        "initial_val_acc": history["initial_val_acc"],
        "val_acc": (history["val_acc"][history["best_epoch"]] if history["val_acc"]
                    and history["best_epoch"] >= 0 else history["initial_val_acc"])})
    return out
