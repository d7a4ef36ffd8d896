"""Parallel training: worker processes change how long it takes, never what it produces."""

from __future__ import annotations

import filecmp
import os
import time

import pytest

from matcher.errors import InputError
from training.model import parallel
from training.model.dataset import load_training_data
from training.model.evaluate import holdout_evaluation
from training.model.train import train_model

needs_fork = pytest.mark.skipif(not parallel.fork_available(), reason="no fork on this platform")


def _pid() -> int:
    return os.getpid()


def _nested() -> list:
    return parallel.run_jobs([_pid, _pid], workers=2)


@needs_fork
def test_jobs_run_in_workers_and_results_keep_their_order():
    results = parallel.run_jobs([lambda n=n: n * n for n in range(7)], workers=2)
    assert results == [n * n for n in range(7)]
    assert os.getpid() not in parallel.run_jobs([_pid, _pid, _pid], workers=2)


@needs_fork
def test_jobs_started_inside_a_worker_run_there_one_after_the_other():
    nested = parallel.run_jobs([_nested, _nested], workers=2)
    for pids in nested:
        assert len(set(pids)) == 1 and os.getpid() not in pids


def test_one_worker_runs_in_this_process():
    assert parallel.run_jobs([_pid, _pid], workers=1) == [os.getpid()] * 2


@needs_fork
def test_a_failing_job_raises_its_error_here():
    def fail():
        raise ValueError("job failed")

    with pytest.raises(ValueError, match="job failed"):
        parallel.run_jobs([_pid, fail], workers=2)


def _sleep_then_pid() -> int:
    time.sleep(20)
    return os.getpid()


def _fail_soon() -> None:
    time.sleep(0.2)
    raise ValueError("job failed")


@needs_fork
def test_regression_a_failing_job_stops_the_other_workers_at_once():
    """Bug: an error (or SIGTERM's SystemExit) in the parent waited for every worker's
    current job (a 21-40 s LightFM fit) before it was raised."""
    started = time.monotonic()
    with pytest.raises(ValueError, match="job failed"):
        parallel.run_jobs([_sleep_then_pid, _fail_soon], workers=2)
    assert time.monotonic() - started < 10


@needs_fork
def test_workers_ask_to_die_with_their_parent():
    assert parallel.run_jobs([_worker_pdeathsig, _worker_pdeathsig], workers=2) == \
        [int(parallel.signal.SIGKILL)] * 2


def _worker_pdeathsig() -> int:
    """The parent-death signal this worker asked the kernel for (prctl PR_GET_PDEATHSIG)."""
    import ctypes

    value = ctypes.c_int(0)
    ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0)  # PR_GET_PDEATHSIG
    return value.value


def test_worker_setting_is_checked(monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_ENV, "two")
    with pytest.raises(InputError, match="TWIN_WORKERS='two' is not a whole number"):
        parallel.default_workers()
    monkeypatch.setenv(parallel.WORKERS_ENV, "1")
    assert parallel.resolve_workers(None) == 1
    with pytest.raises(InputError, match="at least 1"):
        parallel.resolve_workers(0)


@needs_fork
def test_parallel_holdout_evaluation_equals_sequential(processed_dir, tiny_config):
    data = load_training_data(processed_dir)
    sequential = holdout_evaluation(data, tiny_config, seed=2, workers=1)
    assert holdout_evaluation(data, tiny_config, seed=2, workers=2) == sequential


@needs_fork
def test_parallel_training_writes_the_same_files_as_sequential(tmp_path, processed_dir,
                                                               tiny_config):
    first = train_model(processed_dir, tmp_path / "one", tiny_config, seeds=(0, 1),
                        progress=False, workers=1)
    second = train_model(processed_dir, tmp_path / "two", tiny_config, seeds=(0, 1),
                         progress=False, workers=2)
    names = sorted(path.name for path in first.out_dir.iterdir())
    assert names == sorted(path.name for path in second.out_dir.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(first.out_dir, second.out_dir, names,
                                           shallow=False)
    assert mismatch == [] and errors == [], mismatch + errors
