"""The QAT step's faster paths give the bits of the plain ones: any thread count (the batch is cut
into qsim.train.workers' fixed parts whatever WORKERS is, the parts' sums added in part order), the
ReLU fused into the conv, the accumulator init on arrays."""
import warnings

import numpy as np
import pytest

from qsim.calibrate import calibrate
from qsim.fixedpoint import bias_init, round_constant, wrap_i32
from qsim.importers.spec import Sequential
from qsim.qat import QatNet
from qsim.qat.ste import accumulator_init
from qsim.qat.train import run_epoch
from qsim.quantize import quantize
from qsim.train import workers
from qsim.train.optim import Adam


@pytest.fixture(scope="module")
def quantized():
    rng = np.random.default_rng(3)
    g = (Sequential((12, 6, 1), "thr").conv(6, (3, 2)).relu().conv(8, (3, 3), stride=(2, 1))
         .relu().flatten().fc(10).relu().fc(3).softmax()).build(seed=0)
    x = (rng.standard_normal((96, 12, 6, 1)) * 3).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quantize(g, calibrate(g, x), scheme="q7")
    return q, x, rng.integers(0, 3, len(x))


@pytest.mark.parametrize("min_split", [1, 1 << 30])   # the net's parts / only the ops' parts
def test_one_two_and_three_threads_train_the_same_weights(quantized, monkeypatch, min_split):
    q, x, y = quantized
    monkeypatch.setattr(workers, "MIN_SPLIT", min_split)
    runs = []
    for k in (1, 2, 3):
        monkeypatch.setattr(workers, "WORKERS", k)
        qnet = QatNet(q.copy())
        opt = Adam(qnet.params, lr=1e-2)
        xq = qnet.quantize_input(x)
        for _ in range(2):
            run_epoch(qnet, opt, xq, y, np.random.default_rng(0).permutation(len(x)), 32)
        assert len(qnet.net._parts) == (workers.BLOCKS if min_split == 1 else 1)
        runs.append({key: p.copy() for key, p in qnet.params.items()})
    assert any((runs[0][key] != q.node(key.split("/")[0]).params[key.split("/")[1]]).any()
               for key in runs[0])                      # it trained
    for other in runs[1:]:
        for key, p in runs[0].items():
            np.testing.assert_array_equal(other[key], p, err_msg=key)


def test_fused_relu_trains_the_same_bits_as_the_relu_layer(quantized):
    """QatNet fuses each conv -> relu pair (the ReLU in the integer epilogue, its mask in the
    conv's): logits and trained weights equal those of the unfused layers, bit for bit."""
    q, x, y = quantized
    runs = []
    for fused in (True, False):
        qnet = QatNet(q.copy())
        assert [type(conv).__name__ for conv, _, _ in qnet.fused] == ["QConv", "QConv"]
        opt = Adam(qnet.params, lr=1e-2)
        xq = qnet.quantize_input(x)
        order = np.random.default_rng(1).permutation(len(x))
        if fused:
            run_epoch(qnet, opt, xq, y, order, 32)
            logits = qnet.forward(xq)
        else:
            with qnet._unfused():
                run_epoch(qnet, opt, xq, y, order, 32)
                logits = qnet.forward(xq)
        runs.append((logits, {key: p.copy() for key, p in qnet.params.items()}))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for key, p in runs[0][1].items():
        np.testing.assert_array_equal(p, runs[1][1][key], err_msg=key)


@pytest.mark.parametrize("bits", [8, 16])
def test_accumulator_init_is_fixedpoints_per_bias_arithmetic(bits):
    rng = np.random.default_rng(bits)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    for bias_shift in range(32):
        for out_shift, truncate, release in ((0, False, "5.7.0"), (7, False, "5.7.0"),
                                             (31, False, "5.9.0"), (31, False, "5.7.0"),
                                             (12, True, "5.9.0")):
            b = np.append(rng.integers(lo, hi + 1, 20), [lo, hi, 0]).astype(f"int{bits}")
            rnd = round_constant(out_shift, truncate, release)
            want = [wrap_i32(bias_init(int(v), bias_shift) + rnd) for v in b]
            got = accumulator_init(b, bias_shift, out_shift, truncate, release)
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, want)
