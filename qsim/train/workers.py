"""Batch slices on worker threads, with BLAS single-threaded inside them.

Why: a training step's conv products are thin (the KWS conv2 gradient multiplies by 30 output
channels), so one threaded BLAS call on the whole batch is memory bound on an im2col buffer of
tens of MB. Splitting the batch over the cores and working through each part in cache-sized
chunks, with one BLAS thread per worker, keeps the windows in cache and the cores busy (KWS conv2
backward on 2 cores: 31 -> 16 ms). numpy's products and the ``nogil`` numba loops release the GIL,
so plain threads run in parallel; numba's own thread pool is not used here because its idle
workers spin after each parallel region and take the cores from the next BLAS call.

The parts are fixed (BLOCKS consecutive slices, whatever WORKERS is), so a sum over the batch, and
with it every training result, is the same for any thread count; WORKERS only says how many
threads take the parts. A training step runs each part's whole forward and backward in one go
(qsim.train.net): two hand-offs per step, and the numpy glue between the ops runs in the parts
too (KWS QAT on 2 threads: one hand-off per op before, 18 per step, with the glue in between on
one thread).

    parts = over_batch(fn, n)    # [fn(lo, hi) for the fixed parts of range(n)], concurrently
    with single_blas(): ...      # a training loop: BLAS at one thread between those calls too
    buf = scratch("cols", size, dtype)   # this thread's reusable flat buffer for that purpose
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

try:
    WORKERS = len(os.sched_getaffinity(0))
except AttributeError:          # not Linux
    WORKERS = os.cpu_count() or 1

_pool = None
_blas = None
_local = threading.local()


def _executor():
    global _pool, _blas
    if _pool is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController()
        _pool = ThreadPoolExecutor(max(1, os.cpu_count() or 1), thread_name_prefix="qsim-train")
    return _pool


# Below this many array elements a job is done before a worker would have woken up (~20 us).
MIN_SPLIT = 1 << 16

# The fixed number of consecutive parts a batch is cut into, whatever WORKERS is: a sum over the
# batch (a weight gradient) is the sum of the parts' sums in part order, so its bits depend on
# the partition; fixing it makes every result the same for any thread count (WORKERS only says
# how many of the parts run at once). 2 = the cores of the machine this was tuned on.
BLOCKS = 2


def parts_of(n, size=None):
    """The (lo, hi) slices of range(n) that over_batch runs: BLOCKS consecutive parts (fewer when
    n is smaller), one when ``size`` (the job's element count) is below MIN_SPLIT or when called
    inside a part (no nesting). Depends on n and size only, never on WORKERS."""
    k = min(BLOCKS, n)
    if k <= 1 or (size is not None and size < MIN_SPLIT) or getattr(_local, "inside", False):
        return [(0, n)]
    return [(n * i // k, n * (i + 1) // k) for i in range(k)]


def _run_inside(fn, bounds):
    """fn over some parts in this thread, marked as inside a part (nested calls run whole)."""
    was = getattr(_local, "inside", False)
    _local.inside = True
    try:
        return [fn(lo, hi) for lo, hi in bounds]
    finally:
        _local.inside = was


def over_batch(fn, n, size=None):
    """[fn(lo, hi) for (lo, hi) in parts_of(n, size)], the parts run concurrently.

    Returns the results in part order. The calling thread and up to WORKERS - 1 pool threads take
    the parts one at a time, in order, until none is left (a thread the scheduler holds back costs
    its part, not a share); with one worker the caller runs them all. Inside a part, over_batch
    runs fn(0, n) there (no nesting). Which thread runs a part never changes its result.
    """
    return run_parts(fn, parts_of(n, size))


def run_parts(fn, bounds):
    """over_batch on given parts: [fn(lo, hi) for (lo, hi) in bounds], concurrently."""
    if len(bounds) == 1:
        return [fn(*bounds[0])]
    k = max(1, min(WORKERS, len(bounds)))
    if k == 1:
        return _run_inside(fn, bounds)
    results = [None] * len(bounds)
    taken = iter(range(len(bounds)))
    lock = threading.Lock()

    def take():
        was = getattr(_local, "inside", False)
        _local.inside = True
        try:
            while True:
                with lock:
                    i = next(taken, None)
                if i is None:
                    return
                results[i] = fn(*bounds[i])
        finally:
            _local.inside = was

    pool = _executor()
    with _blas.limit(limits=1, user_api="blas"):
        futures = [pool.submit(take) for _ in range(k - 1)]
        try:
            take()
        finally:
            for f in futures:           # every part is done before the arrays go away
                f.result()
    return results


@contextmanager
def single_blas():
    """BLAS at one thread inside the block. Training loops run in it: after a threaded BLAS call
    OpenBLAS's idle threads spin for a while and take the cores from the next over_batch's workers
    (KWS QAT step on 2 cores: 62 -> 40 ms); the small products left outside over_batch (fc layers)
    lose little at one thread."""
    _executor()
    with _blas.limit(limits=1, user_api="blas"):
        yield


def scratch(key, size, dtype):
    """A flat array of `size` items of `dtype`, owned by the calling thread and reused by every
    later call with the same `key` (fresh large arrays cost a page fault per 4 KiB on first touch,
    as much as the copy into them)."""
    dtype = np.dtype(dtype)
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    buf = bufs.get((key, dtype))
    if buf is None or buf.size < size:
        buf = bufs[(key, dtype)] = np.empty(size, dtype)
    return buf[:size]
