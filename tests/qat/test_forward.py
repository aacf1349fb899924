"""The QAT forward pass equals qsim.simulate(trace=True) on every tensor, bit for bit."""
import warnings

import numpy as np
import pytest

from qsim.calibrate import calibrate
from qsim.importers.spec import KWS_SPEC, Sequential
from qsim.qat import QatNet
from qsim.quantize import quantize
from qsim.simulate import predict, simulate
from tests.kernels._compare import assert_bit_exact

SMALL = Sequential((12, 12, 4), "small").conv(8, 3, pad=1).relu().maxpool(2).conv(6, 3).relu() \
    .avgpool(2).flatten().fc(10).relu().fc(5).softmax()
SMALL_Q15 = Sequential((12, 12, 4), "small15").conv(8, 3, pad=1).relu().conv(6, (3, 2), stride=2) \
    .relu().flatten().fc(10).relu().fc(5).softmax()
EVERY_OP = Sequential((6, 6, 4), "every").depthwise(3, pad=1).relu().avgpool(2).conv(4, 1).tanh() \
    .softmax().flatten().fc(5).sigmoid().fc(3)
KWS = Sequential.from_dict(KWS_SPEC)


def _check(seq, n=48, scale=1.0, **qkw):
    g = seq.build(seed=3)
    rng = np.random.default_rng(7)
    shape = g.tensors["input"].shape
    x_cal = rng.normal(0, 1, (32,) + shape).astype(np.float32)
    x = (rng.normal(0, 1, (n,) + shape) * scale).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # saturation / 5.7.0 bug warnings are expected here
        q = quantize(g, calibrate(g, x_cal), **qkw)
        want = simulate(q, x, trace=True)
        want_pred = predict(q, x)
    qnet = QatNet(q.copy())
    got = qnet.trace(qnet.quantize_input(x))
    assert set(got) == set(want)
    for t in want:
        assert_bit_exact(got[t], want[t], t)
    np.testing.assert_array_equal(qnet.predict(qnet.quantize_input(x)), want_pred)
    return q, want


@pytest.mark.parametrize("seq", [SMALL, KWS], ids=["small", "kws"])
@pytest.mark.parametrize("scheme", ["q7", "q15"])
def test_forward_equals_simulate(seq, scheme):
    if seq is SMALL and scheme == "q15":
        seq = SMALL_Q15                      # legacy CMSIS-NN has no q15 pooling
    _check(seq, scheme=scheme)


@pytest.mark.parametrize("path, version", [("dsp", "5.7.0"), ("ref", "5.9.0")])
def test_forward_equals_simulate_other_builds(path, version):
    _check(SMALL, scheme="q7", path=path, version=version)   # DSP pooling differs from REF
    _check(EVERY_OP, scheme="q7", path=path, version=version)


def test_forward_equals_simulate_when_saturating():
    # inputs 4x beyond the calibration: input clipping and saturated layer outputs
    q, want = _check(SMALL, scale=4.0, scheme="q7")
    assert (want["conv1"] == 127).mean() > 0.01
    _check(KWS, scale=4.0, scheme="q15", path="dsp")


def test_q7q15_and_every_op():
    _check(EVERY_OP, scheme="q7")
    _check(SMALL_Q15, scheme="q7q15")
