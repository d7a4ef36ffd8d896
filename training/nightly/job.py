"""The nightly retraining job: orchestration only (the stages live in their own modules).

repair a half-done promotion -> check sources -> build data -> validate against the last
good run -> train a candidate -> verify it (hashes included) -> the current model's metrics
(recorded, or its config re-evaluated) and list stability -> gate -> promote model and data
in one step (training/nightly/promotion.py) or reject -> prune. One run at a time (training/
nightly_lock.py); every run writes models/runs/<run>.json. Exit codes: 0 promoted, 10
current kept by the gate, 3 data refused, 4 locked, 1 failed (143 when stopped by SIGTERM).

Processed data is built into <data-dir>/nightly/<run>/processed/ and moves into the model
version when promoted; <data-dir>/processed/ is a copy of models/current/processed/.
Refused or rejected runs keep their staging data for inspection (pruned to --keep).
"""

from __future__ import annotations

import logging
import shutil
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matcher import config
from matcher.errors import CitytwinError, DataError, InputError, LockError
from matcher.store import registry
from training.nightly import promotion
from training.nightly.checks import (
    check_sources,
    data_snapshot,
    gate,
    list_stability,
    validate_data,
)
from training.nightly.lock import LOCK_FILE, NightlyLock, now_iso
from training.nightly.options import NightlyOptions
from training.nightly.runs import (  # noqa: F401  (NightlyResult and DISK_ERRNOS: the API)
    DISK_ERRNOS,
    NightlyResult,
    RunRecord,
    disk_error_message,
    finish_run,
    mark_interrupted_runs,
    new_run_record,
    read_json,
)

EXIT_PROMOTED = 0
EXIT_FAILED = 1
EXIT_REFUSED = 3
EXIT_LOCKED = 4
EXIT_KEPT = 10

LAST_GOOD_FILE = "last_good_data.json"
NIGHTLY_DATA = "nightly"

log = logging.getLogger("citytwin.nightly")


# ---------------------------------------------------------------- default stages


def build_data_stage(options: NightlyOptions, out_dir: Path) -> dict:
    """Ingest, resolve and featurise the configured sources into out_dir; the data report."""
    from training.data.build import build_data

    report = build_data(
        list(options.partnership_files),
        out_dir,
        user_files=tuple(options.user_files),
        wikidata_files=tuple(options.wikidata_files),
        indicators=options.indicators,
        indicator_schema=options.indicator_schema,
        open_data=options.open_data,
    )
    return report.to_dict() if hasattr(report, "to_dict") else dict(report)


def train_stage(processed_dir: Path, out_dir: Path) -> dict:
    """Train a complete candidate model directory into out_dir; its metrics."""
    from training.model.train import train_model

    result = train_model(processed_dir, out_dir, progress=False)
    return dict(result.metrics)


def evaluate_current_stage(processed_dir: Path, current_dir: Path) -> dict:
    """Metrics of the current model's TrainConfig on the new data's splits (the candidate's)."""
    from training.model.evaluate import evaluate_config
    from training.model.fit import TrainConfig

    train_config = TrainConfig.from_dict(read_json(current_dir / "config.json"))
    return evaluate_config(processed_dir, train_config, seed=0)


def verify_stage(model_dir: Path) -> None:
    """Load the candidate as serving would, every file checked against its manifest hash
    (files, shapes, finite values, hashes); ModelLoadError if broken."""
    from matcher.store.model import Model

    Model.load(model_dir, verify=True)


@dataclass(frozen=True)
class NightlyStages:
    """The replaceable work of a run (tests substitute tiny or fault-injecting callables)."""

    build_data: Callable[[NightlyOptions, Path], dict] = build_data_stage
    train: Callable[[Path, Path], dict] = train_stage
    evaluate_current: Callable[[Path, Path], dict] = evaluate_current_stage
    verify: Callable[[Path], None] = verify_stage
    compare_lists: Callable[[Path, Path], dict] = list_stability
    publish: Callable[[Path, Path, str | None], Path] = promotion.install_and_switch


# ---------------------------------------------------------------- stages of a run


def prune_run_data(nightly_root: Path, keep: int) -> list[str]:
    """Keep the staging data of the newest `keep` runs only."""
    if not nightly_root.is_dir():
        return []
    runs = sorted(p for p in nightly_root.iterdir() if p.is_dir())
    removed = []
    for path in runs[: max(len(runs) - keep, 0)]:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


def exit_on_sigterm() -> None:
    """Turn SIGTERM (systemd stop, timeout) into SystemExit(143) so a run cleans up and reports."""

    def terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)


def run_nightly(
    options: NightlyOptions,
    stages: NightlyStages | None = None,
    say: Callable[[str], None] = log.info,
) -> NightlyResult:
    """Run the whole job once; never raises for an expected outcome (see the exit codes)."""
    stages = stages or NightlyStages()
    record = new_run_record(options, say)
    before = registry.current_version(options.models_dir)
    lock = NightlyLock(options.models_dir / LOCK_FILE)
    try:
        lock.acquire()
    except LockError as error:
        return finish_run(record, EXIT_LOCKED, "locked", str(error))
    except OSError as error:
        message = disk_error_message(error, options.models_dir, before)
        if message is None:
            raise
        return finish_run(record, EXIT_FAILED, "failed", message)
    try:
        if lock.stale_pid is not None:
            record.report["stale_lock_pid"] = lock.stale_pid
            record.report["stale_lock_replaced"] = lock.replaced
            held = " (processes it started still held the old lock file)" if lock.replaced else ""
            say(f"nightly: took over the lock of dead process {lock.stale_pid}{held}")
        record.save()
        return _run_locked(options, stages, record)
    except (KeyboardInterrupt, SystemExit):  # SIGTERM (see exit_on_sigterm) or Ctrl-C
        record.report.update(status="interrupted", decision="interrupted", finished=now_iso())
        record.save()
        raise
    except Exception as error:
        record.report["traceback"] = traceback.format_exc()
        message = str(error)
        if isinstance(error, OSError):
            message = disk_error_message(error, options.models_dir, before) or message
        if not isinstance(error, CitytwinError) and message == str(error):
            message = f"{type(error).__name__}: {error}"
        record.drop_staging()  # first: a candidate that filled the disk leaves room for the report
        return finish_run(record, EXIT_FAILED, "failed", message)
    finally:
        record.drop_staging()
        lock.release()


def _run_locked(options: NightlyOptions, stages: NightlyStages, record: RunRecord) -> NightlyResult:
    models_dir, report = options.models_dir, record.report
    runs_dir = models_dir / config.RUNS_DIR
    run_data = options.data_dir / NIGHTLY_DATA / report["run_id"]
    processed = run_data / "processed"
    with record.stage("cleanup"):
        report["repaired"] = promotion.repair(models_dir, options.data_dir)
        for line in report["repaired"]:
            record.say(f"nightly: repaired: {line}")
        report["cleaned"] = registry.clean_stale_temp(models_dir)
        report["interrupted_runs"] = mark_interrupted_runs(runs_dir)
    try:  # a missing, empty or unreadable source refuses the run; anything later is a failure
        with record.stage("check_sources"):
            report["sources"] = check_sources(options)
        with record.stage("build_data"):
            processed.mkdir(parents=True, exist_ok=True)
            data_report = stages.build_data(options, processed)
            report["data"] = data_report
            snapshot = data_snapshot(processed, data_report)
    except (InputError, DataError) as error:
        return finish_run(record, EXIT_REFUSED, "refused", str(error))
    with record.stage("validate"):
        last_good_path = runs_dir / LAST_GOOD_FILE
        reference = read_json(last_good_path) if last_good_path.exists() else None
        report["data_reference"] = reference and reference.get("report")
        reasons = validate_data(snapshot, reference, options)
        report["validation"] = {"passed": not reasons, "reasons": reasons}
        if not reasons:
            registry.write_json_atomic(last_good_path, {"run_id": report["run_id"], **snapshot})
    if reasons:
        return finish_run(record, EXIT_REFUSED, "refused", "; ".join(reasons))
    with record.stage("train"):
        staging = registry.staging_dir(models_dir, report["run_id"])
        record.staging = staging
        candidate = stages.train(processed, staging)
    with record.stage("verify"):
        stages.verify(staging)
    current_dir = _current_or_none(models_dir)
    current = lists = None
    if current_dir is not None:
        with record.stage("evaluate_current"):
            current = _current_metrics(stages, processed, staging, current_dir)
        with record.stage("compare_lists"):
            lists = _compare_lists(stages, current_dir, staging)
            report["lists"] = lists
    report["metrics"] = {
        "candidate": candidate,
        "current": current,
        "current_version": current_dir and current_dir.name,
    }
    with record.stage("gate"):
        decision = gate(candidate, current, options.tolerance, lists, options.max_list_change)
        report["gate"] = decision
    version = registry.new_version_name()
    if not decision["promote"]:
        with record.stage("reject"):
            rejection = {
                "version": version,
                "run_id": report["run_id"],
                "gate": decision,
                "metrics": report["metrics"],
                "data": data_report,
            }
            report["rejected_path"] = str(registry.reject(staging, models_dir, rejection))
        with record.stage("prune"):
            report["pruned"] = _prune(options)
        return finish_run(record, EXIT_KEPT, "kept_current", "; ".join(decision["reasons"]))
    with record.stage("promote"):
        published = promotion.promote(staging, processed, models_dir, options.data_dir, version,
                                      report["run_id"], stages.publish)
        report["version"] = published.name
        report["processed_dir"] = str(options.data_dir / promotion.PROCESSED)
        shutil.rmtree(run_data, ignore_errors=True)
    with record.stage("prune"):
        report["pruned"] = _prune(options)
    return finish_run(record, EXIT_PROMOTED, "promoted", f"models/current -> {published.name}")


def _current_or_none(models_dir: Path) -> Path | None:
    try:
        return registry.current_model_dir(models_dir)
    except CitytwinError:
        return None


def _current_metrics(
    stages: NightlyStages, processed: Path, staging: Path, current_dir: Path
) -> dict:
    """What the candidate must match: the current model's recorded metrics when the configs
    are the same (re-evaluating that config would reproduce the candidate's own figures and
    compare it with itself), else the current config re-evaluated on the new data."""
    try:
        same = read_json(staging / "config.json") == read_json(current_dir / "config.json")
    except (OSError, ValueError):
        same = False
    recorded = registry.read_metrics(current_dir)
    if same and all(isinstance(recorded.get(split), dict) for split in ("warm", "cold")):
        return {**recorded, "source": f"recorded: {current_dir.name}/{registry.METRICS_FILE}"}
    return {**stages.evaluate_current(processed, current_dir),
            "source": "current config re-evaluated on the new data"}


def _compare_lists(stages: NightlyStages, current_dir: Path, staging: Path) -> dict:
    """The list-stability figures; an unloadable current model is reported, not fatal."""
    try:
        return stages.compare_lists(current_dir, staging)
    except CitytwinError as error:
        return {"error": str(error)}


def _prune(options: NightlyOptions) -> dict:
    return {
        "versions": registry.prune(options.models_dir, options.keep),
        "rejected": registry.prune_rejected(options.models_dir, options.keep),
        "run_data": prune_run_data(options.data_dir / NIGHTLY_DATA, options.keep),
    }
