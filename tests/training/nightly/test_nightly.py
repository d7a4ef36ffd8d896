"""The nightly job with tiny injected stages: gate, validation, lock, kills, concurrent readers."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import nightly_factories as nf
import pytest
from click.testing import CliRunner
from matcher_factories import make_model_dir
from paths import TESTS

from matcher.cli import cli
from matcher.errors import ModelNotFoundError
from matcher.store import registry
from matcher.store.model import Model
from training.nightly import checks, job
from training.nightly.job import NightlyLock, NightlyOptions, gate, run_nightly, validate_data

FACTORIES = TESTS / "nightly_factories.py"
ROOT = FACTORIES.parent.parent


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("template") / "model")


def read_report(result: job.NightlyResult) -> dict:
    return json.loads(result.report_path.read_text())


def good_run(tmp_path: Path, template: Path, rows: int = 100, **train) -> job.NightlyResult:
    source = nf.write_source(tmp_path / "partnerships.csv", rows)
    return run_nightly(nf.options(tmp_path, source), nf.stages(template, **train))


# ---------------------------------------------------------------- gate and validation (pure)


def test_gate_requires_beating_every_baseline_on_both_splits():
    assert gate(nf.metrics(0.5, 0.3), None, 0.01)["promote"]
    decision = gate(nf.metrics(0.5, 0.05), None, 0.01)
    assert not decision["promote"]
    assert len(decision["reasons"]) == 4  # cold model ties (does not beat) each cold baseline
    assert all("recall@10 0.0500 vs" in reason for reason in decision["reasons"])


def test_gate_tolerance_against_current():
    current = nf.metrics(0.5, 0.3)
    assert gate(nf.metrics(0.49, 0.29), current, 0.01)["promote"]
    decision = gate(nf.metrics(0.48, 0.3), current, 0.01)
    assert decision["reasons"] == ["recall@10 0.4800 vs current 0.5 (tolerance 0.01)"]
    assert gate(nf.metrics(0.48, 0.3), current, 0.05)["promote"]


def test_gate_refuses_malformed_metrics():
    decision = gate({"warm": {"model": {"recall@10": 0.5}}}, None, 0.01)
    assert not decision["promote"]
    assert "candidate metrics have no warm baselines" in decision["reasons"]
    assert "candidate metrics have no cold model recall@10" in decision["reasons"]


def snapshot(count: int, rate: float, columns=("city_a", "city_b")) -> dict:
    report = {"unique_partnerships": count, "resolution_rate": rate}
    return {"report": report, "columns": {"partnerships": list(columns), "cities": ["geonameid"]}}


def test_validate_data_rules():
    opts = NightlyOptions()
    ref = snapshot(1000, 0.90)
    assert validate_data(snapshot(1000, 0.90), ref, opts) == []
    assert validate_data(snapshot(801, 0.851), ref, opts) == []
    assert validate_data(snapshot(799, 0.90), ref, opts) == [
        "partnerships fell from 1000 to 799 (20%, more than 20%)"]
    assert validate_data(snapshot(1000, 0.849), ref, opts) == [
        "resolution rate fell from 90.0% to 84.9% (more than 5 points)"]
    assert validate_data(snapshot(1000, 0.9, ("city_a", "w")), ref, opts) == [
        "schema change in partnerships: added ['w'], removed ['city_b']"]
    assert validate_data(snapshot(0, 0.9), None, opts) == ["the data has no resolved partnerships"]
    accepting = NightlyOptions(accept_data_change=True)
    assert validate_data(snapshot(10, 0.1, ("x",)), ref, accepting) == []


# ---------------------------------------------------------------- whole runs, in-process


def test_first_run_promotes_and_reports(tmp_path, template):
    result = good_run(tmp_path, template)
    assert result.exit_code == 0, result.message
    models = tmp_path / "models"
    current = registry.current_model_dir(models)
    Model.load(current)
    report = read_report(result)
    assert report["decision"] == "promoted" and report["exit_code"] == 0
    assert report["version"] == current.name
    names = [stage["name"] for stage in report["stages"]]
    assert names == ["cleanup", "check_sources", "build_data", "validate", "train", "verify",
                     "gate", "promote", "prune"]
    assert all(stage["status"] == "ok" and stage["seconds"] >= 0 for stage in report["stages"])
    assert report["data"]["unique_partnerships"] == 100
    assert report["metrics"]["current"] is None
    assert report["metrics"]["candidate"]["warm"]["model"]["recall@10"] == 0.5
    assert (tmp_path / "data" / "processed" / "partnerships.parquet").exists()
    assert not (tmp_path / "data" / "nightly" / report["run_id"]).exists()
    last_good = json.loads((models / "runs" / "last_good_data.json").read_text())
    assert last_good["run_id"] == report["run_id"]
    assert not list(models.glob(".tmp-*"))


def test_same_config_compares_with_the_current_models_recorded_metrics(tmp_path, template):
    assert good_run(tmp_path, template).exit_code == 0
    version = registry.current_version(tmp_path / "models")
    calls = []
    stages = nf.stages(template)
    stages = replace(stages, evaluate_current=lambda *args: calls.append(args) or {})
    result = run_nightly(nf.options(tmp_path, tmp_path / "partnerships.csv"), stages)
    assert result.exit_code == 0 and calls == []
    report = read_report(result)
    assert report["metrics"]["current"]["source"] == f"recorded: {version}/metrics.json"
    assert report["metrics"]["current"]["warm"]["model"]["recall@10"] == 0.5
    assert report["lists"]["share_changed"] == 0.0 and report["lists"]["cities"] == 20
    names = [stage["name"] for stage in report["stages"]]
    assert names[names.index("verify"):] == ["verify", "evaluate_current", "compare_lists",
                                             "gate", "promote", "prune"]


def test_regression_a_degraded_candidate_with_the_same_config_is_rejected(tmp_path, template):
    """Bug: with the config unchanged the current model was never evaluated and the candidate
    was compared with itself (0.16379 vs 0.16379), so a candidate that beat the baselines but
    was clearly worse than the current model was promoted."""
    assert good_run(tmp_path, template, warm=0.5, cold=0.3).exit_code == 0
    models = tmp_path / "models"
    version = registry.current_version(models)
    result = good_run(tmp_path, template, warm=0.3, cold=0.2)  # beats the 0.05 baselines
    assert result.exit_code == job.EXIT_KEPT, result.message
    assert result.message == ("recall@10 0.3000 vs current 0.5 (tolerance 0.01); "
                              "recall@10 0.2000 vs current 0.3 (tolerance 0.01)")
    assert registry.current_version(models) == version


def test_regression_a_candidate_whose_lists_all_changed_is_rejected(tmp_path, template):
    """Bug: nothing compared the lists the candidate would serve with the current ones."""
    assert good_run(tmp_path, template).exit_code == 0
    version = registry.current_version(tmp_path / "models")
    result = good_run(tmp_path, template, shuffle_lists=True)
    assert result.exit_code == job.EXIT_KEPT, result.message
    lists = read_report(result)["lists"]
    assert lists["share_changed"] > 0.5
    assert result.message == (f"top 10 changed for {lists['share_changed']:.1%} of 20 sampled "
                              "cities (at most 50%)")
    assert registry.current_version(tmp_path / "models") == version
    relaxed = run_nightly(nf.options(tmp_path, tmp_path / "partnerships.csv",
                                     max_list_change=1.0),
                          nf.stages(template, shuffle_lists=True))
    assert relaxed.exit_code == 0, relaxed.message


def test_list_change_counts_cities_whose_set_differs():
    before = [{1, 2}, {3, 4}, {5, 6}]
    after = [{2, 1}, {3, 7}, {8, 9}]
    change = checks.list_change(before, after, [10, 20, 30])
    assert change == {"cities": 3, "changed": 2, "share_changed": 2 / 3, "mean_overlap": 0.5,
                      "depth": 10, "examples": [20, 30]}


def test_worse_candidate_is_rejected_and_kept(tmp_path, template):
    first = good_run(tmp_path, template, warm=0.5, cold=0.3, variant="good")
    models = tmp_path / "models"
    version = registry.current_version(models)
    result = good_run(tmp_path, template, warm=0.45, cold=0.3, variant="worse")
    assert result.exit_code == job.EXIT_KEPT
    assert registry.current_version(models) == version
    report = read_report(result)
    assert report["decision"] == "kept_current"
    assert report["metrics"]["current"]["warm"]["model"]["recall@10"] == 0.5
    rejected = Path(report["rejected_path"])
    assert rejected.parent == models / "rejected"
    rejection = json.loads((rejected / "rejection.json").read_text())
    assert rejection["gate"]["reasons"] == ["recall@10 0.4500 vs current 0.5 (tolerance 0.01)"]
    assert (rejected / "user_embeddings.npy").exists()
    assert [v.version for v in registry.list_versions(models)] == [version]
    assert read_report(first)["version"] == version


def test_candidate_within_tolerance_is_promoted(tmp_path, template):
    good_run(tmp_path, template, warm=0.5, cold=0.3, variant="a")
    result = good_run(tmp_path, template, warm=0.495, cold=0.295, variant="b")
    assert result.exit_code == 0
    assert len(registry.list_versions(tmp_path / "models")) == 2


def test_first_candidate_must_beat_baselines(tmp_path, template):
    result = good_run(tmp_path, template, warm=0.04, cold=0.3)
    assert result.exit_code == job.EXIT_KEPT
    with pytest.raises(ModelNotFoundError):
        registry.current_model_dir(tmp_path / "models")


def test_corrupt_input_is_refused_and_current_kept(tmp_path, template):
    good_run(tmp_path, template)
    models = tmp_path / "models"
    version = registry.current_version(models)
    source = tmp_path / "partnerships.csv"
    source.write_text(source.read_text()[:200] + "\nA99,KR,B99,GB\n")  # a short row
    result = run_nightly(nf.options(tmp_path, source), nf.stages(template))
    assert result.exit_code == job.EXIT_REFUSED
    assert f"{source}: row 14 has 2 fields, expected 4" in result.message
    report = read_report(result)
    assert report["decision"] == "refused"
    assert report["stages"][-1] == {**report["stages"][-1], "name": "build_data",
                                    "status": "failed"}
    assert registry.current_version(models) == version
    assert not (models / "rejected").exists()


def test_regression_truncated_source_is_refused(tmp_path, template):
    """Bug: the first 95% of the snapshot's bytes (cut mid-line) trained and promoted; the cut
    line was one malformed_row among thousands."""
    good_run(tmp_path, template, lenient=True)
    models = tmp_path / "models"
    version = registry.current_version(models)
    source = tmp_path / "partnerships.csv"
    data = source.read_bytes()
    source.write_bytes(data[:data.rindex(b",KR", 0, int(len(data) * 0.95)) + 2])  # "A94,K"
    assert not source.read_bytes().endswith(b"\n")
    result = run_nightly(nf.options(tmp_path, source), nf.stages(template, lenient=True))
    assert result.exit_code == job.EXIT_REFUSED, result.message
    assert result.message.startswith(f"source {source} looks truncated: its last line (line 96, ")
    assert "has no line ending and 2 of the header's 4 fields" in result.message
    assert registry.current_version(models) == version


def test_regression_rows_cut_at_a_line_end_are_refused_by_the_row_count(tmp_path, template):
    """Bug: a snapshot cut at a line end lost 5% of its rows, under the 20% partnership
    tolerance, and was promoted."""
    good_run(tmp_path, template, lenient=True)
    source = nf.write_source(tmp_path / "cut.csv", 95)
    result = run_nightly(nf.options(tmp_path, source), nf.stages(template, lenient=True))
    assert result.exit_code == job.EXIT_REFUSED, result.message
    assert result.message == ("input rows fell from 100 to 95 (5.0%, more than 2%): a truncated "
                              "or partial export?")


def test_last_line_without_newline_that_parses_is_accepted(tmp_path, template):
    source = nf.write_source(tmp_path / "partnerships.csv", 100)
    source.write_bytes(source.read_bytes().rstrip(b"\n"))
    result = run_nightly(nf.options(tmp_path, source), nf.stages(template, lenient=True))
    assert result.exit_code == 0, result.message
    assert read_report(result)["sources"][0]["rows"] == 100


@pytest.mark.parametrize("content,why", [("", "is empty"),
                                         ("city_1,country_1,city_2,country_2\n", "no data rows")])
def test_empty_source_is_refused(tmp_path, template, content, why):
    source = tmp_path / "partnerships.csv"
    source.write_text(content)
    result = run_nightly(nf.options(tmp_path, source), nf.stages(template))
    assert result.exit_code == job.EXIT_REFUSED
    assert why in result.message


@pytest.mark.parametrize("rows,unresolved,extra,why", [
    (70, 0, False, "partnerships fell from 100 to 70"),
    (100, 10, False, "resolution rate fell from 100.0% to 90.0%"),
    (100, 0, True, "schema change in partnerships: added ['extra']"),
])
def test_drift_against_last_good_run_is_refused(tmp_path, template, rows, unresolved, extra, why):
    good_run(tmp_path, template)
    version = registry.current_version(tmp_path / "models")
    source = nf.write_source(tmp_path / "next.csv", rows, unresolved, extra)
    result = run_nightly(nf.options(tmp_path, source), nf.stages(template))
    assert result.exit_code == job.EXIT_REFUSED
    assert why in result.message
    assert read_report(result)["validation"]["reasons"] == result.message.split("; ")
    assert registry.current_version(tmp_path / "models") == version
    accepted = run_nightly(nf.options(tmp_path, source, accept_data_change=True),
                           nf.stages(template))
    assert accepted.exit_code == 0


def test_candidate_that_does_not_load_is_never_promoted(tmp_path, template):
    good_run(tmp_path, template)
    models = tmp_path / "models"
    version = registry.current_version(models)
    stages = nf.stages(template, variant="broken")
    broken = replace(stages, train=lambda processed, out: (
        stages.train(processed, out), (out / "graph.npz").write_bytes(b"not a matrix"))[0])
    result = run_nightly(nf.options(tmp_path, tmp_path / "partnerships.csv"), broken)
    assert result.exit_code == job.EXIT_FAILED
    assert "graph.npz" in result.message
    assert read_report(result)["stages"][-1] == {**read_report(result)["stages"][-1],
                                                 "name": "verify", "status": "failed"}
    assert registry.current_version(models) == version
    assert not list(models.glob(".tmp-*"))


def test_stage_failure_exits_1_and_cleans_up(tmp_path, template):
    good_run(tmp_path, template)
    models = tmp_path / "models"
    version = registry.current_version(models)
    result = good_run(tmp_path, template, fail=True)
    assert result.exit_code == job.EXIT_FAILED
    assert result.message == "RuntimeError: training diverged"
    assert "RuntimeError" in read_report(result)["traceback"]
    assert registry.current_version(models) == version
    assert not list(models.glob(".tmp-*"))


def test_prune_keeps_last_n_versions(tmp_path, template):
    source = nf.write_source(tmp_path / "partnerships.csv", 100)
    for _ in range(4):
        result = run_nightly(nf.options(tmp_path, source, keep=2), nf.stages(template))
        assert result.exit_code == 0
    versions = registry.list_versions(tmp_path / "models")
    assert len(versions) == 2 and versions[-1].is_current
    assert len(read_report(result)["pruned"]["versions"]) == 1


def invoke_nightly(tmp_path: Path, template: Path, monkeypatch, **train):
    monkeypatch.setattr(job, "NightlyStages", lambda: nf.stages(template, **train))
    args = ["nightly", "--partnerships", str(tmp_path / "partnerships.csv"),
            "--models-dir", str(tmp_path / "models"), "--data-dir", str(tmp_path / "data")]
    return CliRunner().invoke(cli, args)


def one_error_line(result) -> str:
    """The run's only error line; no traceback, a clean exit 1 (not an escaped exception)."""
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize("code,what", [(errno.EROFS, "the file system is read-only"),
                                       (errno.ENOSPC, "the disk is full")])
def test_regression_full_or_read_only_models_dir_is_one_error_line(tmp_path, template,
                                                                   monkeypatch, code, what):
    """Bug: a full models/ gave a 60-line traceback and a report left `running`; a read-only
    one a 36-line traceback (EROFS opening the lock)."""
    assert good_run(tmp_path, template).exit_code == 0
    models = tmp_path / "models"
    version = registry.current_version(models)
    nf.fail_writes_under(monkeypatch, models, code)
    line = one_error_line(invoke_nightly(tmp_path, template, monkeypatch))
    assert line.startswith(f"Error: nightly run failed: cannot write {models}")
    assert f"{what} ({os.strerror(code)}); the current model ({version}) is kept;" in line
    assert "report not saved: " in line
    monkeypatch.undo()
    assert registry.current_version(models) == version
    Model.load(registry.current_model_dir(models))


def test_regression_disk_full_in_training_names_it_and_saves_the_report(tmp_path, template,
                                                                        monkeypatch):
    """Bug: ENOSPC while writing the candidate gave "OSError: [Errno 28] ..." and no hint."""
    assert good_run(tmp_path, template).exit_code == 0
    models = tmp_path / "models"
    version = registry.current_version(models)
    staging_full = nf.FakeTrain(template)

    def train(processed: Path, out: Path) -> dict:
        staging_full(processed, out)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / "geo.npz"))

    monkeypatch.setattr(job, "NightlyStages",
                        lambda: replace(nf.stages(template), train=train))
    args = ["nightly", "--partnerships", str(tmp_path / "partnerships.csv"),
            "--models-dir", str(models), "--data-dir", str(tmp_path / "data")]
    line = one_error_line(CliRunner().invoke(cli, args))
    assert "/geo.npz: the disk is full (No space left on device); the current model" in line
    path = Path(line.rsplit("(report: ", 1)[1].rstrip(")"))
    report = json.loads(path.read_text())
    assert report["status"] == "done" and report["exit_code"] == 1
    assert report["stages"][-1]["name"] == "train" and report["stages"][-1]["status"] == "failed"
    assert registry.current_version(models) == version
    assert not list(models.glob(".tmp-*"))


def test_regression_numpys_full_disk_error_without_errno_is_named(tmp_path, template,
                                                                  monkeypatch):
    """Bug: on a real full models/ (a 100 MB tmpfs) numpy's writer raised OSError("4121002
    requested and 1534944 written") with no errno, reported as a bare OSError."""
    assert good_run(tmp_path, template).exit_code == 0
    models = tmp_path / "models"
    version = registry.current_version(models)

    def train(processed: Path, out: Path) -> dict:
        raise OSError("4121002 requested and 1534944 written")

    full = shutil.disk_usage(models)._replace(free=1024)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: full)
    result = run_nightly(nf.options(tmp_path, tmp_path / "partnerships.csv"),
                         replace(nf.stages(template), train=train))
    assert result.exit_code == job.EXIT_FAILED
    assert result.message == (f"cannot write {models}/: the disk is full (4121002 requested and "
                              f"1534944 written); the current model ({version}) is kept; free "
                              "space or fix the mount and run again")


def test_held_lock_exits_4_with_message(tmp_path, template):
    lock = NightlyLock(tmp_path / "models" / job.LOCK_FILE).acquire()
    try:
        result = good_run(tmp_path, template)
    finally:
        lock.release()
    assert result.exit_code == job.EXIT_LOCKED
    assert result.message.startswith(f"another nightly run is in progress (pid {os.getpid()},")
    assert read_report(result)["decision"] == "locked"


# ---------------------------------------------------------------- real processes


def start_hanging_run(tmp_path: Path, template: Path, mode: str,
                      wait_for: list[Path] | None = None) -> tuple[subprocess.Popen, Path]:
    marker = tmp_path / f"marker-{mode}"
    source = tmp_path / "partnerships.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(FACTORIES.parent)])}
    process = subprocess.Popen(
        [sys.executable, str(FACTORIES), str(tmp_path), str(source), str(template), str(marker),
         mode], env=env)
    deadline = time.monotonic() + 30
    while not all(path.exists() and path.read_text() for path in wait_for or [marker]):
        assert process.poll() is None, "the hanging run exited early"
        assert time.monotonic() < deadline, "the hanging run never reached its stage"
        time.sleep(0.05)
    return process, marker


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.parametrize("mode", ["train", "install", "symlink"])
def test_sigkill_leaves_a_complete_current_and_next_run_recovers(tmp_path, template, mode):
    assert good_run(tmp_path, template).exit_code == 0
    models = tmp_path / "models"
    before = registry.current_version(models)
    process, _marker = start_hanging_run(tmp_path, template, mode)
    second = good_run(tmp_path, template)  # concurrent run: refused by the lock
    assert second.exit_code == job.EXIT_LOCKED
    assert f"pid {process.pid}" in second.message
    kill(process)
    assert registry.current_version(models) == before
    Model.load(registry.current_model_dir(models))
    leftovers = [p.name for p in models.iterdir() if p.name.startswith((".tmp-", "current.tmp-"))]
    assert leftovers if mode != "install" else not leftovers
    recovered = good_run(tmp_path, template)
    assert recovered.exit_code == 0, recovered.message
    report = read_report(recovered)
    assert report["stale_lock_pid"] == process.pid
    assert sorted(report["cleaned"]) == sorted(leftovers)
    assert len(report["interrupted_runs"]) == 1
    assert registry.current_version(models) not in (before, None)
    Model.load(registry.current_model_dir(models))
    assert not [p for p in models.iterdir() if p.name.startswith((".tmp-", "current.tmp-"))]


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for a PID 1 that never reaps)."""
    return registry.pid_alive(pid)


def wait_until_gone(pids: list[int], seconds: float = 10.0) -> list[int]:
    """The pids still running after up to `seconds` (polled)."""
    deadline = time.monotonic() + seconds
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if running(pid)]


def start_run_hanging_in_workers(tmp_path: Path, template: Path) -> tuple[subprocess.Popen,
                                                                          list[int]]:
    """After a first promoted run, a run whose training hangs in 2 workers; it and their pids."""
    assert good_run(tmp_path, template).exit_code == 0
    marker = tmp_path / "marker-workers"
    workers = [nf.worker_marker(marker, i) for i in (0, 1)]
    process, _ = start_hanging_run(tmp_path, template, "workers", wait_for=workers)
    return process, [int(path.read_text()) for path in workers]


def test_regression_training_workers_die_with_a_killed_run_and_do_not_hold_the_lock(
        tmp_path, template):
    """Bug: training's forked workers inherited the open .nightly.lock; after `kill -9` of the
    run two of them lived on under PID 1, holding the lock, and every later run exited 4."""
    process, pids = start_run_hanging_in_workers(tmp_path, template)
    try:
        assert process.pid not in pids
        kill(process)
        assert wait_until_gone(pids) == []
        recovered = good_run(tmp_path, template)
        assert recovered.exit_code == 0, recovered.message
        assert read_report(recovered)["stale_lock_pid"] == process.pid
    finally:
        for pid in pids:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_regression_sigterm_stops_training_workers_within_seconds(tmp_path, template):
    """Bug: SIGTERM waited for the workers' current LightFM fits (21-40 s) and left them running."""
    process, pids = start_run_hanging_in_workers(tmp_path, template)
    try:
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 128 + signal.SIGTERM
        assert time.monotonic() - started < 8
        assert wait_until_gone(pids, 2) == []
        assert not list((tmp_path / "models").glob(".tmp-*"))
    finally:
        for pid in [process.pid, *pids]:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_regression_a_dead_runs_lock_is_taken_over_while_its_orphans_hold_it(tmp_path, template):
    """Bug: a stale lock was only taken over once every process holding the lock file was
    gone; orphans of a killed run (left by older versions) blocked every run with exit 4."""
    assert good_run(tmp_path, template).exit_code == 0
    marker = tmp_path / "marker-orphan"
    child_marker = marker.with_name(f"{marker.name}.child")
    process, _ = start_hanging_run(tmp_path, template, "orphan", wait_for=[marker, child_marker])
    child = int(child_marker.read_text())
    try:
        kill(process)
        assert running(child)  # the orphan lives on, holding the old lock file's flock
        recovered = good_run(tmp_path, template)
        assert recovered.exit_code == 0, recovered.message
        report = read_report(recovered)
        assert report["stale_lock_pid"] == process.pid and report["stale_lock_replaced"]
        again = NightlyLock(tmp_path / "models" / job.LOCK_FILE).acquire()  # no leak
        again.release()
    finally:
        if running(child):
            os.kill(child, signal.SIGKILL)


def assert_model_and_data_match(tmp_path: Path, before: str, killed_rows: int) -> str:
    """After a kill and a repair: a whole current model, the data it was built from in
    data/processed, no version that was never promoted listed, no leftovers."""
    models, data = tmp_path / "models", tmp_path / "data"
    now = registry.current_version(models)
    Model.load(registry.current_model_dir(models), verify=True)
    rows = json.loads((data / "processed" / "report.json").read_text())["rows_in"]
    assert rows == (100 if now == before else killed_rows), (now, before, rows)
    assert {info.version for info in registry.list_versions(models)} == {before, now}
    assert not [path.name for path in data.iterdir() if path.name.startswith(".processed")]
    assert not [path.name for path in models.iterdir()
                if path.name.startswith((".tmp-", "current.tmp-", ".promotion"))]
    return now


def test_regression_a_kill_after_any_promotion_step_is_repaired_by_the_next_run(tmp_path,
                                                                                template):
    """Bug: killed right after the `current` switch, models/current was the new model while
    data/processed held the old data; killed after data/processed was renamed aside, it was
    missing and data/.processed.old-PID stayed forever; a version renamed in but never
    promoted stayed listed as a normal version. Each filesystem step of the promotion is a
    kill point: after the kill, the next run (refused here, so only its repair acts) must
    leave model and data matching."""
    checks.list_stability(template, template)  # warm up once, not in every child
    steps, step, outcomes = None, 0, []
    while steps is None or step < steps:
        step += 1
        root = tmp_path / f"kill-{step}"
        root.mkdir()
        assert good_run(root, template, rows=100).exit_code == 0
        before = registry.current_version(root / "models")
        source = nf.write_source(root / "next.csv", 99)
        log_path = root / "steps.log"
        code = nf.run_killed_in_child(root, source, template, step, log_path)
        log = log_path.read_text() if log_path.exists() else ""
        if code == 0:  # ran past its last step: the number of kill points is known
            steps = len(log.splitlines())
            break
        assert code == 137, log
        refused = run_nightly(nf.options(root, root / "missing.csv"), nf.stages(template))
        assert refused.exit_code == job.EXIT_REFUSED, refused.message
        now = assert_model_and_data_match(root, before, 99)
        outcomes.append((log.splitlines()[-1], now != before))
        assert step < 40, "the promotion never finished"
    assert steps == step - 1 and len(outcomes) == steps >= 8
    assert [promoted for _, promoted in outcomes].count(False) >= 3  # killed before the switch
    assert outcomes[-1][1]  # killed after it


READER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from matcher.store import registry
    models, seconds = Path(sys.argv[1]), float(sys.argv[2])
    reads, errors, seen = 0, [], set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            current = registry.current_model_dir(models)
            json.loads((current / "metrics.json").read_text())
            (current / "user_embeddings.npy").read_bytes()
            seen.add(current.name)
            reads += 1
        except Exception as error:
            errors.append(repr(error))
    print(json.dumps({"reads": reads, "errors": errors[:5], "versions": len(seen)}))
""")


def test_readers_never_see_a_missing_or_partial_model(tmp_path, template):
    models = tmp_path / "models"
    registry.publish(make_staging_copy(models, template, 0), models)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(models), "3"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    published = 0
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        registry.publish(make_staging_copy(models, template, published + 1), models)
        registry.prune(models, keep=5)
        published += 1
    out, _ = reader.communicate(timeout=30)
    result = json.loads(out)
    assert result["errors"] == []
    assert result["reads"] > 100 and result["versions"] > 1 and published > 5


def make_staging_copy(models: Path, template: Path, tag: int) -> Path:
    staging = registry.staging_dir(models, f"r{tag}")
    for path in template.iterdir():
        (staging / path.name).write_bytes(path.read_bytes())
    return staging


# ---------------------------------------------------------------- the command


def test_cli_help_documents_exit_codes():
    result = CliRunner().invoke(cli, ["nightly", "--help"])
    assert result.exit_code == 0
    for line in ("0  candidate promoted", "10  current model kept", "3  new data refused",
                 "4  another nightly run holds the lock", "1  the run failed"):
        assert line in result.output


def test_cli_exit_codes(tmp_path, template, monkeypatch):
    monkeypatch.setattr(job, "NightlyStages", lambda: nf.stages(template))
    source = nf.write_source(tmp_path / "partnerships.csv", 100)
    args = ["nightly", "--partnerships", str(source), "--models-dir", str(tmp_path / "models"),
            "--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("promoted: models/current -> ")
    missing = ["nightly", *args[1:2], str(tmp_path / "nope.csv"), *args[3:]]
    result = runner.invoke(cli, missing)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1].startswith(
        f"Error: new data refused, current model kept: source {tmp_path / 'nope.csv'} "
        "does not exist; check the path or the job that writes it (report: ")
    monkeypatch.setattr(job, "NightlyStages",
                        lambda: nf.stages(template, warm=0.1, variant="worse"))
    result = runner.invoke(cli, args)
    assert result.exit_code == 10
    assert result.stdout.startswith("kept the current model, candidate rejected: recall@10 0.1")
    lock = NightlyLock(tmp_path / "models" / job.LOCK_FILE).acquire()
    try:
        result = runner.invoke(cli, args)
    finally:
        lock.release()
    assert result.exit_code == 4
    assert "Error: another nightly run is in progress" in result.stderr


def test_sigterm_cleans_up_and_reports_interrupted(tmp_path, template):
    assert good_run(tmp_path, template).exit_code == 0
    models = tmp_path / "models"
    before = registry.current_version(models)
    process, _marker = start_hanging_run(tmp_path, template, "train")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 128 + signal.SIGTERM
    assert registry.current_version(models) == before
    assert not list(models.glob(".tmp-*"))
    reports = [json.loads(p.read_text()) for p in (models / "runs").glob("2*.json")]
    interrupted = [r for r in reports if r["pid"] == process.pid]
    assert interrupted[0]["status"] == "interrupted"
    assert interrupted[0]["stages"][-1]["name"] == "train"
    recovered = good_run(tmp_path, template)
    assert recovered.exit_code == 0
    assert "stale_lock_pid" not in read_report(recovered)


def test_regression_gate_compares_with_baselines_not_ablations():
    """Bug: the gate compared the model with every other row of metrics.json, ablations
    included, and refused a good candidate on the real snapshot because the re-ranker without
    LightFM scored 0.0026 higher on warm recall@10 (within the seed spread)."""
    metrics = nf.metrics(0.15, 0.05, baseline=0.02)
    for split in ("warm", "cold"):
        metrics[split]["rerank without lightfm"] = {"recall@10": 0.16, "queries": 10}
        metrics[split]["lightfm alone"] = {"recall@10": 0.04, "queries": 10}
    decision = gate(metrics, None, 0.01)
    assert decision["promote"], decision["reasons"]
    assert not any("without lightfm" in check["check"] for check in decision["checks"])


def test_the_nightly_build_passes_its_open_data_folder(tmp_path, monkeypatch):
    """Regression: the nightly data build ignored the open data, so a promoted model lacked the
    open features that `make data` builds."""
    from training.data import build as build_module
    from training.data.build import DataReport

    seen = {}

    def fake_build(*args, **kwargs):
        seen.update(kwargs)
        return DataReport(0, 0, 0.0, 0, 0, 0, 0.0, {}, {}, {})

    monkeypatch.setattr(build_module, "build_data", fake_build)
    options = job.NightlyOptions(partnership_files=(tmp_path / "s.csv",),
                                     open_data=tmp_path / "open")
    job.build_data_stage(options, tmp_path / "out")
    assert seen["open_data"] == tmp_path / "open"
