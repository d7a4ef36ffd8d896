"""The model the server answers from, and how it follows `models/current` without a restart.

A request asks `ModelHolder.get()`; at most every `check_seconds` that reads where the `current`
symlink points (one readlink and a stat). When it points somewhere new, a background thread loads
and warms the new version (every lazy index built, the gazetteer read and its places outside
the index indexed by name for the search box, one query ranked) while every request keeps
getting the old one, then publishes it by one reference assignment: a request sees the old model
or the new one, never a half-loaded one, and none waits for a load (but the very first). A
version that fails to load is logged and the old one kept; being immutable once published, it is
not tried again until `current` points elsewhere. `--model DIR` pins one directory.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from matcher.api import Matcher
from matcher.errors import CitytwinError
from matcher.store import registry
from matcher.web.search import PrefixIndex, outside_index

log = logging.getLogger("citytwin.web")

CHECK_SECONDS = 1.0  # how often a request looks at models/current


@dataclass(frozen=True)
class Loaded:
    """One loaded, warmed model version."""

    matcher: Matcher
    path: Path
    version: str  # the version directory's name
    prefix: PrefixIndex  # the search box's name index
    outside: PrefixIndex | None  # the gazetteer's places outside the index, by name (search.py)


def warm(matcher: Matcher) -> None:
    """Build every lazily built index now, so concurrent requests never see one half-built."""
    lookup = matcher.lookup
    first = lookup.names[0] if lookup.names else ""
    for _ in range(2):  # the second exact lookup builds the lower-case index
        with contextlib.suppress(CitytwinError):
            lookup.resolve(first)
    lookup.by_fold()
    with contextlib.suppress(CitytwinError):  # a miss builds the alternate names' index
        lookup.resolve("zz no such city zz")
    row = int(matcher.model.arrays.candidate_mask.argmax())
    with contextlib.suppress(CitytwinError):
        matcher.recommendation(int(matcher.model.geonameids[row]))


def load(path: Path) -> Loaded:
    """Load and warm one model directory."""
    matcher = Matcher.load(path, verify=True)  # a long-running process checks every hash
    warm(matcher)
    prefix = PrefixIndex(matcher.lookup.names, matcher.lookup.populations)
    return Loaded(matcher=matcher, path=path, version=path.name, prefix=prefix,
                  outside=outside_index(matcher))


class ModelHolder:
    """Gives requests the current model; reloads when `models/current` moves."""

    def __init__(self, models_dir: Path | None = None, model_dir: Path | None = None,
                 check_seconds: float = CHECK_SECONDS) -> None:
        from matcher import config

        self.models_dir = Path(models_dir) if models_dir is not None else config.MODELS_DIR
        self.pinned = Path(model_dir).resolve() if model_dir is not None else None
        self.check_seconds = check_seconds
        self._loaded: Loaded | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._broken: Path | None = None  # the last version that failed to load

    @property
    def current(self) -> Loaded | None:
        """The model answering now, without checking `current` (None before the first load)."""
        return self._loaded

    def target(self) -> Path:
        """The directory that should be served now (ModelNotFoundError when there is none)."""
        if self.pinned is not None:
            return self.pinned
        return registry.current_model_dir(self.models_dir)

    def get(self) -> Loaded:
        """The model to answer this request from."""
        loaded = self._loaded
        now = time.monotonic()
        if loaded is not None and (self.pinned is not None
                                   or now - self._checked < self.check_seconds):
            return loaded
        try:
            target = self.target()
        except CitytwinError:
            if loaded is not None:  # `current` briefly missing: keep serving what we have
                return loaded
            raise
        if loaded is not None and loaded.path == target:
            self._checked = now
            return loaded
        if loaded is None:  # the first load: nothing to answer from meanwhile
            with self._lock:
                if self._loaded is None:
                    self._loaded, self._checked = load(target), now
                return self._loaded
        self._checked = now
        if target != self._broken:
            self._start_loading(target)
        return loaded

    def _start_loading(self, target: Path) -> None:
        """Load `target` in a background thread unless one is loading already."""
        with self._lock:
            if self._loader is not None and self._loader.is_alive():
                return
            self._loader = threading.Thread(target=self._load_and_publish, args=(target,),
                                            name="citytwin-model-loader", daemon=True)
            self._loader.start()

    def _load_and_publish(self, target: Path) -> None:
        old = self._loaded
        try:
            fresh = load(target)
        except Exception as error:  # a damaged version: keep the one that works
            self._broken = target
            log.warning("keeping model %s: %s could not be loaded (%s)",
                        old.version if old else "none", target, error)
            return
        self._loaded = fresh  # one reference assignment: the switch
        log.warning("now serving model %s (was %s)", fresh.version,
                    old.version if old else "none")

    def settle(self, timeout: float = 60.0) -> None:
        """Wait for a background load to finish (for tests and scripts)."""
        loader = self._loader
        if loader is not None:
            loader.join(timeout)
