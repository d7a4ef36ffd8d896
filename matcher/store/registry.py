"""The model registry: versioned model directories under models/ and an atomic `current` pointer.

Layout: `models/<version>/` (one complete model each), `models/current` (a relative symlink to
one of them, switched with a single `os.replace`), `models/rejected/<version>/` (candidates the
nightly gate refused, with `rejection.json`), `models/runs/` (nightly run reports). Temporary
entries start with `.tmp-`, `.trash-` or `current.tmp-` and end in the writer's pid, so leftovers
of a killed process can be recognised and removed. Pure stdlib: serving imports this.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matcher import config
from matcher.durable import (  # noqa: F401  (re-exported: callers write through the registry)
    atomic_text,
    fsync_dir,
    fsync_tree,
    left_by_dead_process,
    pid_alive,
    write_json_atomic,
)
from matcher.errors import InputError, ModelNotFoundError
from matcher.store.model import verify

METRICS_FILE = "metrics.json"
PROMOTION_JOURNAL = ".promotion.json"  # written by training/nightly/promotion.py while it promotes
REJECTION_FILE = "rejection.json"
RESERVED_NAMES = frozenset({config.CURRENT_LINK, config.REJECTED_DIR, config.RUNS_DIR})
TEMP_PREFIXES = (".tmp-", ".trash-", f"{config.CURRENT_LINK}.tmp-")
VERSION_FORMAT = "%Y-%m-%dT%H%MZ"
_VERSION_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{4}Z)(?:-(\d+))?$")
_SAFE_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# a temporary entry without a pid in its name is only removed once it is this old (seconds)


@dataclass(frozen=True)
class VersionInfo:
    """One model version in the registry, with the headline metrics from its metrics.json."""

    version: str
    path: Path
    is_current: bool
    created: str  # ISO 8601 UTC
    warm_recall_at_10: float | None
    cold_recall_at_10: float | None

    def to_dict(self) -> dict:
        """JSON-friendly form (for `twin models list --json`)."""
        return {
            "version": self.version,
            "path": str(self.path),
            "is_current": self.is_current,
            "created": self.created,
            "warm_recall@10": self.warm_recall_at_10,
            "cold_recall@10": self.cold_recall_at_10,
        }


# ---------------------------------------------------------------- reading


def _display(models_dir: Path) -> str:
    """How error messages name the models directory: `models/` for the usual name."""
    return "models/" if models_dir.name == "models" else f"{models_dir}/"


def current_model_dir(models_dir: Path = config.MODELS_DIR) -> Path:
    """The directory `models/current` points to, resolved; ModelNotFoundError when there is none."""
    models_dir = Path(models_dir)
    link = models_dir / config.CURRENT_LINK
    if not link.is_symlink() and not link.is_dir():
        raise ModelNotFoundError(f"no trained model in {_display(models_dir)}; run `make train`")
    target = link.resolve()
    if not target.is_dir():
        raise ModelNotFoundError(
            f"{_display(models_dir)}{config.CURRENT_LINK} points to {os.readlink(link)}, "
            "which does not exist; run `twin models rollback VERSION` or `make train`"
        )
    return target


def current_version(models_dir: Path = config.MODELS_DIR) -> str | None:
    """Name of the version `current` points to, or None when there is no current model."""
    try:
        return current_model_dir(models_dir).name
    except ModelNotFoundError:
        return None


def _is_version_dir(entry: Path) -> bool:
    name = entry.name
    return (
        entry.is_dir()
        and not entry.is_symlink()
        and name not in RESERVED_NAMES
        and not name.startswith(".")
        and not name.startswith(f"{config.CURRENT_LINK}.")
    )


def _created(entry: Path) -> tuple[datetime, int]:
    """Creation time of a version: parsed from its name, else the directory's mtime; plus suffix."""
    match = _VERSION_RE.match(entry.name)
    if match:
        stamp = datetime.strptime(match.group(1), VERSION_FORMAT).replace(tzinfo=UTC)
        return stamp, int(match.group(2) or 0)
    return datetime.fromtimestamp(entry.stat().st_mtime, tz=UTC), 0


def promotion_journal(models_dir: Path) -> dict | None:
    """The journal of a promotion under way (or killed half-way), or None."""
    try:
        with open(Path(models_dir) / PROMOTION_JOURNAL, encoding="utf-8") as handle:
            entry = json.load(handle)
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) else None


def _unpromoted(models_dir: Path) -> str | None:
    """The version a promotion journal names while current does not point to it."""
    entry = promotion_journal(models_dir)
    version = entry and entry.get("version")
    return version if isinstance(version, str) and version != current_version(models_dir) \
        else None


def _version_dirs(models_dir: Path) -> list[Path]:
    """Version directories, oldest first; not one renamed in by an unfinished promotion."""
    if not models_dir.is_dir():
        return []
    pending = _unpromoted(models_dir)
    entries = [entry for entry in models_dir.iterdir()
               if _is_version_dir(entry) and entry.name != pending]
    return sorted(entries, key=lambda entry: (*_created(entry), entry.name))


def _recall_at_10(metrics: dict, split: str) -> float | None:
    try:
        value = metrics[split]["model"]["recall@10"]
    except (KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def read_metrics(version_dir: Path) -> dict:
    """metrics.json of a model directory, or {} when it is missing or unreadable."""
    try:
        with open(Path(version_dir) / METRICS_FILE, encoding="utf-8") as handle:
            metrics = json.load(handle)
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def list_versions(models_dir: Path = config.MODELS_DIR) -> list[VersionInfo]:
    """Every version directory, oldest first, with its current marker and recall@10 figures."""
    models_dir = Path(models_dir)
    current = current_version(models_dir)
    infos = []
    for entry in _version_dirs(models_dir):
        metrics = read_metrics(entry)
        created, _suffix = _created(entry)
        infos.append(
            VersionInfo(
                version=entry.name,
                path=entry,
                is_current=entry.name == current,
                created=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                warm_recall_at_10=_recall_at_10(metrics, "warm"),
                cold_recall_at_10=_recall_at_10(metrics, "cold"),
            )
        )
    return infos


# ---------------------------------------------------------------- writing


def new_version_name(now: datetime | None = None) -> str:
    """A version name for this minute, UTC, e.g. 2026-11-28T0200Z."""
    return (now or datetime.now(UTC)).strftime(VERSION_FORMAT)


def _check_version_name(version: str) -> None:
    if not _SAFE_VERSION_RE.match(version) or version in RESERVED_NAMES:
        raise InputError(
            f"invalid model version name {version!r}: use letters, digits, '.', '_' or '-', "
            f"not starting with '.' and not one of {sorted(RESERVED_NAMES)}"
        )


def _unique_path(parent: Path, version: str) -> Path:
    """parent/version, or parent/version-N with N above every suffix in use (names sort by age)."""
    pattern = re.compile(rf"^{re.escape(version)}(?:-(\d+))?$")
    taken = [
        int(match.group(1) or 1)
        for match in (pattern.match(entry.name) for entry in parent.iterdir())
        if match
    ]
    return parent / (f"{version}-{max(taken) + 1}" if taken else version)


def free_version_name(models_dir: Path, version: str) -> str:
    """The name install_version would give `version` now (a `-N` suffix when it is taken)."""
    _check_version_name(version)
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    return _unique_path(models_dir, version).name


def staging_dir(models_dir: Path, label: str | None = None) -> Path:
    """A fresh empty `models/.tmp-<label>-<pid>/` to write a candidate into (same filesystem)."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / f".tmp-{label or new_version_name()}-{os.getpid()}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir()
    return path


def _move_into(staging: Path, parent: Path, version: str) -> Path:
    """fsync staging, rename it to a unique parent/version (copying first across filesystems)."""
    if not staging.is_dir():
        raise InputError(f"model directory {staging} does not exist; nothing to publish")
    parent.mkdir(parents=True, exist_ok=True)
    fsync_tree(staging)
    for _attempt in range(100):
        target = _unique_path(parent, version)
        try:
            os.rename(staging, target)
        except OSError as error:
            if error.errno == errno.EXDEV:  # across filesystems: copy next to parent first
                local = parent / f".tmp-{target.name}-{os.getpid()}"
                shutil.copytree(staging, local)
                fsync_tree(local)
                shutil.rmtree(staging)
                staging = local
                continue
            if target.exists():  # lost a race for the name: take the next suffix
                continue
            raise
        fsync_dir(parent)
        return target
    raise OSError(f"could not find a free version name for {version} under {parent}")


def install_version(staging: Path, models_dir: Path, version: str | None = None) -> Path:
    """Make a staging directory a version `models/<version>/` without switching `current`."""
    version = version or new_version_name()
    _check_version_name(version)
    return _move_into(Path(staging), Path(models_dir), version)


def switch_current(models_dir: Path, version: str) -> None:
    """Point `models/current` at models/<version> with one atomic rename of a fresh symlink."""
    models_dir = Path(models_dir)
    target = models_dir / version
    if not _is_version_dir(target):
        raise InputError(f"no model version {version!r} in {_display(models_dir)}")
    tmp = models_dir / f"{config.CURRENT_LINK}.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(version, tmp)  # relative: the models directory can move as a whole
    os.replace(tmp, models_dir / config.CURRENT_LINK)
    fsync_dir(models_dir)


def publish(staging_dir: Path, models_dir: Path, version: str | None = None) -> Path:
    """Promote a complete staging model directory: fsync, rename to models/<version>, switch.

    Readers resolving `models/current` see the old model or the new one, never a partial one.
    Returns the new version directory (its name gets a `-N` suffix if the version was taken).
    """
    target = install_version(staging_dir, models_dir, version)
    switch_current(models_dir, target.name)
    return target


def rollback(models_dir: Path = config.MODELS_DIR, version: str | None = None) -> str:
    """Point current at `version`, or at the version just older than current; returns the name."""
    models_dir = Path(models_dir)
    versions = [entry.name for entry in _version_dirs(models_dir)]
    if version is None:
        current = current_version(models_dir)
        if current is None and versions:  # `current` missing or dangling: nothing is older
            raise InputError(
                f"{_display(models_dir)}{config.CURRENT_LINK} points to no model; name the "
                f"version to roll back to with `twin models rollback VERSION` (versions: "
                f"{', '.join(versions)})"
            )
        if current is None:
            raise ModelNotFoundError(
                f"no trained model in {_display(models_dir)}; run `make train`"
            )
        if current not in versions:
            raise InputError(f"current model {current} is not a version in {_display(models_dir)}")
        position = versions.index(current)
        if position == 0:
            raise InputError(
                f"no version older than {current} to roll back to; "
                "name one with `twin models rollback VERSION` (see `twin models list`)"
            )
        version = versions[position - 1]
    verify(version_dir(models_dir, version))  # never point current at a damaged version
    switch_current(models_dir, version)
    return version


def version_dir(models_dir: Path, version: str) -> Path:
    """The directory of model `version`; InputError listing the versions when there is none."""
    versions = [entry.name for entry in _version_dirs(Path(models_dir))]
    if version not in versions:
        known = ", ".join(versions) or "none"
        raise InputError(
            f"no model version {version!r} in {_display(Path(models_dir))} (versions: {known})"
        )
    return Path(models_dir) / version


def _remove_tree(path: Path) -> None:
    """Rename aside first, so nobody ever lists a half-deleted directory, then delete."""
    trash = path.parent / f".trash-{path.name}-{os.getpid()}"
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def prune(models_dir: Path = config.MODELS_DIR, keep: int = 7) -> list[str]:
    """Delete all but the newest `keep` versions, never the current one; returns what was removed.

    Only version directories are touched: never `rejected/`, `runs/` or temporary entries.
    """
    if keep < 1:
        raise InputError(f"--keep must be at least 1, got {keep}")
    models_dir = Path(models_dir)
    current = current_version(models_dir)
    versions = _version_dirs(models_dir)
    removed = []
    for entry in versions[: max(len(versions) - keep, 0)]:
        if entry.name == current:
            continue
        _remove_tree(entry)
        removed.append(entry.name)
    return removed


def reject(staging_dir: Path, models_dir: Path, report: dict) -> Path:
    """Keep a refused candidate as models/rejected/<version>/ with its report in rejection.json."""
    version = str(report.get("version") or new_version_name())
    _check_version_name(version)
    target = _move_into(Path(staging_dir), Path(models_dir) / config.REJECTED_DIR, version)
    write_json_atomic(target / REJECTION_FILE, report)
    return target


def prune_rejected(models_dir: Path = config.MODELS_DIR, keep: int = 7) -> list[str]:
    """Delete all but the newest `keep` rejected candidates; returns what was removed."""
    rejected = Path(models_dir) / config.REJECTED_DIR
    entries = _version_dirs(rejected)
    removed = []
    for entry in entries[: max(len(entries) - keep, 0)]:
        _remove_tree(entry)
        removed.append(entry.name)
    return removed


def clean_stale_temp(models_dir: Path = config.MODELS_DIR) -> list[str]:
    """Remove temporary entries left by dead processes (killed mid-training or mid-promotion).

    An entry whose name ends in a live pid is left alone; one without a pid only after an hour.
    """
    models_dir = Path(models_dir)
    removed = []
    for parent in (models_dir, models_dir / config.REJECTED_DIR, models_dir / config.RUNS_DIR):
        if not parent.is_dir():
            continue
        for entry in parent.iterdir():
            if not entry.name.startswith(TEMP_PREFIXES) or not left_by_dead_process(entry):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed.append(str(entry.relative_to(models_dir)))
    return sorted(removed)
