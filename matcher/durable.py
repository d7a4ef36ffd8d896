"""Durable file operations and process checks: writes that readers see whole or not at all
(temporary file, fsync, os.replace), and whether a temporary entry's writer is gone. Pure
stdlib; the model registry, the nightly job and the data build use them."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

UNOWNED_TEMP_MAX_AGE = 3600.0  # a temporary entry without a pid is stale after an hour


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (renames, new files) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under root, files first, so a rename publishes whole data."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            path = os.path.join(dirpath, filename)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


@contextlib.contextmanager
def atomic_text(path: Path, newline: str | None = None) -> Iterator[TextIO]:
    """A text file to write that replaces `path` only when the block ends without an error
    (temporary file, fsync, os.replace): readers see the old file or the new, never half. The
    temporary file is removed when the block fails."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON with atomic_text, creating its directory."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_text(path) as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")


def pid_alive(pid: int) -> bool:
    """True when a process with this pid runs (os.kill with signal 0 checks without killing);
    a zombie, dead but not yet reaped by its parent, counts as gone."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): os.kill said it exists
    return state not in ("Z", "X")


def _owner_pid(name: str) -> int | None:
    match = re.search(r"-(\d+)$", name)
    return int(match.group(1)) if match else None


def left_by_dead_process(entry: Path) -> bool:
    """A temporary entry named `...-<pid>` whose process is gone (never this one's), or one
    without a pid that is over an hour old: safe to remove."""
    pid = _owner_pid(entry.name)
    if pid is None:
        return time.time() - entry.lstat().st_mtime >= UNOWNED_TEMP_MAX_AGE
    return pid != os.getpid() and not pid_alive(pid)
