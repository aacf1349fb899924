"""qsim.search.pareto against a brute-force definition of dominance."""
import random

from hypothesis import given
from hypothesis import strategies as st

from qsim.search.pareto import pareto_front

# small value ranges: many ties and equal points
point = st.tuples(st.integers(0, 5), st.integers(0, 4), st.integers(0, 4), st.integers(0, 4))


def brute(points):
    """Indices of points no other point dominates, by the definition."""
    def dom(a, b):
        ge = a[0] >= b[0] and all(x <= y for x, y in zip(a[1:4], b[1:4]))
        strict = a[0] > b[0] or any(x < y for x, y in zip(a[1:4], b[1:4]))
        return ge and strict
    return {i for i, p in enumerate(points) if not any(dom(q, p) for q in points)}


def with_ties(points):
    return [(*p, f"k{i:03d}") for i, p in enumerate(points)]


@given(st.lists(point, max_size=40))
def test_front_is_the_non_dominated_set(points):
    pts = with_ties(points)
    front = pareto_front(pts)
    assert set(front) == brute(points)
    assert len(front) == len(set(front))


@given(st.lists(point, max_size=40), st.randoms(use_true_random=False))
def test_order_is_canonical_whatever_the_input_order(points, rnd):
    pts = with_ties(points)
    shuffled = pts[:]
    rnd.shuffle(shuffled)
    assert [pts[i] for i in pareto_front(pts)] == [shuffled[i] for i in pareto_front(shuffled)]
    got = [pts[i] for i in pareto_front(pts)]
    assert got == sorted(got, key=lambda p: (-p[0], p[1], p[2], p[3], p[4]))


@given(st.lists(point, max_size=40))
def test_unique_keeps_one_per_objective_vector(points):
    pts = with_ties(points)
    full = [pts[i] for i in pareto_front(pts)]
    uniq = [pts[i] for i in pareto_front(pts, unique=True)]
    assert {p[:4] for p in uniq} == {p[:4] for p in full}
    assert len({p[:4] for p in uniq}) == len(uniq)
    for p in uniq:      # the representative is the smallest tie of its group
        assert p[4] == min(q[4] for q in full if q[:4] == p[:4])


def test_float_accuracies():
    rng = random.Random(0)
    pts = [(rng.random(), rng.randint(0, 9), rng.randint(0, 9), rng.randint(0, 9), str(i))
           for i in range(300)]
    assert set(pareto_front(pts)) == brute(pts)
