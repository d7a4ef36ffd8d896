"""Tiny, fast stand-ins for the nightly job's heavy stages, plus fault-injecting variants.

Used in-process by tests/training/nightly/test_nightly.py and from subprocesses that the tests
kill with SIGKILL.
"""

from __future__ import annotations

import builtins
import csv
import errno
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from matcher import config
from matcher.errors import InputError
from matcher.store import registry
from matcher.store.model import file_digests
from training.model import parallel
from training.nightly import job
from training.nightly.job import NightlyOptions, NightlyStages

BASELINES = ("popularity", "geo_nearest", "country_pair", "feature_knn")


def write_source(path: Path, rows: int, unresolved: int = 0, extra_column: bool = False) -> Path:
    """A partnership CSV: `rows` pairs, the last `unresolved` of them with an unknown city ('?')."""
    header = ["city_1", "country_1", "city_2", "country_2"] + (["extra"] if extra_column else [])
    lines = [",".join(header)]
    for i in range(rows):
        second = "?" if i >= rows - unresolved else f"B{i}"
        lines.append(",".join([f"A{i}", "KR", second, "GB"] + (["x"] if extra_column else [])))
    path.write_text("\n".join(lines) + "\n")
    return path


def fake_build(options: NightlyOptions, out_dir: Path, lenient: bool = False) -> dict:
    """Reads the CSVs strictly (a short row is an InputError naming file and row), writes tables.
    `lenient`: a short row is counted as a malformed_row instead, as the real build does."""
    rows_in, edges, extra, malformed = 0, [], False, 0
    for path in options.partnership_files:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            extra = extra or "extra" in header
            for number, row in enumerate(reader, start=1):
                if len(row) != len(header) and lenient:
                    malformed += 1
                    continue
                if len(row) != len(header):
                    raise InputError(f"{path}: row {number} has {len(row)} fields, expected "
                                     f"{len(header)}; fix or remove it")
                rows_in += 1
                if "?" not in (row[0], row[2]):
                    edges.append((1000 + rows_in, 5000 + rows_in))
    partnerships = pd.DataFrame(edges, columns=["city_a", "city_b"]).assign(weight=1.0)
    if extra:
        partnerships["extra"] = "x"
    partnerships.to_parquet(out_dir / "partnerships.parquet", index=False)
    ids = sorted({c for edge in edges for c in edge})
    pd.DataFrame({"geonameid": ids, "name": [str(i) for i in ids]}).to_parquet(
        out_dir / "cities.parquet", index=False)
    report = {"rows_in": rows_in, "rows_resolved": len(edges),
              "resolution_rate": len(edges) / rows_in if rows_in else 0.0,
              "unique_partnerships": len(edges), "cities": len(ids),
              "rejected": {"malformed_row": malformed} if malformed else {}}
    (out_dir / "report.json").write_text(json.dumps(report))
    return report


def metrics(warm: float, cold: float, baseline: float = 0.05) -> dict:
    """metrics.json shaped as training writes it."""
    def split(model: float, names: tuple[str, ...]) -> dict:
        block = {"model": {"recall@10": model, "queries": 10}}
        block.update({name: {"recall@10": baseline, "queries": 10} for name in names})
        return block
    return {"warm": split(warm, (*BASELINES, "adamic_adar")), "cold": split(cold, BASELINES)}


@dataclass(frozen=True)
class FakeTrain:
    """Copies a template model directory and writes the chosen metrics and config."""

    template: Path
    warm: float = 0.5
    cold: float = 0.3
    baseline: float = 0.05
    variant: str = "default"
    block_marker: Path | None = None  # write this file, then hang (to be killed)
    fail: bool = False
    hang_in: str = "run"  # run: hang here; workers: in 2 training workers; orphan: see below
    shuffle_lists: bool = False  # permute the item embeddings: other cities top most lists

    def __call__(self, processed_dir: Path, out_dir: Path) -> dict:
        assert (processed_dir / "partnerships.parquet").exists()
        shutil.copytree(self.template, out_dir, dirs_exist_ok=True)
        if self.block_marker is not None and self.hang_in == "workers":
            parallel.run_jobs([partial(hang_in_worker, self.block_marker, i) for i in (0, 1)],
                              workers=2)
        elif self.block_marker is not None and self.hang_in == "orphan":
            start_lock_holding_child(self.block_marker)
        if self.block_marker is not None:
            self.block_marker.write_text(str(os.getpid()))
            time.sleep(600)
        if self.fail:
            raise RuntimeError("training diverged")
        if self.shuffle_lists:
            embeddings = np.load(out_dir / "item_embeddings.npy")
            order = np.random.default_rng(7).permutation(len(embeddings))
            np.save(out_dir / "item_embeddings.npy", embeddings[order])
            biases = np.load(out_dir / "item_biases.npy")
            np.save(out_dir / "item_biases.npy", biases[order])
        result = metrics(self.warm, self.cold, self.baseline)
        (out_dir / "metrics.json").write_text(json.dumps(result))
        (out_dir / "config.json").write_text(json.dumps({"variant": self.variant}))
        manifest = json.loads((out_dir / "manifest.json").read_text())
        manifest["files"] = file_digests(out_dir)  # as training lists them
        (out_dir / "manifest.json").write_text(json.dumps(manifest))
        return result


def worker_marker(marker: Path, number: int) -> Path:
    return marker.with_name(f"{marker.name}.worker{number}")


def hang_in_worker(marker: Path, number: int) -> None:
    """A training job that writes its pid next to `marker`, then hangs (to be killed)."""
    worker_marker(marker, number).write_text(str(os.getpid()))
    time.sleep(600)


def start_lock_holding_child(marker: Path) -> None:
    """The state older versions left: a child process holding this run's lock file open
    (and so its flock), which outlives a `kill -9` of the run. Its pid goes to marker.child."""
    fds = [int(fd) for fd in os.listdir("/proc/self/fd")
           if _fd_target(int(fd)).endswith(job.LOCK_FILE)]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                             pass_fds=fds, start_new_session=True)
    marker.with_name(f"{marker.name}.child").write_text(str(child.pid))


def _fd_target(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def current_metrics(processed_dir: Path, current_dir: Path) -> dict:
    """Stand-in for re-evaluating the current config: its recorded metrics."""
    return registry.read_metrics(current_dir)


def lenient_build(options: NightlyOptions, out_dir: Path) -> dict:
    return fake_build(options, out_dir, lenient=True)


def stages(template: Path, lenient: bool = False, **train) -> NightlyStages:
    return NightlyStages(build_data=lenient_build if lenient else fake_build,
                         train=FakeTrain(template, **train),
                         evaluate_current=current_metrics)


def options(root: Path, source: Path, **extra) -> NightlyOptions:
    return NightlyOptions(partnership_files=(source,), models_dir=root / "models",
                          data_dir=root / "data", **extra)


def _blocking_publish(marker: Path, stop_after: str):
    """A publish that hangs after installing the version, or after making the temp symlink."""
    def publish(staging: Path, models_dir: Path, version: str | None = None) -> Path:
        target = registry.install_version(staging, models_dir, version)
        if stop_after == "symlink":
            os.symlink(target.name, models_dir / f"current.tmp-{os.getpid()}")
        marker.write_text(str(os.getpid()))
        time.sleep(600)
        registry.switch_current(models_dir, target.name)
        return target
    return publish


def fail_writes_under(monkeypatch, root: Path, code: int) -> None:
    """Every write under `root` (open for writing, os.open for writing, rename, replace, symlink,
    mkdir of a new directory) raises OSError(code), as a full (ENOSPC) or read-only (EROFS) disk
    does. Reads still work."""
    root_text = os.path.abspath(root)
    real_open, real_os_open = builtins.open, os.open
    real = {name: getattr(os, name) for name in ("rename", "replace", "symlink", "mkdir")}

    def under(path) -> bool:
        return isinstance(path, str | bytes | os.PathLike) and \
            os.path.abspath(os.fsdecode(path)).startswith(root_text)

    def fail(path):
        raise OSError(code, os.strerror(code), os.fsdecode(path))

    def guarded_open(file, mode="r", *args, **kwargs):
        if under(file) and any(flag in mode for flag in "wax+"):
            fail(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if under(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            fail(path)
        return real_os_open(path, flags, *args, **kwargs)

    def guarded(name):
        def call(first, *args, **kwargs):
            target = args[0] if args and name != "mkdir" else first
            if name == "mkdir" and os.path.isdir(first):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fsdecode(first))
            if under(target) or under(first):
                fail(target)
            return real[name](first, *args, **kwargs)
        return call

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    for name in real:
        monkeypatch.setattr(os, name, guarded(name))


FS_STEPS = (("os", "rename"), ("os", "replace"), ("os", "symlink"), ("os", "unlink"),
            ("os", "mkdir"), ("shutil", "rmtree"), ("shutil", "copytree"))


def kill_after_step(number: int, log: Path) -> None:
    """From the gate's decision to promote until pruning, count the filesystem steps (rename,
    replace, symlink, unlink, mkdir, rmtree, copytree; not their own inner calls, not the
    writes of the run report),
    appending each to `log`, and end the process with os._exit(137) (no clean-up, as
    SIGKILL) right after step `number`."""
    import shutil as shutil_module

    state = {"on": False, "count": 0, "depth": 0}
    modules = {"os": os, "shutil": shutil_module}
    real_gate, real_prune = job.gate, job._prune

    def gate(*args, **kwargs):
        decision = real_gate(*args, **kwargs)
        state["on"] = bool(decision["promote"])
        return decision

    def prune(*args, **kwargs):
        state["on"] = False  # the promotion is over
        return real_prune(*args, **kwargs)

    def counted(module: str, name: str):
        real = getattr(modules[module], name)

        def call(*args, **kwargs):
            reporting = os.sep + config.RUNS_DIR + os.sep in os.fspath(args[0])
            if not state["on"] or state["depth"] or reporting:  # run reports are not steps
                return real(*args, **kwargs)
            state["depth"] += 1
            try:
                result = real(*args, **kwargs)
            finally:
                state["depth"] -= 1
            state["count"] += 1
            with open(log, "a") as handle:
                handle.write(f"{state['count']} {name} {os.fspath(args[0])}\n")
            if state["count"] == number:
                os._exit(137)
            return result
        return call

    job.gate, job._prune = gate, prune
    for module, name in FS_STEPS:
        setattr(modules[module], name, counted(module, name))


def run_killed_in_child(root: Path, source: Path, template: Path, step: int, log: Path) -> int:
    """A whole run in a forked child (the loaded modules come with it: no start-up cost),
    killed by os._exit(137) right after promotion step `step` (kill_after_step); its exit
    code. The child is itself killed by SIGALRM should it hang for a minute."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            import signal

            signal.alarm(60)
            kill_after_step(step, log)
            code = job.run_nightly(options(root, source), stages(template)).exit_code
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main(argv: list[str]) -> int:
    """`python nightly_factories.py ROOT SOURCE TEMPLATE MARKER MODE`: a run that hangs
    (MODE train, workers, orphan, install, symlink) or is killed after promotion step N
    (MODE kill-after:N; the steps are logged to MARKER)."""
    root, source, template, marker, mode = argv
    root, marker = Path(root), Path(marker)
    if mode.startswith("kill-after:"):
        kill_after_step(int(mode.split(":")[1]), marker)
        mode = "plain"
    if mode == "plain":
        run_stages = stages(Path(template))
    elif mode in ("train", "workers", "orphan"):
        hang_in = "run" if mode == "train" else mode
        run_stages = stages(Path(template), block_marker=marker, hang_in=hang_in)
    else:
        run_stages = NightlyStages(build_data=fake_build, train=FakeTrain(Path(template)),
                                   evaluate_current=current_metrics,
                                   publish=_blocking_publish(marker, mode))
    from training.nightly.job import exit_on_sigterm, run_nightly
    exit_on_sigterm()
    return run_nightly(options(root, Path(source)), run_stages).exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
