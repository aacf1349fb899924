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


def test_float32_pass_gives_numpys_bits(rng):
    """The float32 numba pass against the numpy expressions it replaces (which run for arrays
    that are not C-contiguous): the same bits, signed zeros, denormals and large values too."""
    shape = (7, 33)
    for decay, lr in ((0.0, 3e-3), (0.05, 3e-3), (0.0, np.float64(3e-3)), (0.05, np.float64(3e-3)),
                      (np.float64(0.05), 3e-3)):      # numpy float64 scalars (the cosine schedule's
        #                                             lr) make numpy compute in float64
        w = (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 3, shape)).astype(np.float32)
        w[0, :4] = [0.0, -0.0, 1e-38, 3e38]
        fast, slow = w.copy(), np.asfortranarray(w)               # slow: the numpy path
        opts = dict(lr=lr, weight_decay=decay)
        o_fast, o_slow = Adam({"a": fast}, **opts), Adam({"a": slow}, **opts)
        for t in range(5):
            g = (rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 3, shape)).astype(np.float32)
            g[1, :3] = [0.0, -0.0, 1e-45]
            o_fast.step({"a": g})
            o_slow.step({"a": np.asfortranarray(g)})
            np.testing.assert_array_equal(fast, slow)
            np.testing.assert_array_equal(o_fast.m["a"], o_slow.m["a"])
            np.testing.assert_array_equal(o_fast.v["a"], o_slow.v["a"])
            assert np.signbit(fast).tolist() == np.signbit(slow).tolist()
