"""Budget search (issue 17): the most accurate quantized variant of a float net that fits a RAM,
flash and instruction budget, with the Pareto front of accuracy against those costs.

    space.py      the candidates (scheme / per-layer widths, format offsets, fc kernel variant,
                  QAT) and the moves between them, in a fixed order
    evaluate.py   one candidate: quantize -> bit-exact accuracy -> RAM / flash -> instructions
    pareto.py     the Pareto front and its canonical order
    driver.py     the deterministic beam search over rounds
    executors.py  serial, local worker processes, Dask distributed
    store.py      DIR/candidates.jsonl (append-only, interrupt-safe, resumable)
    budget.py     budgets with units (16k, 128KiB, 5M) and the checks against them
    report.py     front.csv / front.md / front.png and the printed summary
`qsim search` (qsim/commands/search.py) ties them together.
"""
