"""The search loop: baselines, then beam moves from the best candidates, round by round.

Round 0 evaluates the baselines (q7, q15, q7q15 with the calibrated formats). Each later round
takes up to `beam` parents not expanded yet, ranked by (budget violation, accuracy descending,
RAM, flash, instructions, key):
    some candidate meets the budget    the Pareto front of the candidates within the budget
    none does                          every feasible candidate (the closest first)
and evaluates all their neighbours (qsim.search.space, fixed order) not seen yet, truncated to
what is left of `max_candidates`. It stops when no parent is left or the limit is reached.
Every decision reads only records, and a round's records are all in before the next is chosen,
so the candidates visited, the front and its order are the same for any executor, any number of
workers and any interruption + resume.
"""
from dataclasses import dataclass, field

from .budget import COSTS, Budget
from .pareto import pareto_front


def simplicity(rec):
    """Tie-break between equal candidates: fewer moves from a baseline first, then the key."""
    c = rec["candidate"]
    default = 8 if c["scheme"] == "q7" else 16
    return (sum(abs(o) for _, o in c["offsets"]) + sum(b != default for _, b in c["layer_bits"])
            + (not c["fc_opt"])
            + bool(c["qat_epochs"]), rec["key"])


def objectives(rec):
    return (rec["accuracy"], *(rec[c] for c in COSTS), simplicity(rec))


def rank_key(rec, budget):
    return (budget.violation(rec), -rec["accuracy"], *(rec[c] for c in COSTS), simplicity(rec))


def front_of(records):
    """The Pareto front, one candidate (the simplest) per distinct (accuracy, costs)."""
    recs = list(records)
    return [recs[i] for i in pareto_front([objectives(r) for r in recs], unique=True)]


@dataclass
class SearchResult:
    budget: Budget
    visited: list = field(default_factory=list)       # records in the order the search met them
    evaluated: int = 0                                # evaluated by this run (not resumed)
    resumed: int = 0

    @property
    def ok(self):
        return [r for r in self.visited if r["ok"]]

    @property
    def in_budget(self):
        return [r for r in self.ok if not self.budget.misses(r)]

    @property
    def front(self):
        return front_of(self.ok)

    @property
    def best(self):
        inb = self.in_budget
        return min(inb, key=lambda r: rank_key(r, self.budget)) if inb else None

    def closest(self, n=3):
        return sorted(self.ok, key=lambda r: rank_key(r, self.budget))[:n]


def _parents(result, expanded, beam):
    budget = result.budget
    inb = result.in_budget
    pool = front_of(inb) if inb else result.ok
    ranked = sorted(pool, key=lambda r: rank_key(r, budget))
    return [r for r in ranked if r["key"] not in expanded][:beam]


def search(space, executor, store, budget, max_candidates=60, beam=4, progress=None):
    """Run the search; records go to `store` as they arrive (a KeyboardInterrupt propagates: what
    is in the store stays valid and a later call resumes from it). Returns a SearchResult."""
    from .space import Candidate
    result = SearchResult(budget)
    seen = {}

    def run_round(cands):
        cands = cands[:max(0, max_candidates - len(seen))]
        todo = []
        for c in cands:
            seen[c.key()] = None
            if c.key() in store.records:
                result.resumed += 1
                if progress:
                    progress(store.records[c.key()], result)
            else:
                todo.append(c)
        if todo:
            for c, rec in executor.run(todo):
                store.append(rec)
                result.evaluated += 1
                seen[c.key()] = rec
                if progress:
                    progress(rec, result)
        # the round's records in candidate order (not completion order)
        for c in cands:
            result.visited.append(store.records[c.key()])

    run_round(space.baselines())
    expanded = set()
    while len(seen) < max_candidates:
        parents = _parents(result, expanded, beam)
        if not parents:
            break
        moves = []
        for p in parents:
            expanded.add(p["key"])
            for m in space.neighbours(Candidate.from_dict(p["candidate"])):
                if m.key() not in seen and m.key() not in {x.key() for x in moves}:
                    moves.append(m)
        if moves:
            run_round(moves)
    return result
