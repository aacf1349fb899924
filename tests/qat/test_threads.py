"""QAT's training results do not depend on the thread count: the batch is cut into
qsim.train.workers' fixed parts whatever WORKERS is, and the parts' sums are added in part order."""
import warnings

import numpy as np
import pytest

from qsim.calibrate import calibrate
from qsim.importers.spec import Sequential
from qsim.qat import QatNet
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
