"""The KWS net and its training recipe: the seed's conv/fc net on MFCC features, input
normalization folded into the first conv, train-time augmentation.

The float net trains on the features the device computes, dequantized (m / 128,
qsim.kws.features.mfcc_float). Normalization: one scalar mean and standard deviation over the
training features, folded into the first conv (`fold_input_norm`: w' = w / std, b' = b - mean/std
* sum(w) per output channel), so the device needs none. Per-coefficient normalization is not used:
the first conv slides over the coefficient axis (kernel 10x4 over 49x10), so a per-column scale
or offset cannot be folded into its shared weights. The fold is exact only without padding; a
first conv with padding (the DS-CNN's SAME padding) gets the scale only (x / std: zeros stay
zeros), no mean.

Architectures (`train_kws(..., arch=)`, `qsim train kws --arch`): "seed" (`kws_spec`) or
"ds_cnn" (`ds_cnn_graph`: Hello Edge's DS-CNN-S, qsim.zoo.ds_cnn_s with its BatchNorms folded).
"""
import numpy as np

from ..errors import ShapeError
from ..importers.spec import Sequential
from ..train import train
from .features import INPUT_SHAPE


def kws_spec(classes=5, conv=(28, 30), fc=(58, 128), input_shape=INPUT_SHAPE, name="kws"):
    """The seed's net with configurable widths: conv 10x4 -> relu -> conv 10x4 stride (2,1) ->
    relu -> fc... -> relu -> fc classes -> softmax."""
    layers = [{"op": "conv", "ch_out": int(conv[0]), "kernel": [10, 4], "stride": [1, 1], "pad": [0, 0]},
              {"op": "relu"},
              {"op": "conv", "ch_out": int(conv[1]), "kernel": [10, 4], "stride": [2, 1], "pad": [0, 0]},
              {"op": "relu"}]
    for rows in fc:
        layers += [{"op": "fc", "rows": int(rows)}, {"op": "relu"}]
    layers += [{"op": "fc", "rows": int(classes)}, {"op": "softmax"}]
    return {"name": name, "input_shape": list(input_shape), "layers": layers}


ARCHS = ("seed", "ds_cnn")


def ds_cnn_graph(classes=5, input_shape=INPUT_SHAPE, seed=0, channels=64, blocks=4):
    """Hello Edge's DS-CNN-S as an HWC graph: conv 10x4 stride 2x2, `channels`, SAME padding ->
    `blocks` x [depthwise 3x3 + ReLU, pointwise 1x1 + ReLU] -> global average pool -> fc ->
    softmax (qsim.zoo.ds_cnn_s, BatchNorms folded into the convs; random initial weights)."""
    from ..importers.onnx_import import load_onnx
    from ..zoo import ds_cnn_s
    h, w, c = input_shape
    g = load_onnx(ds_cnn_s(int(classes), seed, int(channels), int(blocks), in_shape=(c, h, w)))
    g.name = "ds_cnn"
    return g


def fold_input_norm(graph, mean, std):
    """Copy of `graph` taking raw features: the first conv absorbs x -> (x - mean) / std (a
    padded first conv: mean must be 0)."""
    g = graph.copy()
    first = g.nodes[0]
    padded = any(first.attrs.get("pads", (0, 0))) or any(first.attrs.get("pads_end", (0, 0)))
    if first.op != "conv" or (padded and mean != 0):
        raise ShapeError(f"fold_input_norm: the first layer '{first.name}' must be an unpadded conv "
                         "(padding would see normalized zeros, which no fold can reproduce)")
    w = np.asarray(first.params["weight"], np.float64)
    b = np.asarray(first.params["bias"], np.float64)
    first.params["weight"] = (w / std).astype(np.float32)
    first.params["bias"] = (b - mean / std * w.reshape(len(w), -1).sum(1)).astype(np.float32)
    g.meta = dict(g.meta, input_norm={"mean": float(mean), "std": float(std), "folded_into": first.name})
    return g


def augment_mfcc(x, rng, shift=0, time_mask=0, freq_mask=0, noise=0.0):
    """Random train-time variants of a batch of (normalized) MFCC features (B, frames, coeffs, 1).

    Per clip: shift the frames by up to ``shift`` frames either way (the edge frame fills the gap),
    zero one run of up to ``time_mask`` frames and one of up to ``freq_mask`` coefficients
    (SpecAugment; zero is the training mean after normalization), add Gaussian noise of standard
    deviation ``noise``. All zero: ``x`` unchanged. The device pipeline never sees this.
    """
    x = np.array(x, np.float32)
    b, t, f = x.shape[:3]
    if shift:
        s = rng.integers(-shift, shift + 1, b)
        src = np.clip(np.arange(t)[None, :] - s[:, None], 0, t - 1)
        x = x[np.arange(b)[:, None], src]
    for width, axis, n in ((time_mask, 1, t), (freq_mask, 2, f)):
        if width:
            w = rng.integers(0, width + 1, b)
            start = (rng.random(b) * (n - w + 1)).astype(np.int64)
            pos = np.arange(n)[None, :]
            hit = (pos >= start[:, None]) & (pos < (start + w)[:, None])
            x *= ~(hit[:, :, None, None] if axis == 1 else hit[:, None, :, None])
    if noise:
        x += rng.normal(0.0, noise, x.shape).astype(np.float32)
    return x


def train_kws(X, y, X_val=None, y_val=None, *, conv=(28, 30), fc=(58, 128), classes=5, epochs=30,
              batch_size=64, lr=2e-3, weight_decay=1e-4, patience=8, seed=0, verbose=False,
              lr_schedule=None, label_smoothing=0.0, shift=0, time_mask=0, freq_mask=0, noise=0.0,
              keep="best", arch="seed", mixup=0.0):
    """Train the KWS net on float features (N, 49, 10, 1) (m / 128); returns (graph, history).

    The returned graph takes raw features: the scalar normalization is folded into conv1.
    ``shift``, ``time_mask``, ``freq_mask``, ``noise``: train-time augmentation (`augment_mfcc`)
    of the normalized features; ``lr_schedule`` (None or "cosine"), ``label_smoothing``, ``keep``
    ("best" or "last" epoch), ``mixup`` (alpha, 0 = off): see qsim.train.train. ``arch``: "seed" (``conv``, ``fc`` widths) or
    "ds_cnn" (`ds_cnn_graph`; normalized by the scale only, its first conv is padded).
    """
    X = np.asarray(X, np.float32)
    if arch not in ARCHS:
        raise ShapeError(f"train_kws: arch {arch!r} is not one of {ARCHS}")
    spec = None
    if arch == "ds_cnn":
        g0 = ds_cnn_graph(classes, X.shape[1:], seed)
        mean, std = 0.0, float(np.sqrt(np.mean(np.square(X)))) or 1.0
    else:
        spec = kws_spec(classes, conv, fc, X.shape[1:])
        g0 = Sequential.from_dict(spec).build(seed=seed)
        mean, std = float(X.mean()), float(X.std()) or 1.0

    def norm(a):
        return None if a is None else ((np.asarray(a, np.float32) - mean) / std).astype(np.float32)
    aug = (lambda xb, rng: augment_mfcc(xb, rng, shift, time_mask, freq_mask, noise)) \
        if shift or time_mask or freq_mask or noise else None
    g, hist = train(g0, norm(X), y, norm(X_val), y_val, epochs=epochs, batch_size=batch_size,
                    lr=lr, seed=seed, patience=patience, weight_decay=weight_decay, verbose=verbose,
                    augment=aug, lr_schedule=lr_schedule,
                    label_smoothing=label_smoothing, keep=keep, mixup=mixup)
    g = fold_input_norm(g, mean, std)
    if spec is not None:
        g.meta["spec"] = spec
    g.meta["arch"] = arch
    return g, hist
