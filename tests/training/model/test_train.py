"""Training end to end on tiny worlds: artifact, round trip, determinism, CLI, planted answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from matcher.cli import cli
from matcher.errors import DataError, InputError
from matcher.store.model import OPTIONAL_FILES, REQUIRED_FILES, Model
from training.model.fit import TrainConfig
from training.model.train import train_model


@pytest.fixture
def trained(tmp_path, processed_dir, tiny_config):
    return train_model(processed_dir, tmp_path / "model", tiny_config, progress=False)


def test_artifact_is_complete_and_loads_without_pickle(trained):
    for name in REQUIRED_FILES:
        assert (trained.out_dir / name).is_file(), name
    model = Model.load(trained.out_dir)
    assert model.n_cities == 20
    manifest = json.loads((trained.out_dir / "manifest.json").read_text())
    assert set(manifest["files"]) == set(REQUIRED_FILES + OPTIONAL_FILES) - {"manifest.json"}
    assert manifest["data"] == {"inputs": "tiny"}
    assert TrainConfig.from_dict(json.loads((trained.out_dir / "config.json").read_text())) \
        == trained.config


def test_metrics_cover_model_ablations_and_baselines(trained):
    metrics = json.loads((trained.out_dir / "metrics.json").read_text())
    assert {"model", "lightfm alone", "rerank without lightfm", "popularity", "geo_nearest",
            "country_pair", "feature_knn", "adamic_adar"} <= set(metrics["warm"])
    assert "recall@10_std" in metrics["cold"]["model"]


def test_same_data_and_config_give_the_same_top_lists(tmp_path, processed_dir, tiny_config):
    first = train_model(processed_dir, tmp_path / "a", tiny_config, progress=False)
    second = train_model(processed_dir, tmp_path / "b", tiny_config, progress=False)
    rows = np.arange(20)
    np.testing.assert_array_equal(
        np.argsort(-Model.load(first.out_dir).scores_batch(rows), axis=1, kind="stable")[:, :10],
        np.argsort(-Model.load(second.out_dir).scores_batch(rows), axis=1, kind="stable")[:, :10])


def test_model_finds_the_planted_partners(tmp_path, planted_dir):
    """Regions twin with one partner region abroad: the model must find held-out partners far
    better than popularity, for cities with history and for cities without."""
    config = TrainConfig(components=4, epochs=20, candidate_min_population=0,
                         rerank_negatives=10, holdout_fraction=0.15)
    result = train_model(planted_dir, tmp_path / "m", config, progress=False)
    for split in ("warm", "cold"):
        model, popularity = result.metrics[split]["model"], result.metrics[split]["popularity"]
        assert model["recall@10"] >= 0.5, (split, model)
        assert model["recall@10"] > popularity["recall@10"] + 0.2, (split, model, popularity)
    model = Model.load(result.out_dir)
    for split in ("warm", "cold"):  # stage two fitted, and measured beside stage one alone
        assert model.rerank[split]["refine"]["positives"] > 0
        assert "stage one alone" in result.metrics[split]
    names = list(model.column("name"))
    for query, partner_country in (("FR-r1-t0", "DE"), ("KR-r2-t3", "GB")):
        row = names.index(query)
        scores = model.scores(row)
        scores[model.partners_of(row)] = -np.inf
        top = [names[j] for j in np.argsort(-scores)[:3]]
        assert all(name.startswith(partner_country) for name in top), top
        assert top[0].startswith(f"{partner_country}-r{query[4]}"), top


def test_writing_into_a_non_empty_directory_is_refused(tmp_path, processed_dir, tiny_config):
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.txt").write_text("x")
    with pytest.raises(DataError, match="is not empty"):
        train_model(processed_dir, target, tiny_config, progress=False)


def test_missing_processed_data_names_the_command(tmp_path, tiny_config):
    with pytest.raises(DataError, match=r"no processed data in .*; run `make data`"):
        train_model(tmp_path, tmp_path / "model", tiny_config, progress=False)


def test_unknown_config_field_is_named():
    with pytest.raises(InputError, match=r"unknown TrainConfig fields \['colour'\]"):
        TrainConfig.from_dict({"colour": "blue"})


def test_cli_train_promotes_and_evaluate_writes_tables(tmp_path, processed_dir, monkeypatch):
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(TrainConfig(
        components=2, epochs=3, candidate_min_population=0, geo_radius_km=150.0,
        rerank_negatives=5, holdout_fraction=0.2).to_dict()))
    models = tmp_path / "models"
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--config", str(config_file), "--data-dir",
                                 str(processed_dir), "--models-dir", str(models)])
    assert result.exit_code == 0, result.output
    assert "(now current)" in result.output
    assert (models / "current" / "rerank.json").is_file()
    result = runner.invoke(cli, ["evaluate", "--config", str(config_file), "--data-dir",
                                 str(processed_dir), "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    assert "| warm | model |" in (tmp_path / "eval" / "evaluation.md").read_text()


def test_cli_train_without_data_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--data-dir", str(tmp_path / "nothing"),
                                      "--models-dir", str(tmp_path / "models")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no processed data in {tmp_path / 'nothing'}")
    assert "run `make data`" in result.output


def test_cli_bad_config_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(cli, ["train", "--config", str(bad)])
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: --config {bad}: not a readable JSON file")


def test_tune_is_seeded_and_chooses_on_validation_only(planted_dir):
    from training.model.train import TUNE_SPACE, tune

    base = TrainConfig(components=2, epochs=3, candidate_min_population=0,
                       rerank_negatives=10, holdout_fraction=0.15)
    first, history = tune(planted_dir, base, budget_seconds=600, trials=3, progress=False)
    second, _ = tune(planted_dir, base, budget_seconds=600, trials=3, progress=False)
    assert first == second
    assert len(history) == 3 and history[0]["config"] == base.to_dict()
    assert first.to_dict() in [entry["config"] for entry in history]
    best = max(history, key=lambda entry: entry["score"])
    assert first.to_dict() == best["config"]
    for entry in history[1:]:
        assert all(entry["config"][name] in values for name, values in TUNE_SPACE.items())


def test_tune_stops_at_its_time_budget(planted_dir):
    from training.model.train import tune

    base = TrainConfig(components=2, epochs=2, candidate_min_population=0,
                       rerank_negatives=10, holdout_fraction=0.15)
    _, history = tune(planted_dir, base, budget_seconds=0.001, trials=5, progress=False)
    assert len(history) == 1  # the base config always runs; the budget stops the rest
