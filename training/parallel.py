"""Run independent training jobs in worker processes (forked, so they share the loaded data).

Each job keeps one thread (LightFM is only deterministic on one thread; numpy's BLAS is limited
to one too, so two workers do not fight over two cores), and a job gives the same result in a
worker as in this process: parallelism changes how long training takes, never what it produces.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from matcher.errors import InputError

WORKERS_ENV = "TWIN_WORKERS"
MAX_DEFAULT_WORKERS = 2

_JOBS: Sequence[Callable[[], Any]] = ()
_IN_WORKER = False


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def default_workers() -> int:
    """$TWIN_WORKERS if set, else min(2, CPU cores); 1 where processes cannot be forked."""
    value = os.environ.get(WORKERS_ENV)
    if value is not None:
        try:
            workers = int(value)
        except ValueError:
            raise InputError(f"{WORKERS_ENV}={value!r} is not a whole number of worker "
                             "processes") from None
        if workers < 1:
            raise InputError(f"{WORKERS_ENV}={value!r}: need at least 1 worker")
        return workers if fork_available() else 1
    if not fork_available():
        return 1
    return max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))


def resolve_workers(workers: int | None) -> int:
    """None: the default; otherwise `workers` (at least 1)."""
    if workers is None:
        return default_workers()
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    return workers if fork_available() else 1


def _start_worker() -> None:
    from threadpoolctl import threadpool_limits

    global _IN_WORKER
    _IN_WORKER = True
    threadpool_limits(1)


def _run(number: int):
    return _JOBS[number]()


def run_jobs(jobs: Sequence[Callable[[], Any]], workers: int | None = 1) -> list:
    """Each job's result, in order. With more than one worker the jobs run in forked processes
    that inherit everything in memory (nothing but the results is pickled); the first job's
    error is raised here. Inside a worker, jobs run one after the other."""
    global _JOBS
    workers = min(resolve_workers(workers), len(jobs))
    if workers <= 1 or _IN_WORKER or _JOBS:
        return [job() for job in jobs]
    _JOBS = jobs
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context,
                                 initializer=_start_worker) as pool:
            return list(pool.map(_run, range(len(jobs))))
    finally:
        _JOBS = ()
