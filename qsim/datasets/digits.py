"""scikit-learn's bundled handwritten digits as a small CIFAR-shaped image set (no download).

    from qsim.datasets.digits import load_digits
    d = load_digits()                      # 32x32x3 HWC float32 in [-1, 127/128], labels 0..9
    d.x_train.shape, d.y_train.shape       # (1078, 32, 32, 3), (1078,)

Why this set: `sklearn.datasets.load_digits` ships its 1797 images (8x8, 16 grey levels, UCI
optdigits test set) inside the scikit-learn wheel, so tests and CI need no network; the PyPI
image-set packages (emnist, medmnist, ...) download their data at run time.

Preparation, fully deterministic (no randomness but the split's seeded permutation):
    pixels 0..16 -> / 16 -> bilinear zoom 8x8 -> 32x32 (scipy.ndimage.zoom, order=1,
    grid_mode=True: every source pixel covers a 4x4 block, edges replicated) -> clipped to [0, 1]
    -> 8-bit pixel p = v*255 -> (p - 128) / 128, the usual "pixel - 128" input of a q7 image
    net: values in [-1, 127/128], inside Q0.7's range (so no input saturates)
    -> the grey image copied into 3 channels (RGB input for arm_convolve_HWC_q7_RGB).
Split: a stratified split with `seed` (default 0): per class, 60% train, 15% val, 25% test
(1078 / 269 / 450 images), each part ordered by index.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import QsimError

SIZE = 32
FRACTIONS = (0.60, 0.15)          # train, val; the rest is test


@dataclass(frozen=True)
class Digits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def split(self, name):
        """(x, y) of "train", "val" or "test"."""
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


def _sklearn_digits():
    try:
        from sklearn.datasets import load_digits as sk_load
    except ImportError:
        raise QsimError("the digits data set comes with scikit-learn, which is not installed. "
                        "help: pip install scikit-learn (or pip install qsim[examples])") from None
    d = sk_load()
    return d.images.astype(np.float32), d.target.astype(np.int64)


def resize(images, size=SIZE):
    """(N, 8, 8) values in [0, 1] -> (N, size, size) by bilinear zoom (grid mode), clipped."""
    from scipy.ndimage import zoom

    f = size / images.shape[1]
    out = zoom(images, (1, f, f), order=1, mode="nearest", grid_mode=True)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def to_images(raw, size=SIZE, channels=3):
    """sklearn's 0..16 digits (N, 8, 8) -> (N, size, size, channels) float32 in [-1, 127/128]."""
    grey = (resize(np.asarray(raw, np.float32) / 16.0, size) * 255.0 - 128.0) / 128.0
    return np.repeat(grey[..., None], channels, axis=-1).astype(np.float32)


def split_indices(y, seed=0, fractions=FRACTIONS):
    """Stratified (train, val, test) index arrays, each sorted."""
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        a = int(round(fractions[0] * len(idx)))
        b = a + int(round(fractions[1] * len(idx)))
        for part, chunk in zip(parts, (idx[:a], idx[a:b], idx[b:])):
            part.append(chunk)
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def load_digits(size=SIZE, channels=3, seed=0) -> Digits:
    """The digits as (N, size, size, channels) float32 HWC images in [-1, 127/128], int64 labels.

    Parameters
    ----------
    size : output height and width (bilinear zoom from 8x8)
    channels : copies of the grey image (3 for RGB-shaped nets, 1 for grey)
    seed : seed of the stratified train / val / test split

    Returns
    -------
    Digits with x_train, y_train, x_val, y_val, x_test, y_test.
    """
    raw, y = _sklearn_digits()
    x = to_images(raw, size, channels)
    tr, va, te = split_indices(y, seed)
    return Digits(x[tr], y[tr], x[va], y[va], x[te], y[te])
