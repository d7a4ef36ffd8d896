"""Training commands (`data`, `train`, `evaluate`, `nightly`), added to the `twin` group by
`register` (the `citytwin.commands` entry point in pyproject.toml; matcher.cli loads it when a
command is not a serving one). Nothing is added at import.

Heavy imports (pandas, lightfm, sklearn) happen inside the commands so `twin with` stays fast.
"""

from __future__ import annotations

import os

import click

from matcher.cli import TwinGroup


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


def _output_dir(path, option: str = "--out"):
    """Check an output directory can be made, before any long work (nothing is created here):
    its nearest existing ancestor must be a writable directory."""
    from pathlib import Path

    from matcher.errors import InputError

    path = existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{option} {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: {existing} is not writable")
    return path


# Training commands are defined below this line, one section per stage.


# ---- model section: `twin train`, `twin evaluate` (lead) ----


def _config_from_options(config_file: str | None, overrides: dict):
    import json
    from pathlib import Path

    from matcher.errors import InputError
    from training.fit import TrainConfig

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
    from matcher import registry
    from training.evaluate import format_table
    from training.train import train_model
    from training.train import tune as tune_search

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
    from matcher import registry
    from matcher.errors import ModelNotFoundError
    from training.evaluate import evaluate_config, format_table

    processed = Path(data_dir) if data_dir else paths.PROCESSED_DIR
    out = _output_dir(out_dir) if out_dir else processed  # refused before the evaluation
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
        from training.dataset import load_training_data
        from training.policy import evaluate_policies, format_policies

        policy_metrics = evaluate_policies(load_training_data(processed), config, config.seed)
        policy_table = format_policies(policy_metrics)
        (out / "policies.json").write_text(json.dumps(policy_metrics, indent=2) + "\n",
                                           encoding="utf-8")
        (out / "policies.md").write_text(policy_table + "\n", encoding="utf-8")
        click.echo(policy_table)
        click.echo(f"wrote {out / 'policies.json'} and {out / 'policies.md'}")


# ---- data section: `twin data build`, `twin data fetch` (data foundation helper) ----


@click.group("data")
def data_group() -> None:
    """Build the data tables (cities, partnerships, features) from partnership sources."""


def _print_report(report, out_dir, elapsed: float, open_note: str = "") -> None:
    click.echo(f"rows in:              {report.rows_in}")
    click.echo(f"resolved (both ends): {report.rows_resolved} ({report.resolution_rate:.1%})")
    click.echo(f"unique partnerships:  {report.unique_partnerships}")
    click.echo(f"cities:               {report.cities}")
    click.echo(f"duplicates merged:    {report.duplicates_merged}")
    click.echo(f"within 30 km:         {report.within_30km_rate:.1%} of resolved ends")
    rejected = ", ".join(f"{reason} {count}" for reason, count in
                         sorted(report.rejected.items(), key=lambda kv: (-kv[1], kv[0])))
    click.echo(f"rejected by reason:   {rejected or 'none'}")
    if open_note:
        click.echo(open_note)
    for table, join in report.open_data.items():
        click.echo(f"open data {table + ':':<12}{join['rows_joined']:>6} of {join['rows_in']:>6} "
                   f"rows joined ({join['join_rate']:.1%})")
    click.echo(f"elapsed:              {elapsed:.1f} s")
    click.echo(f"wrote {out_dir}/ (cities, countries, partnerships, features, report.json, "
               f"unresolved.csv, manifest.json"
               + (", opendata_unjoined.csv)" if report.open_data else ")"))


def _open_data_dir(open_data, no_open_data):
    """The open-data folder to build with (or None) and the report line when there is none:
    --no-open-data wins over the default; without either, the embedded data/open if present."""
    from pathlib import Path

    from matcher import config
    from matcher.errors import InputError

    if no_open_data and open_data:
        raise InputError("--open-data and --no-open-data contradict each other; give one")
    if no_open_data:
        return None, ("open data:            skipped (--no-open-data): features are GeoNames "
                      "and partnership facts only")
    if open_data:
        return Path(open_data), ""
    if config.DEFAULT_OPEN_DATA.is_dir():
        return config.DEFAULT_OPEN_DATA, ""
    return None, (f"open data:            none ({config.DEFAULT_OPEN_DATA} is absent); pass "
                  "--open-data DIR to add it")


@data_group.command("build")
@click.option("--partnerships", "partnership_files", multiple=True,
              type=click.Path(dir_okay=False),
              help="Snapshot-format CSV, plain, .xz or .gz (repeatable; default: the embedded "
                   "data/twin_cities.csv.xz when no source is given).")
@click.option("--user", "user_files", multiple=True, type=click.Path(dir_okay=False),
              help="User partnership CSV keyed by geonameid_1,geonameid_2 or "
                   "city_1,country_1,city_2,country_2 (repeatable).")
@click.option("--wikidata", "wikidata_files", multiple=True, type=click.Path(dir_okay=False),
              help="Stored Wikidata P190 JSON from `twin data fetch` (repeatable).")
@click.option("--indicators", type=click.Path(dir_okay=False), default=None,
              help="City indicator CSV (needs --indicator-schema).")
@click.option("--indicator-schema", type=click.Path(dir_okay=False), default=None,
              help="JSON schema of the indicator CSV's columns.")
@click.option("--open-data", "open_data", type=click.Path(), default=None,
              help="Folder of open tables (UN WUP, airports, ports, missions, Covenant of "
                   "Mayors, World Heritage, World Bank; plain, .xz or .gz) joined to the cities "
                   "as features (default: the embedded data/open when it exists).")
@click.option("--no-open-data", is_flag=True, help="Build without the open tables.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output directory (default: data/processed).")
def data_build_command(partnership_files, user_files, wikidata_files, indicators,
                       indicator_schema, open_data, no_open_data, out_dir) -> None:
    """Ingest, resolve to GeoNames and write the processed tables with a report."""
    import sys
    import time
    from pathlib import Path

    from tqdm import tqdm

    from matcher import config
    from training.build import build_data

    started = time.perf_counter()
    if not (partnership_files or user_files or wikidata_files):
        partnership_files = (str(config.DEFAULT_PARTNERSHIPS),)
    out = _output_dir(out_dir) if out_dir else config.PROCESSED_DIR
    open_dir, open_note = _open_data_dir(open_data, no_open_data)
    report = build_data(
        [Path(p) for p in partnership_files], out,
        user_files=[Path(p) for p in user_files],
        wikidata_files=[Path(p) for p in wikidata_files],
        indicators=Path(indicators) if indicators else None,
        indicator_schema=Path(indicator_schema) if indicator_schema else None,
        open_data=open_dir,
        progress=lambda items: tqdm(items, desc="resolving city names", unit="name",
                                    file=sys.stderr, leave=False, mininterval=0.5),
    )
    _print_report(report, out, time.perf_counter() - started, open_note)


@data_group.command("fetch")
@click.option("--source", type=click.Choice(["wikidata"]), required=True,
              help="Which live source to download.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where to store the response (default: data/raw).")
def data_fetch_command(source, out_dir) -> None:
    """Download a live partnership source and store it with a UTC timestamp in its name."""
    from matcher import config
    from training.wikidata import fetch_wikidata

    path = fetch_wikidata(_output_dir(out_dir) if out_dir else config.RAW_DIR)
    click.echo(f"stored the {source} response in {path}; build with `twin data build "
               f"--wikidata {path}`")


# ---- end of data section ----


# ---- nightly section: `twin nightly` (registry/nightly helper) ----

NIGHTLY_EPILOG = """\b
Exit codes:
   0  candidate promoted: models/current points to the new version
  10  current model kept: the candidate failed the gate (kept in models/rejected/)
   3  new data refused by validation (empty/broken source, schema change,
      resolution rate down > 5 points, partnerships down > 20%); current kept
   4  another nightly run holds the lock (models/.nightly.lock)
   1  the run failed (see the traceback in the run report)
 143  stopped by SIGTERM: the candidate is removed, the report says interrupted
Every run writes models/runs/<run>.json (stages with durations, data counts,
metrics of both models, decision, exit code).
"""


@click.command("nightly", epilog=NIGHTLY_EPILOG)
@click.option(
    "--partnerships",
    "partnership_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Partnership snapshot CSV (repeatable; default: the embedded snapshot).",
)
@click.option(
    "--user",
    "user_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="User partnership CSV (repeatable).",
)
@click.option(
    "--wikidata",
    "wikidata_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Wikidata P190 export (repeatable).",
)
@click.option(
    "--indicators", type=click.Path(dir_okay=False), default=None, help="City indicator CSV."
)
@click.option(
    "--indicator-schema",
    type=click.Path(dir_okay=False),
    default=None,
    help="Schema of the indicator CSV.",
)
@click.option("--open-data", "open_data", type=click.Path(), default=None,
              help="Folder of open tables joined to the cities (default: the embedded "
                   "data/open when it exists).")
@click.option("--no-open-data", is_flag=True, help="Build without the open tables.")
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Model versions (and rejected candidates) to keep.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0.0),
    default=0.01,
    show_default=True,
    help="How far below the current model's recall@10 a candidate may be.",
)
@click.option(
    "--max-list-change",
    type=click.FloatRange(min=0.0, max=1.0),
    default=0.5,
    show_default=True,
    help="Largest share of sampled cities whose served top 10 may change (1: report only).",
)
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Model registry (default: models/ or $CITYTWIN_MODELS_DIR).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Data root: runs build into DIR/nightly/<run>/, promoted data goes to "
    "DIR/processed (default: data/ or $CITYTWIN_DATA_DIR).",
)
@click.option(
    "--accept-data-change",
    is_flag=True,
    help="Skip the comparison with the last good data once (after a deliberate "
    "schema or source change).",
)
@click.pass_context
def nightly_command(
    ctx: click.Context,
    partnership_files,
    user_files,
    wikidata_files,
    indicators,
    indicator_schema,
    open_data,
    no_open_data,
    keep,
    tolerance,
    max_list_change,
    models_dir,
    data_dir,
    accept_data_change,
) -> None:
    """Retrain on fresh data and promote the model only if it is at least as good.

    Stages: check sources, build data, validate against the last good run, train a
    candidate, compare it with the current model (its recorded metrics when the config is
    unchanged, else its config re-evaluated on the new data; and how many cities' top 10
    change), gate (beat every baseline, trail the current model by at most --tolerance
    recall@10, warm and cold, at most --max-list-change of the lists changed), promote
    atomically or keep the candidate under models/rejected/, prune.
    """
    from pathlib import Path

    from matcher import config
    from matcher.errors import CitytwinError, LockError, ValidationError
    from training import nightly

    no_sources = not (partnership_files or user_files or wikidata_files)
    if no_sources and config.DEFAULT_PARTNERSHIPS.exists():
        partnership_files = (str(config.DEFAULT_PARTNERSHIPS),)
    open_dir, open_note = _open_data_dir(open_data, no_open_data)
    if open_note:
        click.echo(open_note, err=True)
    options = nightly.NightlyOptions(
        partnership_files=tuple(Path(p) for p in partnership_files),
        user_files=tuple(Path(p) for p in user_files),
        wikidata_files=tuple(Path(p) for p in wikidata_files),
        indicators=Path(indicators) if indicators else None,
        indicator_schema=Path(indicator_schema) if indicator_schema else None,
        open_data=open_dir,
        models_dir=Path(models_dir) if models_dir else config.MODELS_DIR,
        data_dir=Path(data_dir) if data_dir else config.DATA_DIR,
        keep=keep,
        tolerance=tolerance,
        max_list_change=max_list_change,
        accept_data_change=accept_data_change,
    )
    nightly.exit_on_sigterm()
    result = nightly.run_nightly(options, say=lambda line: click.echo(line, err=True))
    summary = f"{result.message} ({result.where})"
    if result.exit_code == nightly.EXIT_PROMOTED:
        click.echo(f"promoted: {summary}")
    elif result.exit_code == nightly.EXIT_KEPT:
        click.echo(f"kept the current model, candidate rejected: {summary}")
        ctx.exit(nightly.EXIT_KEPT)
    elif result.exit_code == nightly.EXIT_REFUSED:
        raise ValidationError(f"new data refused, current model kept: {summary}")
    elif result.exit_code == nightly.EXIT_LOCKED:
        raise LockError(summary)
    else:
        raise CitytwinError(f"nightly run failed: {summary}")


# ---- end of nightly section ----
