"""Run independent training jobs in worker processes (forked, so they share the loaded data).

Each job keeps one thread (LightFM is only deterministic on one thread; numpy's BLAS is limited
to one too, so two workers do not fight over two cores), and a job gives the same result in a
worker as in this process: parallelism changes how long training takes, never what it produces.

Workers die with the run that started them: on Linux each asks the kernel for SIGKILL when its
parent dies (prctl PR_SET_PDEATHSIG, so `kill -9` of the run or the OOM killer leaves no orphan),
and an error or a signal in the parent (SIGTERM's SystemExit, Ctrl-C) kills them at once rather
than waiting for their current job.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
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


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
KILL_WAIT_SECONDS = 5.0


def die_with_parent(parent: int) -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has.
    False where the kernel offers no such request (the parent's own clean-up still applies)."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    return armed


def _start_worker(parent: int) -> None:
    from threadpoolctl import threadpool_limits

    global _IN_WORKER
    _IN_WORKER = True
    die_with_parent(parent)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the run's handler: a SIGTERM ends it
    threadpool_limits(1)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL every worker of the pool and reap it (bounded): they hold nothing worth saving."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(KILL_WAIT_SECONDS)


def _run(number: int):
    return _JOBS[number]()


def run_jobs(jobs: Sequence[Callable[[], Any]], workers: int | None = 1) -> list:
    """Each job's result, in order. With more than one worker the jobs run in forked processes
    that inherit everything in memory (nothing but the results is pickled); the first error
    to happen is raised here at once, the other workers killed. Inside a worker, jobs run one
    after the other."""
    global _JOBS
    workers = min(resolve_workers(workers), len(jobs))
    if workers <= 1 or _IN_WORKER or _JOBS:
        return [job() for job in jobs]
    _JOBS = jobs
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_start_worker, initargs=(os.getpid(),))
    try:
        futures = [pool.submit(_run, number) for number in range(len(jobs))]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)  # the first error, at once
        failed = [future for future in futures if future in done and future.exception()]
        if failed:
            raise failed[0].exception()
        results = [future.result() for future in futures]
    except BaseException:  # a job's error, SIGTERM's SystemExit, Ctrl-C: stop the rest now
        _kill_workers(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)
        return results
    finally:
        _JOBS = ()
