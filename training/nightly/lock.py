"""The nightly job's lock: one run at a time, taken over from a run that was killed.

An exclusive flock on models/.nightly.lock, holding the owner's pid and when it started.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matcher.errors import LockError
from matcher.store import registry

LOCK_FILE = ".nightly.lock"


def now_iso() -> str:
    """This moment, UTC, ISO 8601 to the second (lock files and run reports)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")




_HELD_LOCK_FDS: set[int] = set()


def _close_held_locks_in_child() -> None:
    """After a fork, the child closes its copies of the lock: a flock belongs to the open file,
    so a training worker that kept one would hold the lock after its run was killed."""
    for fd in _HELD_LOCK_FDS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCK_FDS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_locks_in_child)


@dataclass
class NightlyLock:
    """An exclusive flock on models/.nightly.lock holding the owner's pid.

    The kernel drops a flock when its process dies, so a lock file left by a killed run is
    taken over by the next one (the dead pid, checked with os.kill(pid, 0), goes in the report).
    Forked children close their copy (see _close_held_locks_in_child). Should processes a dead
    owner started still hold the flock (orphans of an older version, a fork outside Python),
    the lock file is replaced by a fresh one: the orphans keep a lock on a file nobody opens.
    Acquiring happens under a short flock on `.nightly.lock.guard`, so two runs taking over
    at once cannot both win.
    """

    path: Path
    fd: int | None = None
    stale_pid: int | None = None
    replaced: bool = False  # the dead owner's lock file was still held (by its orphans)

    def acquire(self) -> NightlyLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        guard = _open_rw(self.path.with_name(f"{self.path.name}.guard"))
        try:
            fcntl.flock(guard, fcntl.LOCK_EX)  # held for the few calls below only
            fd = _open_rw(self.path)
            holder = _read_lock(fd)
            if not _try_flock(fd):
                os.close(fd)
                pid = holder.get("pid")
                if not isinstance(pid, int) or registry.pid_alive(pid):
                    started = holder.get("started", "unknown time")
                    raise LockError(
                        f"another nightly run is in progress (pid {pid or 'unknown'}, started "
                        f"{started}; lock file {self.path}); wait for it to finish"
                    )
                fd = self._replace_file()
                self.replaced = True
            previous = holder.get("pid")
            if isinstance(previous, int) and not registry.pid_alive(previous):
                self.stale_pid = previous
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": now_iso()}).encode(), 0)
            os.fsync(fd)
        finally:
            os.close(guard)
        self.fd = fd
        _HELD_LOCK_FDS.add(fd)
        return self

    def _replace_file(self) -> int:
        """A fresh, flocked lock file renamed over the one a dead owner's orphans still hold."""
        fresh = self.path.with_name(f".tmp-{self.path.name.lstrip('.')}-{os.getpid()}")
        fd = _open_rw(fresh)
        if not _try_flock(fd):  # nobody else knows this name: cannot happen
            os.close(fd)
            raise LockError(f"could not lock the new lock file {fresh}")
        os.rename(fresh, self.path)
        return fd

    def release(self) -> None:
        if self.fd is not None:
            _HELD_LOCK_FDS.discard(self.fd)
            with contextlib.suppress(OSError):  # a full disk must not hide the run's outcome
                os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _open_rw(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_lock(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
