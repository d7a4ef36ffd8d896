"""The model registry: versions, the atomic `current` pointer, rollback, prune, reject."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.cli import cli
from matcher.errors import InputError, ModelLoadError, ModelNotFoundError
from matcher.store import registry
from matcher.store.model import file_digests


def make_staging(models_dir: Path, warm: float = 0.3, cold: float = 0.1, tag: str = "x") -> Path:
    """A minimal complete-looking model directory written where training would write it."""
    staging = registry.staging_dir(models_dir, tag)
    metrics = {"warm": {"model": {"recall@10": warm}}, "cold": {"model": {"recall@10": cold}}}
    (staging / "metrics.json").write_text(json.dumps(metrics))
    (staging / "payload.txt").write_text(f"model {tag}\n")
    (staging / "manifest.json").write_text(json.dumps({"files": file_digests(staging)}))
    return staging


def test_no_model_gives_the_exact_message(tmp_path):
    with pytest.raises(ModelNotFoundError) as error:
        registry.current_model_dir(tmp_path / "models")
    assert str(error.value) == "no trained model in models/; run `make train`"


def test_dangling_current_is_reported(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    os.symlink("gone", models / "current")
    with pytest.raises(ModelNotFoundError, match="points to gone, which does not exist"):
        registry.current_model_dir(models)


def test_publish_moves_staging_and_switches_current_relatively(tmp_path):
    models = tmp_path / "models"
    staging = make_staging(models)
    target = registry.publish(staging, models, "2026-11-28T0200Z")
    assert target == models / "2026-11-28T0200Z"
    assert not staging.exists()
    assert os.readlink(models / "current") == "2026-11-28T0200Z"
    assert registry.current_model_dir(models) == target.resolve()
    assert (target / "payload.txt").read_text() == "model x\n"
    assert not [p for p in models.iterdir() if p.name.startswith((".tmp-", "current.tmp-"))]


def test_publish_takes_a_suffix_when_the_version_exists(tmp_path):
    models = tmp_path / "models"
    first = registry.publish(make_staging(models, tag="a"), models, "2026-11-28T0200Z")
    second = registry.publish(make_staging(models, tag="b"), models, "2026-11-28T0200Z")
    assert second.name == "2026-11-28T0200Z-2"
    assert (first / "payload.txt").read_text() == "model a\n"
    assert registry.current_version(models) == "2026-11-28T0200Z-2"


def test_publish_across_filesystems_copies_beside_models_first(tmp_path, monkeypatch):
    """os.rename cannot cross filesystems (EXDEV): the staging directory is copied next to
    models/ under a temporary name, then renamed into place; nothing is left behind."""
    models = tmp_path / "models"
    staging = make_staging(models)
    real_rename = os.rename

    def rename(source, target):
        if Path(source) == staging:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_rename(source, target)

    monkeypatch.setattr(registry.os, "rename", rename)
    target = registry.publish(staging, models, "2026-11-28T0200Z")
    assert (target / "payload.txt").read_text() == "model x\n"
    assert registry.current_version(models) == "2026-11-28T0200Z" and not staging.exists()
    assert not [p for p in models.iterdir() if p.name.startswith(".tmp-")]


def test_publish_that_loses_a_race_for_the_name_takes_the_next(tmp_path, monkeypatch):
    """Another publisher takes the name between the check and the rename: the rename fails
    and the next suffix is used; the other version is untouched."""
    models = tmp_path / "models"
    staging = make_staging(models)
    real_rename = os.rename

    def rename(source, target):
        if Path(target).name == "2026-11-28T0200Z":
            Path(target).mkdir()
            (Path(target) / "theirs.txt").write_text("other\n")
            raise OSError(errno.ENOTEMPTY, "Directory not empty")
        real_rename(source, target)

    monkeypatch.setattr(registry.os, "rename", rename)
    target = registry.publish(staging, models, "2026-11-28T0200Z")
    assert target.name == "2026-11-28T0200Z-2"
    assert (models / "2026-11-28T0200Z" / "theirs.txt").read_text() == "other\n"


def test_publish_refuses_reserved_names(tmp_path):
    models = tmp_path / "models"
    for bad in ("current", "runs", "../x", ".hidden"):
        with pytest.raises(InputError, match="invalid model version name"):
            registry.publish(make_staging(models), models, bad)


def test_list_versions_reads_metrics_and_marks_current(tmp_path):
    models = tmp_path / "models"
    registry.publish(make_staging(models, 0.4, 0.2), models, "2026-11-27T0200Z")
    registry.publish(make_staging(models, 0.5, 0.25), models, "2026-11-28T0200Z")
    (models / "rejected").mkdir()
    (models / "runs").mkdir()
    infos = registry.list_versions(models)
    assert [i.version for i in infos] == ["2026-11-27T0200Z", "2026-11-28T0200Z"]
    assert [i.is_current for i in infos] == [False, True]
    assert infos[0].warm_recall_at_10 == 0.4 and infos[0].cold_recall_at_10 == 0.2
    assert infos[1].created == "2026-11-28T02:00:00Z"


def test_suffixes_sort_numerically(tmp_path):
    models = tmp_path / "models"
    for _ in range(11):
        registry.publish(make_staging(models), models, "2026-11-28T0200Z")
    names = [i.version for i in registry.list_versions(models)]
    assert names[0] == "2026-11-28T0200Z"
    assert names[-1] == "2026-11-28T0200Z-11"
    assert names[1] == "2026-11-28T0200Z-2"


def test_rollback_to_previous_and_named(tmp_path):
    models = tmp_path / "models"
    for day in (26, 27, 28):
        registry.publish(make_staging(models), models, f"2026-11-{day}T0200Z")
    assert registry.rollback(models) == "2026-11-27T0200Z"
    assert registry.rollback(models) == "2026-11-26T0200Z"
    with pytest.raises(InputError, match="no version older than 2026-11-26T0200Z"):
        registry.rollback(models)
    assert registry.rollback(models, "2026-11-28T0200Z") == "2026-11-28T0200Z"
    with pytest.raises(InputError, match="no model version 'nope'"):
        registry.rollback(models, "nope")
    assert registry.current_version(models) == "2026-11-28T0200Z"


def test_rollback_without_model(tmp_path):
    with pytest.raises(ModelNotFoundError):
        registry.rollback(tmp_path / "models")


def test_prune_rejected_keeps_the_newest_candidates_only(tmp_path):
    models = tmp_path / "models"
    registry.publish(make_staging(models), models, "2026-11-20T0200Z")
    for day in range(21, 26):
        registry.reject(make_staging(models), models, {"version": f"2026-11-{day}T0200Z"})
    assert registry.prune_rejected(models, keep=2) == [f"2026-11-{day}T0200Z"
                                                       for day in (21, 22, 23)]
    assert sorted(p.name for p in (models / "rejected").iterdir()) == \
        ["2026-11-24T0200Z", "2026-11-25T0200Z"]
    assert registry.current_version(models) == "2026-11-20T0200Z"
    assert registry.prune_rejected(models, keep=2) == []


def test_prune_keeps_newest_and_current_and_leaves_other_dirs(tmp_path):
    models = tmp_path / "models"
    for day in range(20, 29):
        registry.publish(make_staging(models), models, f"2026-11-{day}T0200Z")
    registry.rollback(models, "2026-11-20T0200Z")
    registry.reject(make_staging(models), models, {"version": "2026-11-21T0200Z", "why": "t"})
    (models / "runs").mkdir()
    (models / "runs" / "r.json").write_text("{}")
    removed = registry.prune(models, keep=3)
    assert removed == [f"2026-11-{day}T0200Z" for day in range(21, 26)]
    left = [i.version for i in registry.list_versions(models)]
    assert left == ["2026-11-20T0200Z", "2026-11-26T0200Z", "2026-11-27T0200Z", "2026-11-28T0200Z"]
    assert (models / "rejected" / "2026-11-21T0200Z").is_dir()
    assert (models / "runs" / "r.json").exists()
    assert registry.current_version(models) == "2026-11-20T0200Z"
    with pytest.raises(InputError, match="--keep must be at least 1"):
        registry.prune(models, keep=0)


@settings(max_examples=25, deadline=None)
@given(count=st.integers(1, 9), keep=st.integers(1, 9), current_at=st.integers(0, 8))
def test_prune_invariants(tmp_path_factory, count, keep, current_at):
    models = tmp_path_factory.mktemp("p") / "models"
    names = [f"2026-11-{10 + i:02d}T0200Z" for i in range(count)]
    for name in names:
        registry.publish(make_staging(models), models, name)
    current = names[min(current_at, count - 1)]
    registry.rollback(models, current)
    registry.prune(models, keep=keep)
    left = [i.version for i in registry.list_versions(models)]
    assert current in left
    assert set(names[-keep:]) <= set(left)
    assert len(left) <= keep + 1
    assert registry.current_model_dir(models).name == current


def test_reject_keeps_candidate_with_report(tmp_path):
    models = tmp_path / "models"
    staging = make_staging(models)
    target = registry.reject(staging, models, {"decision": "rejected", "reasons": ["worse"]})
    assert target.parent == models / "rejected"
    assert json.loads((target / "rejection.json").read_text())["reasons"] == ["worse"]
    assert (target / "payload.txt").exists()
    assert registry.list_versions(models) == []


def test_clean_stale_temp_removes_dead_owners_only(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    dead = models / ".tmp-2026-11-28T0200Z-999999999"
    dead.mkdir()
    alive = models / f".tmp-2026-11-28T0200Z-{os.getppid()}"
    alive.mkdir()
    os.symlink("x", models / "current.tmp-999999998")
    removed = registry.clean_stale_temp(models)
    assert removed == [".tmp-2026-11-28T0200Z-999999999", "current.tmp-999999998"]
    assert alive.exists() and not dead.exists()


def test_write_json_atomic(tmp_path):
    path = tmp_path / "runs" / "a.json"
    registry.write_json_atomic(path, {"b": 1, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert os.listdir(path.parent) == ["a.json"]


def test_cli_models_list_and_rollback(tmp_path):
    models = tmp_path / "models"
    registry.publish(make_staging(models, 0.41, 0.2), models, "2026-11-27T0200Z")
    registry.publish(make_staging(models, 0.5, 0.25), models, "2026-11-28T0200Z")
    runner = CliRunner()
    result = runner.invoke(cli, ["models", "--models-dir", str(models), "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "warm R@10" in lines[0]
    assert lines[1].startswith("  2026-11-27T0200Z") and "0.410" in lines[1]
    assert lines[2].startswith("* 2026-11-28T0200Z") and "0.250" in lines[2]
    result = runner.invoke(cli, ["models", "--models-dir", str(models), "list", "--json"])
    assert [v["is_current"] for v in json.loads(result.output)] == [False, True]
    result = runner.invoke(cli, ["models", "--models-dir", str(models), "rollback"])
    assert result.exit_code == 0
    assert result.output == "models/current -> 2026-11-27T0200Z (was 2026-11-28T0200Z)\n"
    result = runner.invoke(cli, ["models", "--models-dir", str(models), "rollback", "v9"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: no model version 'v9' in models/")


def test_cli_models_list_empty(tmp_path):
    result = CliRunner().invoke(cli, ["models", "--models-dir", str(tmp_path / "models"), "list"])
    assert result.exit_code == 0
    assert "no model versions" in result.output


def test_verify_names_each_changed_missing_and_unlisted_file(tmp_path):
    """Regression: memory-mapped model files are not read whole at load, so a changed value
    went unnoticed; the manifest's sha256 of each file catches it."""
    from matcher.store.model import verify

    models = tmp_path / "models"
    version = registry.publish(make_staging(models), models, "2026-11-28T0200Z")
    assert verify(version) == 2
    (version / "payload.txt").write_text("model y\n")  # one byte changed
    (version / "metrics.json").unlink()
    (version / "stray.npy").write_bytes(b"")
    with pytest.raises(ModelLoadError) as error:
        verify(version)
    assert str(error.value) == (
        f"model directory {version} is damaged: metrics.json is missing; payload.txt differs "
        "from its manifest hash (changed after training); stray.npy is not in the manifest; "
        "retrain with `make train` or roll back with `twin models rollback`")
    (version / "manifest.json").unlink()
    with pytest.raises(ModelLoadError, match=r"has no manifest\.json listing its files"):
        verify(version)


def test_rollback_refuses_a_damaged_version(tmp_path):
    models = tmp_path / "models"
    older = registry.publish(make_staging(models), models, "2026-11-27T0200Z")
    registry.publish(make_staging(models), models, "2026-11-28T0200Z")
    (older / "payload.txt").write_text("changed\n")
    with pytest.raises(ModelLoadError, match=r"payload\.txt differs from its manifest hash"):
        registry.rollback(models)
    assert registry.current_version(models) == "2026-11-28T0200Z"


def test_cli_models_verify(tmp_path):
    models = tmp_path / "models"
    registry.publish(make_staging(models), models, "2026-11-28T0200Z")
    runner = CliRunner()
    base = ["models", "--models-dir", str(models), "verify"]
    result = runner.invoke(cli, base)
    assert result.exit_code == 0, result.output
    assert result.output == "2026-11-28T0200Z: 2 files match manifest.json\n"
    assert runner.invoke(cli, [*base, "2026-11-28T0200Z"]).output == result.output
    result = runner.invoke(cli, [*base, "v9"])
    assert result.exit_code == 2
    assert result.output == ("Error: no model version 'v9' in models/ "
                             "(versions: 2026-11-28T0200Z)\n")
    (models / "2026-11-28T0200Z" / "payload.txt").write_text("changed\n")
    result = runner.invoke(cli, base)
    assert result.exit_code == 1
    assert result.output.startswith("Error: model directory ")
    assert "payload.txt differs from its manifest hash" in result.output


def test_a_version_named_by_an_unfinished_promotion_is_not_listed(tmp_path):
    models = tmp_path / "models"
    registry.publish(make_staging(models, tag="a"), models, "2026-11-28T0200Z")
    pending = registry.install_version(make_staging(models, tag="b"), models, "2026-11-29T0200Z")
    registry.write_json_atomic(models / registry.PROMOTION_JOURNAL,
                               {"pid": 1, "version": pending.name})
    assert [v.version for v in registry.list_versions(models)] == ["2026-11-28T0200Z"]
    assert registry.prune(models, keep=1) == []
    with pytest.raises(InputError, match="no model version '2026-11-29T0200Z'"):
        registry.rollback(models, pending.name)
    registry.switch_current(models, pending.name)  # the promotion finished: a normal version
    assert [v.version for v in registry.list_versions(models)] == ["2026-11-28T0200Z",
                                                                  "2026-11-29T0200Z"]


def test_regression_rollback_with_a_dangling_current_lists_the_versions(tmp_path):
    """Bug: with `current` dangling, `twin models rollback` said "no trained model" although
    versions existed."""
    models = tmp_path / "models"
    registry.publish(make_staging(models, tag="a"), models, "2026-11-28T0200Z")
    os.unlink(models / "current")
    os.symlink("gone", models / "current")
    with pytest.raises(InputError, match=r"models/current points to no model; name the version "
                       r"to roll back to .* \(versions: 2026-11-28T0200Z\)"):
        registry.rollback(models)
    assert registry.rollback(models, "2026-11-28T0200Z") == "2026-11-28T0200Z"
