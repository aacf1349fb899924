"""Adam against the textbook update written out step by step."""
import numpy as np

from qsim.train.optim import Adam


def test_adam_matches_textbook(rng):
    w0, b0 = rng.standard_normal((3, 4)), rng.standard_normal(3)
    params = {"fc/weight": w0.copy(), "fc/bias": b0.copy()}
    opt = Adam(params, lr=0.01, weight_decay=0.1)
    ref = {"fc/weight": w0.copy(), "fc/bias": b0.copy()}
    m = {k: 0.0 for k in ref}
    v = {k: 0.0 for k in ref}
    for t in range(1, 4):
        grads = {k: rng.standard_normal(p.shape) for k, p in ref.items()}
        opt.step(grads)
        for k, g in grads.items():
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * g * g
            mhat, vhat = m[k] / (1 - 0.9 ** t), v[k] / (1 - 0.999 ** t)
            if k.endswith("weight"):   # decoupled decay, biases excluded
                ref[k] = ref[k] - 0.01 * 0.1 * ref[k]
            ref[k] = ref[k] - 0.01 * mhat / (np.sqrt(vhat) + 1e-8)
        for k in ref:
            # Same formula in float64: only summation-order rounding may differ.
            np.testing.assert_allclose(params[k], ref[k], rtol=1e-12, atol=1e-15)


def test_adam_updates_in_place_and_skips_missing():
    w = np.ones(3, np.float32)
    opt = Adam({"w": w, "b": np.zeros(2, np.float32)}, lr=0.5)
    opt.step({"w": np.array([1.0, -1.0, 0.0], np.float32)})
    np.testing.assert_allclose(w, [0.5, 1.5, 1.0], rtol=1e-6)
    assert w.dtype == np.float32 and opt.state()["t"] == 1
