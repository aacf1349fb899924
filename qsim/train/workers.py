"""Batch slices on worker threads, with BLAS single-threaded inside them.

Why: a training step's conv products are thin (the KWS conv2 gradient multiplies by 30 output
channels), so one threaded BLAS call on the whole batch is memory bound on an im2col buffer of
tens of MB. Splitting the batch over the cores and working through each part in cache-sized
chunks, with one BLAS thread per worker, keeps the windows in cache and the cores busy (KWS conv2
backward on 2 cores: 31 -> 16 ms). numpy's products and the ``nogil`` numba loops release the GIL,
so plain threads run in parallel; numba's own thread pool is not used here because its idle
workers spin after each parallel region and take the cores from the next BLAS call.

    parts = over_batch(fn, n)    # [fn(lo, hi) for the workers' slices of range(n)], concurrently
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
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="qsim-train")
    return _pool


# Below this many array elements a job is done before a worker would have woken up (~20 us).
MIN_SPLIT = 1 << 16


def over_batch(fn, n, workers=None, size=None):
    """Run fn(lo, hi) on `workers` (default WORKERS) consecutive slices of range(n) concurrently.

    Returns the results in slice order. Runs fn(0, n) in the calling thread when one worker is
    enough, when ``size`` (the job's element count, if given) is below MIN_SPLIT, or when called
    from inside a worker (no nested pools).
    """
    k = min(WORKERS if workers is None else workers, n)
    if k <= 1 or (size is not None and size < MIN_SPLIT) or getattr(_local, "inside", False):
        return [fn(0, n)]
    pool = _executor()
    bounds = [(n * i // k, n * (i + 1) // k) for i in range(k)]

    def run(lo, hi):
        _local.inside = True
        try:
            return fn(lo, hi)
        finally:
            _local.inside = False

    with _blas.limit(limits=1, user_api="blas"):
        futures = [pool.submit(run, lo, hi) for lo, hi in bounds]
        return [f.result() for f in futures]


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
