"""qsim.metrics.paired_delta: quantized - float accuracy paired over the same items.

Oracle: McNemar's exact test and the Clopper-Pearson interval recomputed here from binomial sums
(math.comb, exact rationals) and bisection, independently of scipy, which qsim uses."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qsim.errors import ShapeError
from qsim.metrics import PairedDelta, evaluate, paired_delta

from .test_metrics import setup  # noqa: F401  (the module's fixture)


def _cdf(k, n):
    """P(X <= k) for X ~ Binomial(n, 1/2), exact."""
    return Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2 ** n)


def _mcnemar_p(b, c):
    """Two-sided exact McNemar p: P(X <= min) + P(X >= max) under Binomial(b + c, 1/2), <= 1."""
    n, lo = b + c, min(b, c)
    if lo * 2 == n:
        return 1.0
    return min(1.0, float(2 * _cdf(lo, n)))


def _binom_cdf(k, n, p):
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))


def _clopper_pearson(x, n, alpha=0.05):
    """Exact interval for a proportion by bisection on the binomial tails."""
    def solve(f):
        lo, hi = 0.0, 1.0
        for _ in range(80):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) else (lo, mid)
        return (lo + hi) / 2
    low = 0.0 if x == 0 else solve(lambda p: 1 - _binom_cdf(x - 1, n, p) < alpha / 2)
    high = 1.0 if x == n else solve(lambda p: _binom_cdf(x, n, p) > alpha / 2)
    return low, high


def _preds(gained, lost, both, neither, classes=3):
    """Labels and two predictions with the given counts of each (right, wrong) pairing."""
    n = gained + lost + both + neither
    y = np.arange(n) % classes
    wrong = (y + 1) % classes
    ref = np.concatenate([wrong[:gained], y[gained:gained + lost], y[gained + lost:gained + lost + both],
                          wrong[gained + lost + both:]])
    new = np.concatenate([y[:gained], wrong[gained:gained + lost], y[gained + lost:gained + lost + both],
                          wrong[gained + lost + both:]])
    return y, ref, new


@pytest.mark.parametrize("gained, lost, both, neither", [
    (5, 8, 1100, 69), (0, 9, 1150, 23), (12, 3, 400, 10), (1, 0, 50, 0), (7, 7, 100, 5),
    (30, 60, 900, 200)])
def test_matches_exact_binomial_oracle(gained, lost, both, neither):
    y, ref, new = _preds(gained, lost, both, neither)
    d = paired_delta(y, ref, new)
    n, k = len(y), gained + lost
    assert (d.n, d.gained, d.lost) == (n, gained, lost)
    assert d.delta == pytest.approx((gained - lost) / n, abs=1e-15)
    assert d.delta == pytest.approx(np.mean(new == y) - np.mean(ref == y), abs=1e-12)
    assert d.p_value == pytest.approx(_mcnemar_p(gained, lost), rel=1e-9)
    lo, hi = _clopper_pearson(gained, k)
    assert d.ci_low == pytest.approx(k / n * (2 * lo - 1), abs=1e-9)
    assert d.ci_high == pytest.approx(k / n * (2 * hi - 1), abs=1e-9)


def test_a_real_loss_is_told_from_noise():
    # 9 clips lost, none gained (seed 1's q7 on a 1,182-clip test once): significant; 5 vs 8: not
    assert paired_delta(*_preds(0, 9, 1150, 23)).p_value < 0.01
    assert paired_delta(*_preds(5, 8, 1100, 69)).p_value > 0.5


def test_no_discordant_items():
    y = np.array([0, 1, 2, 1])
    d = paired_delta(y, y, y)
    assert (d.delta, d.ci_low, d.ci_high, d.p_value, d.gained, d.lost) == (0, 0, 0, 1, 0, 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)), min_size=1,
                max_size=300))
def test_properties(rows):
    y, ref, new = (np.array(c) for c in zip(*rows))
    d = paired_delta(y, ref, new)
    assert d.delta == pytest.approx(np.mean(new == y) - np.mean(ref == y), abs=1e-12)
    assert d.ci_low - 1e-12 <= d.delta <= d.ci_high + 1e-12
    assert -1 <= d.ci_low <= d.ci_high <= 1 and 0 <= d.p_value <= 1
    e = paired_delta(y, new, ref)                   # swapping the two mirrors everything
    assert (e.gained, e.lost) == (d.lost, d.gained)
    assert e.delta == pytest.approx(-d.delta, abs=1e-15) and e.p_value == pytest.approx(d.p_value)
    assert e.ci_low == pytest.approx(-d.ci_high, abs=1e-9)
    assert PairedDelta(**vars(d)).describe() == d.describe()


def test_bad_arguments():
    with pytest.raises(ShapeError, match="same non-zero length"):
        paired_delta([0, 1], [0, 1], [0])
    with pytest.raises(ShapeError, match="same non-zero length"):
        paired_delta([], [], [])
    with pytest.raises(ShapeError, match="confidence"):
        paired_delta([0], [0], [0], confidence=1.5)


def test_report_gives_it(setup):  # noqa: F811
    g, q, x, y, _ = setup
    rep = evaluate(g, q, x, y)
    assert rep.delta.delta == pytest.approx(rep.quant_accuracy - rep.float_accuracy, abs=1e-12)
    assert "quantized - float" in rep.summary() and "McNemar p" in rep.summary()
    assert evaluate(g, q, x).delta is None
    import json
    assert json.loads(rep.to_json())["delta"]["n"] == len(x)
