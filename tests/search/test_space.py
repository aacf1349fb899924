"""The candidate space: fixed move order, canonical keys, and the per-layer precision dimension
(used when qsim.quantize takes `layer_bits`; here a stand-in quantize is monkeypatched in)."""
import importlib
import warnings

import numpy as np
import pytest

from qsim.importers.spec import Sequential
from qsim.search import evaluate as ev
from qsim.search.space import Candidate, Space, format_groups

qmod = importlib.import_module("qsim.quantize")     # the module (qsim.quantize is the function)


@pytest.fixture(scope="module")
def tiny():
    g = Sequential((6, 6, 4), name="tiny").conv(4, 3, pad=1).relu().maxpool(2).fc(8).relu() \
        .fc(3).softmax().build(seed=1)
    x = np.random.default_rng(0).normal(size=(16, 6, 6, 4)).astype(np.float32)
    return g, x


def test_groups_and_neighbours_order(tiny):
    g, _ = tiny
    assert format_groups(g) == ["input", "conv1", "fc1", "fc2"]      # softmax output is fixed
    sp = Space(g, layer_bits=False)
    base = Candidate("q7")
    moves = sp.neighbours(base)
    assert moves[0] == Candidate("q7", fc_opt=False)
    assert moves[1] == Candidate("q7", pad_channels=False)
    assert [m.offsets for m in moves[2:]] == [((t, d),) for t in sp.groups for d in (1, -1)]
    assert moves == sp.neighbours(Candidate.from_dict(base.to_dict()))     # deterministic
    two = Candidate("q7", offsets=(("input", 2),))
    assert Candidate("q7", offsets=(("input", 3),)) not in sp.neighbours(two)   # |offset| <= 2
    assert Candidate("q7") in sp.neighbours(Candidate("q7", offsets=(("input", 1),)))


def test_keys_are_canonical(tiny):
    g, _ = tiny
    sp = Space(g, layer_bits=False)
    a = sp.neighbours(Candidate("q7", offsets=(("fc1", 1),)))
    b = [Candidate.from_dict(m.to_dict()) for m in a]
    assert [m.key() for m in a] == [m.key() for m in b]
    both = [m for m in a if len(m.offsets) == 2]
    assert all([t for t, _ in m.offsets] == sorted((t for t, _ in m.offsets),
                                                   key=sp.groups.index) for m in both)


def test_qat_move(tiny):
    g, _ = tiny
    sp = Space(g, layer_bits=False, qat_epochs=2)
    assert sp.neighbours(Candidate("q15"))[2] == Candidate("q15", qat_epochs=2)
    assert all(m.qat_epochs == 2 for m in sp.neighbours(Candidate("q15", qat_epochs=2)))


def test_pad_channels_key_and_effect():
    """The padding toggle keeps old keys for the default and reaches quantize: a 5-channel conv
    input is padded to 8 for arm_convolve_HWC_q7_fast, or left on _basic."""
    assert "pad_channels" not in Candidate("q7").key()
    c = Candidate("q7", pad_channels=False)
    assert Candidate.from_dict(c.to_dict()) == c and c.label() == "q7 no-pad"
    g = Sequential((8, 8, 3), name="padme").conv(10, 3, pad=1).relu().conv(8, 3, pad=1).relu() \
        .fc(3).build(seed=2)
    x = np.random.default_rng(0).normal(size=(8, 8, 8, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = __import__("qsim").calibrate(g, x)
        on = qmod.quantize(g, cal, **Candidate("q7").quantize_kwargs())
        off = qmod.quantize(g, cal, **c.quantize_kwargs())
    k = lambda q: {n.name: n.kernel for n in q.nodes}["conv2"]
    assert k(on) == "arm_convolve_HWC_q7_fast" and k(off) == "arm_convolve_HWC_q7_basic"
    assert off.meta["quantize"]["pad_channels"] is False and "pad_channels" not in on.meta["quantize"]


def test_per_layer_moves(tiny):
    g, _ = tiny
    sp = Space(g, layer_bits=True)
    moves = sp.neighbours(Candidate("q7"))
    flips = [m for m in moves if m.layer_bits]
    assert [dict(m.layer_bits) for m in flips] == [
        {"conv1": 16, "fc1": 8, "fc2": 8}, {"conv1": 8, "fc1": 16, "fc2": 8},
        {"conv1": 8, "fc1": 8, "fc2": 16}]
    assert flips[0].label() == "q7+layers conv1:16b"
    # flipping back returns to the plain scheme (one key per network)
    assert Candidate("q7") in sp.neighbours(flips[0])
    assert not [m for m in sp.neighbours(Candidate("q7q15")) if m.layer_bits]


def test_layer_bits_reach_quantize(tiny, monkeypatch):
    """A candidate with per-layer widths calls quantize(..., layer_bits=...) and gets them."""
    g, x = tiny
    real = qmod.quantize
    seen = []

    def spy(graph, calibration, scheme="q7", layer_bits=None, **kw):
        seen.append(dict(layer_bits or {}))
        q = real(graph, calibration, scheme=scheme, layer_bits=layer_bits, **kw)
        seen.append({n.name: q.tensors[n.output].qformat.bits for n in q.nodes
                     if n.name in ("conv1", "fc1", "fc2")})
        return q

    monkeypatch.setattr(qmod, "quantize", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = __import__("qsim").calibrate(g, x)
    y = np.zeros(len(x), np.int64)
    ctx = ev.Context(g, cal, x, y, target="cortex-m3", measure_code=False)
    sp = Space(g)
    cand = [m for m in sp.neighbours(Candidate("q7")) if m.layer_bits][0]
    rec = ev.evaluate(ctx, cand)
    assert rec["ok"], rec
    assert seen == [{"conv1": 16, "fc1": 8, "fc2": 8}] * 2
    assert rec["candidate"]["layer_bits"] == [["conv1", 16], ["fc1", 8], ["fc2", 8]]
