"""A nightly run's record and housekeeping: its JSON report rewritten after each stage, how a
run ended, one line for a full or read-only disk, and marking runs whose process died."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from matcher import config
from matcher.store import registry
from training.nightly.lock import now_iso
from training.nightly.options import NightlyOptions

log = logging.getLogger("citytwin.nightly")


def read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@dataclass
class RunRecord:
    """The run's JSON report, rewritten atomically after each stage (a killed run leaves one)."""

    path: Path
    report: dict = field(default_factory=dict)
    say: Callable[[str], None] = log.info
    staging: Path | None = None  # the candidate being written, removed if the run ends early

    unsaved: str | None = None  # why the report could not be written (a full or read-only disk)

    def save(self) -> None:
        """Write the report; on a full or read-only disk, note why and carry on (the run's
        outcome matters more than its report, and the next write may succeed)."""
        try:
            registry.write_json_atomic(self.path, self.report)
        except OSError as error:
            if error.errno not in DISK_ERRNOS:
                raise
            self.unsaved = f"{error.strerror}: {error.filename or self.path}"
        else:
            self.unsaved = None

    def drop_staging(self) -> None:
        """Remove the candidate of a run that ends without promoting it."""
        if self.staging is not None and self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        entry = {"name": name, "status": "running", "seconds": None}
        self.report["stages"].append(entry)
        self.save()
        self.say(f"nightly: {name} ...")
        started = time.perf_counter()
        try:
            yield entry
        except BaseException:
            entry["status"] = "failed"
            raise
        else:
            entry["status"] = "ok"
        finally:
            entry["seconds"] = round(time.perf_counter() - started, 3)
            self.say(f"nightly: {name} {entry['status']} in {entry['seconds']:.2f} s")
            self.save()


@dataclass(frozen=True)
class NightlyResult:
    """How a run ended: exit code, decision, one-line message, and where its report is."""

    exit_code: int
    decision: str
    message: str
    report_path: Path
    report: dict
    report_unsaved: str | None = None

    @property
    def where(self) -> str:
        """`report: PATH`, or why there is none."""
        if self.report_unsaved:
            return f"report not saved: {self.report_unsaved}"
        return f"report: {self.report_path}"


def new_run_record(options: NightlyOptions, say: Callable[[str], None]) -> RunRecord:
    runs = options.models_dir / config.RUNS_DIR
    run_id = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    path = runs / f"{run_id}.json"
    if path.exists():
        run_id = f"{run_id}-{os.getpid()}"
        path = runs / f"{run_id}.json"
    options_dict = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}
    for key in ("partnership_files", "user_files", "wikidata_files"):
        options_dict[key] = [str(p) for p in getattr(options, key)]
    report = {
        "run_id": run_id,
        "pid": os.getpid(),
        "started": now_iso(),
        "status": "running",
        "decision": None,
        "exit_code": None,
        "options": options_dict,
        "stages": [],
    }
    return RunRecord(path, report, say)


def finish_run(record: RunRecord, code: int, decision: str, message: str) -> NightlyResult:
    record.report.update(
        status="done", exit_code=code, decision=decision, message=message, finished=now_iso()
    )
    record.save()
    record.say(f"nightly: {decision} (exit {code}): {message}")
    return NightlyResult(code, decision, message, record.path, record.report, record.unsaved)


DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM})


def disk_error_message(error: OSError, models_dir: Path, before: str | None) -> str | None:
    """One line for a full, read-only or unwritable disk (None for other errors), saying
    what happened to models/current. numpy's writers raise OSError without an errno on a
    full disk ("4121002 requested and 1534944 written"): then the free space decides."""
    code = error.errno
    if code is None and _nearly_full(models_dir):
        code = errno.ENOSPC
    if code not in DISK_ERRNOS:
        return None
    where = error.filename or f"{models_dir}/"
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
            errno.EROFS: "the file system is read-only"}.get(code, "permission denied")
    now = registry.current_version(models_dir)
    if now == before:
        kept = f"the current model ({before}) is kept" if before else "no model was promoted"
    else:
        kept = f"models/current -> {now} was promoted before the failure"
    return (f"cannot write {where}: {what} ({error.strerror or error}); {kept}; free space or "
            "fix the mount and run again")


def _nearly_full(path: Path) -> bool:
    """Less than 16 MiB or 0.5% of the file system free."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return False
    return usage.free < max(16 * 2**20, usage.total // 200)


def mark_interrupted_runs(runs_dir: Path) -> list[str]:
    """Reports still saying `running` whose process is gone: mark them `interrupted`."""
    marked = []
    for path in sorted(runs_dir.glob("*.json"))[-50:]:
        try:
            report = read_json(path)
        except (OSError, ValueError):
            continue
        pid = report.get("pid")
        if report.get("status") == "running" and pid != os.getpid():
            if isinstance(pid, int) and registry.pid_alive(pid):
                continue
            report.update(status="interrupted", decision="interrupted")
            registry.write_json_atomic(path, report)
            marked.append(path.name)
    return marked
