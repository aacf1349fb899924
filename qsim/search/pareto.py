"""Pareto front of accuracy (higher is better) against costs (lower is better).

`pareto_front(points)` takes (accuracy, cost_1, ..., cost_k, tie) tuples and returns the indices
of the points no other point dominates (>= accuracy and <= every cost, one of them strictly),
sorted by accuracy descending, then costs ascending, then `tie` (e.g. the candidate key): a
canonical order, the same whichever order the points came in. Points equal in every objective
are all kept (neither dominates the other), unless unique=True: then only the first of them in
canonical order (the smallest tie) stands for the others.
"""


def dominates(a, b) -> bool:
    """a = (accuracy, cost...) dominates b: no worse everywhere, strictly better somewhere."""
    if a[0] < b[0] or any(x > y for x, y in zip(a[1:], b[1:])):
        return False
    return a[0] > b[0] or any(x < y for x, y in zip(a[1:], b[1:]))


def sort_key(p):
    return (-p[0], *p[1:-1], p[-1])


def pareto_front(points, unique=False) -> list:
    """Indices of the non-dominated points (the last element of each point is only a tie-break),
    in canonical order (accuracy descending, costs ascending, tie); unique=True keeps one point
    per distinct objective vector."""
    pts = [tuple(p) for p in points]
    order = sorted(range(len(pts)), key=lambda i: sort_key(pts[i]))
    front = []
    for i in order:
        # sorted by accuracy descending then costs: only an earlier point can dominate a later one
        if unique and front and pts[front[-1]][:-1] == pts[i][:-1]:
            continue
        if not any(dominates(pts[j][:-1], pts[i][:-1]) for j in front):
            front.append(i)
    return front
