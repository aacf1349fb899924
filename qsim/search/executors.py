"""Where candidates are evaluated: in this process, on local worker processes, or on Dask.

Each executor has `run(candidates)`, a generator of (candidate, record) as records complete (in
any order), and `close()`. The search waits for every record of a round before choosing the
next round, and records depend only on the candidate (qsim.search.evaluate), so the results are
the same whichever executor runs them.

    SerialExecutor(ctx)                in-process, one candidate after the other
    ProcessExecutor(ctx, workers)      concurrent.futures.ProcessPoolExecutor, "spawn" start
                                       method; the context is sent once per worker (initializer);
                                       each worker runs numba, BLAS and OpenMP at one thread
    DaskExecutor(ctx, address)         an existing Dask distributed scheduler (tcp://host:port, or
                                       the address of a LocalCluster); the context is scattered
                                       to every worker once. Needs the `cluster` extra:
                                       pip install 'qsim[cluster]' (dask + distributed)
"""
import os
import pickle

from ..errors import ArgumentError, QsimError

ONE_THREAD_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                  "MKL_NUM_THREADS": "1"}
_CTX = None


def _evaluate_one(ctx, cand):
    from .evaluate import evaluate, one_thread
    with one_thread():
        return evaluate(ctx, cand)


class SerialExecutor:
    name = "serial"

    def __init__(self, ctx):
        self.ctx = ctx

    def run(self, candidates):
        for c in candidates:
            yield c, _evaluate_one(self.ctx, c)

    def close(self):
        pass


def _init_worker(blob):
    """Process-pool initializer: one thread for every library, before numba is imported."""
    os.environ.update(ONE_THREAD_ENV)
    global _CTX
    _CTX = pickle.loads(blob)


def _worker_evaluate(cand):
    return _evaluate_one(_CTX, cand)


class ProcessExecutor:
    name = "processes"

    def __init__(self, ctx, workers):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self.workers = workers
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_worker,
                                        initargs=(pickle.dumps(ctx, protocol=pickle.HIGHEST_PROTOCOL),))

    def run(self, candidates):
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool
        futures = {self.pool.submit(_worker_evaluate, c): c for c in candidates}
        try:
            for f in as_completed(futures):
                try:
                    rec = f.result()
                except BrokenProcessPool as e:
                    raise QsimError(f"a worker process died ({e}); the records written so far "
                                    "are kept. help: run the same command again to resume, with "
                                    "fewer --workers if memory is short") from None
                yield futures[f], rec
        finally:
            for f in futures:
                f.cancel()

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


def _dask_evaluate(ctx, cand):
    return _evaluate_one(ctx, cand)


def require_dask():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ArgumentError("--scheduler needs Dask distributed, which is not installed. help: "
                            "pip install 'qsim[cluster]' (or pip install dask distributed), or "
                            "run without --scheduler (local worker processes)") from None


class DaskExecutor:
    name = "dask"

    def __init__(self, ctx, address, timeout=10):
        require_dask()
        from distributed import Client
        try:
            self.client = Client(address, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise ArgumentError(f"--scheduler {address}: cannot connect to a Dask scheduler "
                                f"({type(e).__name__}: {e}). help: start one (`dask scheduler`, "
                                "then `dask worker ADDRESS` on each machine) and pass its "
                                "address, e.g. tcp://host:8786") from None
        self.ctx_future = self.client.scatter(ctx, broadcast=True, hash=False)

    def run(self, candidates):
        from distributed import as_completed
        futures = {}
        for c in candidates:
            f = self.client.submit(_dask_evaluate, self.ctx_future, c, pure=False)
            futures[f] = c
        try:
            for f in as_completed(list(futures)):
                try:
                    rec = f.result()
                except (QsimError, KeyboardInterrupt):
                    raise
                except Exception as e:     # the cluster's failures (KilledWorker, lost connection)
                    raise QsimError(f"Dask: {type(e).__name__}: {e}; the records written so far "
                                    "are kept. help: check the cluster and run the same command "
                                    "again to resume") from None
                yield futures[f], rec
        finally:
            for f in futures:
                f.cancel()

    def close(self):
        self.client.close()


def make_executor(ctx, workers=1, scheduler=None):
    if scheduler:
        return DaskExecutor(ctx, scheduler)
    if workers > 1:
        return ProcessExecutor(ctx, workers)
    return SerialExecutor(ctx)
