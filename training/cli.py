"""Training commands (`data`, `train`, `evaluate`, `nightly`), added to the `twin` group by
`register` (the `citytwin.commands` entry point in pyproject.toml; matcher.cli loads it when a
command is not a serving one). Nothing is added at import.

Heavy imports (pandas, lightfm, sklearn) happen inside the commands so `twin with` stays fast.
"""

from __future__ import annotations

import click

from matcher.cli import TwinGroup
from training.cli_data import data_group
from training.cli_nightly import nightly_command
from training.cli_options import output_dir


def main() -> None:
    """The console entry point (matcher.cli.main), kept for `python -c "from training.cli import
    main; main()"` in scripts and benchmarks."""
    from matcher.cli import main as twin_main

    twin_main()


def register(group: TwinGroup) -> None:
    """Add the training commands to the `twin` group (the entry point matcher.cli loads)."""
    for command in (train_command, evaluate_command, data_group, nightly_command):
        if command.name not in group.commands:
            group.add_command(command)


# ---- model section: `twin train`, `twin evaluate` (lead) ----


def _config_from_options(config_file: str | None, overrides: dict):
    import json
    from pathlib import Path

    from matcher.errors import InputError
    from training.model.fit import TrainConfig

    config = TrainConfig()
    if config_file:
        try:
            values = json.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"--config {config_file}: not a readable JSON file ({error})") \
                from error
        config = TrainConfig.from_dict(values)
    changes = {key: value for key, value in overrides.items() if value is not None}
    return config.replace(**changes) if changes else config


_CONFIG_OPTIONS = [
    click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
                 help="JSON TrainConfig to start from (e.g. a model's config.json)."),
    click.option("--epochs", type=click.IntRange(min=1), default=None),
    click.option("--components", type=click.IntRange(min=1), default=None),
    click.option("--seed", type=int, default=None),
    click.option("--threads", type=click.IntRange(min=1), default=None,
                 help="LightFM threads; only 1 is deterministic (the default)."),
    click.option("--min-population", "candidate_min_population", type=click.IntRange(min=0),
                 default=None, help="Population floor for candidates without partnerships "
                 "(never below the city table's floor, 15,000: every smaller city in the table "
                 "has partnerships)."),
    click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                 help="Processed data (default: data/processed)."),
]


def _with_config_options(command):
    for option in reversed(_CONFIG_OPTIONS):
        command = option(command)
    return command


@click.command("train")
@_with_config_options
@click.option("--tune", is_flag=True, help="Seeded hyper-parameter search on a validation "
              "split first (within --budget seconds).")
@click.option("--budget", type=click.FloatRange(min=1), default=600.0, show_default=True,
              help="Time budget of --tune, in seconds.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Evaluate over this many seeds (mean and spread in metrics.json).")
@click.option("--models-dir", type=click.Path(file_okay=False), default=None,
              help="Where versions live (default: models/).")
@click.option("--no-promote", is_flag=True, help="Write the version but leave `current` as is.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for the independent fits and the scoring (default: "
              "$TWIN_WORKERS, else up to 2); the model does not depend on it.")
def train_command(config_file, epochs, components, seed, threads, candidate_min_population,
                  data_dir, tune, budget, seeds, models_dir, no_promote, workers) -> None:
    """Train the hybrid model, evaluate it against the baselines, and promote it."""
    from pathlib import Path

    from matcher import config as paths
    from matcher.store import registry
    from training.model.evaluate import format_table
    from training.model.train import train_model
    from training.model.train import tune as tune_search

    processed = Path(data_dir) if data_dir else paths.PROCESSED_DIR
    models = Path(models_dir) if models_dir else paths.MODELS_DIR
    config = _config_from_options(config_file, {
        "epochs": epochs, "components": components, "seed": seed, "threads": threads,
        "candidate_min_population": candidate_min_population})
    if tune:
        config, history = tune_search(processed, config, budget, workers=workers)
        click.echo(f"tuning chose {config.to_dict()} after {len(history)} trials", err=True)
    staging = registry.staging_dir(models, "train")
    try:
        result = train_model(processed, staging / "model", config,
                             seeds=tuple(range(config.seed, config.seed + seeds)),
                             workers=workers)
        version_dir = staging / "model"
        if no_promote:
            target = registry.install_version(version_dir, models)
        else:
            target = registry.publish(version_dir, models)
    finally:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    click.echo(format_table(result.metrics))
    click.echo(f"trained in {result.seconds:.0f} s; model written to {target}"
               + ("" if no_promote else " (now current)"))


@click.command("evaluate")
@_with_config_options
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Repeat with this many seeds and report mean ± spread.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where to write evaluation.json and evaluation.md (default: the data dir).")
@click.option("--policies", is_flag=True, help="Also measure the serving policies (mutual vs "
              "one-sided ranking, per-country cap, diversity) as the CLI applies them.")
def evaluate_command(config_file, epochs, components, seed, threads, candidate_min_population,
                     data_dir, seeds, out_dir, policies) -> None:
    """Evaluate a TrainConfig (default: the current model's) beside every baseline."""
    import json
    from pathlib import Path

    from matcher import config as paths
    from matcher.errors import ModelNotFoundError
    from matcher.store import registry
    from training.model.evaluate import evaluate_config, format_table

    processed = Path(data_dir) if data_dir else paths.PROCESSED_DIR
    out = output_dir(out_dir) if out_dir else processed  # refused before the evaluation
    if config_file is None:
        try:
            current = registry.current_model_dir(paths.MODELS_DIR)
            config_file = str(current / "config.json")
        except ModelNotFoundError:  # no model yet: evaluate the default configuration
            config_file = None
    config = _config_from_options(config_file, {
        "epochs": epochs, "components": components, "seed": seed, "threads": threads,
        "candidate_min_population": candidate_min_population})
    metrics = evaluate_config(processed, config,
                              seeds=tuple(range(config.seed, config.seed + seeds)), progress=True)
    table = format_table(metrics)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n",
                                         encoding="utf-8")
    (out / "evaluation.md").write_text(table + "\n", encoding="utf-8")
    click.echo(table)
    click.echo(f"wrote {out / 'evaluation.json'} and {out / 'evaluation.md'}")
    if policies:
        from training.model.dataset import load_training_data
        from training.model.policy import evaluate_policies, format_policies

        policy_metrics = evaluate_policies(load_training_data(processed), config, config.seed)
        policy_table = format_policies(policy_metrics)
        (out / "policies.json").write_text(json.dumps(policy_metrics, indent=2) + "\n",
                                           encoding="utf-8")
        (out / "policies.md").write_text(policy_table + "\n", encoding="utf-8")
        click.echo(policy_table)
        click.echo(f"wrote {out / 'policies.json'} and {out / 'policies.md'}")




