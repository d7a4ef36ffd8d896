"""Promotion of a nightly candidate together with its data, as one step a kill cannot half-do.

The data a model was built from travels inside its version: `models/<version>/processed/`
(verify and serving read the top-level files only). `models/current` is the single commit
point: once it names the new version, the model and its data have switched. The copy in
`<data-dir>/processed/` (what `twin train` and `twin evaluate` read) is derived from
`models/current/processed/`, and `repair` makes it match again after any kill.

Steps, each followed by `checkpoint(step)` (a no-op that tests replace to kill the process
there): move the run's data into the candidate (`data_into_version`); write the journal
`models/.promotion.json` naming the version (`journal_written`); rename the candidate to
`models/<version>` (`installed`); switch `current` (`switched`); copy its data to
`<data-dir>/.processed.new-<pid>` (`data_copied`); rename `<data-dir>/processed` aside to
`.processed.old-<pid>` (`data_aside`); rename the copy to `processed` (`data_switched`);
delete the old copy and the journal (`done`).

`repair`, run by every nightly run before anything else: a journal whose writer is dead
names a version that was either switched to (nothing to undo) or never promoted (moved to
`models/rejected/` with the reason, so it is not listed, pruned or rolled back to as a normal
version); `<data-dir>/processed` is restored from `models/current/processed` when missing or
different; `.processed.old-*`/`.new-*` left by dead processes are removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from matcher.errors import CitytwinError
from matcher.store import registry
from matcher.store.model import file_digests

DATA_IN_VERSION = "processed"
PROCESSED = "processed"
_ASIDE, _NEW = ".processed.old-", ".processed.new-"


def checkpoint(step: str) -> None:
    """Called after each filesystem step of a promotion (tests replace it to kill the process)."""


def move_tree(source: Path, target: Path) -> None:
    """Rename a directory, copying it (then deleting the source) across filesystems."""
    try:
        os.rename(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        shutil.copytree(source, target)
        registry.fsync_tree(target)
        shutil.rmtree(source)


def install_and_switch(staging: Path, models_dir: Path, version: str | None = None) -> Path:
    """registry.publish with a checkpoint between the rename into place and the switch."""
    target = registry.install_version(staging, models_dir, version)
    checkpoint("installed")
    registry.switch_current(models_dir, target.name)
    return target


def promote(staging: Path, run_processed: Path, models_dir: Path, data_dir: Path, version: str,
            run_id: str, publish=install_and_switch) -> Path:
    """Publish the candidate with its data inside it, then derive <data-dir>/processed."""
    move_tree(run_processed, staging / DATA_IN_VERSION)
    checkpoint("data_into_version")
    name = registry.free_version_name(models_dir, version)
    journal = models_dir / registry.PROMOTION_JOURNAL
    registry.write_json_atomic(journal, {"pid": os.getpid(), "run_id": run_id, "version": name})
    checkpoint("journal_written")
    try:
        published = publish(staging, models_dir, name)
        checkpoint("switched")
        sync_data(models_dir, data_dir)
    except Exception:
        with contextlib.suppress(OSError, CitytwinError):  # best effort; the next run retries
            repair(models_dir, data_dir, own=True)
        raise
    journal.unlink()
    registry.fsync_dir(models_dir)
    checkpoint("done")
    return published


def sync_data(models_dir: Path, data_dir: Path) -> Path | None:
    """Make <data-dir>/processed a copy of models/current/processed (None: it has none)."""
    source = registry.current_model_dir(models_dir) / DATA_IN_VERSION
    if not source.is_dir():
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    target, aside = data_dir / PROCESSED, data_dir / f"{_ASIDE}{os.getpid()}"
    fresh = data_dir / f"{_NEW}{os.getpid()}"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(source, fresh)
    registry.fsync_tree(fresh)
    checkpoint("data_copied")
    if target.exists():
        os.rename(target, aside)
        checkpoint("data_aside")
    os.rename(fresh, target)
    registry.fsync_dir(data_dir)
    checkpoint("data_switched")
    shutil.rmtree(aside, ignore_errors=True)
    return target


def _data_matches(models_dir: Path, data_dir: Path) -> bool:
    """True when <data-dir>/processed holds the current model's data (or it carries none)."""
    try:
        source = registry.current_model_dir(models_dir) / DATA_IN_VERSION
    except CitytwinError:
        return True
    target = data_dir / PROCESSED
    if not source.is_dir():
        return True
    return target.is_dir() and file_digests(target, skip=()) == file_digests(source, skip=())


def repair(models_dir: Path, data_dir: Path, own: bool = False) -> list[str]:
    """Finish or undo a promotion a killed run left half-done; what was done, for the report.
    `own`: the journal may be this process's (a promotion that failed just now)."""
    done = []
    journal = models_dir / registry.PROMOTION_JOURNAL
    entry = registry.promotion_journal(models_dir)
    if entry is not None:
        pid, version = entry.get("pid"), str(entry.get("version", ""))
        mine = pid == os.getpid()
        if (own and mine) or not (isinstance(pid, int) and (mine or registry.pid_alive(pid))):
            done.append(_settle(models_dir, version, entry))
            journal.unlink(missing_ok=True)
    if not _data_matches(models_dir, data_dir):
        sync_data(models_dir, data_dir)
        done.append(f"{data_dir / PROCESSED} restored from models/current/{DATA_IN_VERSION}")
    if data_dir.is_dir():
        for entry_path in sorted(data_dir.iterdir()):
            if entry_path.name.startswith((_ASIDE, _NEW)) and \
                    registry.left_by_dead_process(entry_path):
                shutil.rmtree(entry_path, ignore_errors=True)
                done.append(f"removed {entry_path}")
    return done


def _settle(models_dir: Path, version: str, entry: dict) -> str:
    """The journal's version: promoted (current names it) or set aside as never promoted."""
    path = models_dir / version
    if registry.current_version(models_dir) == version:
        return f"finished the promotion of {version} (models/current had been switched)"
    if not version or not path.is_dir():
        return f"dropped the journal of a promotion of {version or '?'} that installed nothing"
    report = {"version": version, "run_id": entry.get("run_id"),
              "reason": "promotion interrupted before models/current was switched"}
    target = registry.reject(path, models_dir, report)
    return f"moved {version}, renamed in but never promoted, to {target.relative_to(models_dir)}"

