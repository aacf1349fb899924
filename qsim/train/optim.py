"""Adam (Kingma & Ba 2015) with optional decoupled weight decay (AdamW, Loshchilov & Hutter 2019).

Deterministic: no randomness, updates in place in the dtype of each parameter. float32 parameters
with float32 gradients (training) take one numba pass per array that computes numpy's exact bits
(tested): the update runs between the steps' parallel parts, on one core (KWS: 0.8 -> 0.2 ms).
"""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _adam_f32(p, g, m, v, b1, a1, b2, a2, use_decay, decay, wide_decay, step, wide_step, c2, eps):
    """Adam.step's numpy expressions on float32 1-D arrays, element by element, in the same
    precisions: the moments in float32 (the scalars as float32, NEP 50's weak Python floats), the
    update's denominator and the subtraction in float64 (c2 is a float64). ``decay`` (lr *
    weight_decay) and ``step`` (lr / c1) are float64 values; ``wide_*`` says whether numpy takes
    them as float64 (a numpy float64 scalar, e.g. the cosine schedule's lr: the product with the
    array is float64) or casts them to float32 first (a Python float)."""
    decay32, step32 = np.float32(decay), np.float32(step)
    for i in range(p.shape[0]):
        gi = g[i]
        mi = m[i] * b1
        mi = mi + a1 * gi
        m[i] = mi
        vi = v[i] * b2
        vi = vi + a2 * (gi * gi)
        v[i] = vi
        pi = p[i]
        if use_decay:
            if wide_decay:
                pi = np.float32(np.float64(pi) - decay * np.float64(pi))
            else:
                pi = pi - decay32 * pi
        if wide_step:
            num = step * np.float64(mi)
        else:
            num = np.float64(step32 * mi)
        p[i] = np.float32(np.float64(pi) - num / (np.float64(np.sqrt(vi)) / c2 + eps))


def _wide(scalar):
    """Whether numpy computes scalar * (a float32 array) in float64 (NEP 50: a Python float is
    weak and taken as float32, a numpy float64 scalar is not)."""
    return np.result_type(scalar, np.float32) == np.float64


class Adam:
    """Adam over a dict of named parameter arrays, updated in place.

    Parameters
    ----------
    params : dict[str, np.ndarray]
        Parameters to train; the same arrays are modified by ``step``.
    lr, betas, eps : float
        The usual Adam settings.
    weight_decay : float
        Decoupled decay: each step also does ``p -= lr * weight_decay * p`` (AdamW). 0 disables it.
    decay_filter : callable(name) -> bool, optional
        Which parameters decay; by default every name not ending in "bias".
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decay_filter=None):
        self.params = params
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.weight_decay = weight_decay
        decays = decay_filter or (lambda name: not name.endswith("bias"))
        self.decays = {k: decays(k) for k in params}
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.t = 0

    def step(self, grads):
        """One update from ``grads`` (keys as in ``params``; a missing key is left as it is)."""
        self.t += 1
        # Bias-corrected moments as in PyTorch: eps is added to sqrt(v_hat), not to sqrt(v).
        c1, c2 = 1 - self.beta1 ** self.t, np.sqrt(1 - self.beta2 ** self.t)
        f32 = np.float32
        for k, g in grads.items():
            p, m, v = self.params[k], self.m[k], self.v[k]
            if (p.dtype == g.dtype == m.dtype == v.dtype == f32 and p.shape == g.shape
                    and p.flags.c_contiguous and g.flags.c_contiguous):
                decay, step = self.lr * self.weight_decay, self.lr / c1
                _adam_f32(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                          f32(self.beta1), f32(1 - self.beta1), f32(self.beta2),
                          f32(1 - self.beta2), bool(self.weight_decay and self.decays[k]),
                          float(decay), _wide(decay), float(step), _wide(step), np.float64(c2),
                          float(self.eps))
                continue
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            if self.weight_decay and self.decays[k]:
                p -= (self.lr * self.weight_decay) * p
            p -= (self.lr / c1) * m / (np.sqrt(v) / c2 + self.eps)

    def state(self):
        """Copy of the moments and step count (to resume or compare runs)."""
        return {"t": self.t, "m": {k: a.copy() for k, a in self.m.items()},
                "v": {k: a.copy() for k, a in self.v.items()}}


SCHEDULES = (None, "cosine")


def check_schedule(lr_schedule, who):
    if lr_schedule not in SCHEDULES:
        raise ValueError(f"{who}: lr_schedule must be None or 'cosine', got {lr_schedule!r}")


def scheduled_lr(lr, lr_schedule, epoch, epochs):
    """The learning rate of `epoch`: ``lr`` (None) or, for "cosine", the decay from ``lr`` at epoch
    0 towards 0: lr * 0.5 * (1 + cos(pi * epoch / epochs))."""
    if lr_schedule == "cosine":
        return lr * 0.5 * (1.0 + np.cos(np.pi * epoch / epochs))
    return lr


def record_validation(history, stats, val_loss, val_acc):
    """Append the epoch's validation scores to ``history`` and ``stats``; returns the ranking key
    (higher accuracy first, then lower loss) both training loops keep their best epoch by."""
    history["val_loss"].append(val_loss)
    history["val_acc"].append(val_acc)
    stats.update(val_loss=val_loss, val_acc=val_acc)
    return val_acc, -val_loss
