"""`twin nightly`: the nightly job's command (training.cli registers it)."""

from __future__ import annotations

import click

from training.cli_options import open_data_dir

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
    from training.nightly import job

    no_sources = not (partnership_files or user_files or wikidata_files)
    if no_sources and config.DEFAULT_PARTNERSHIPS.exists():
        partnership_files = (str(config.DEFAULT_PARTNERSHIPS),)
    open_dir, open_note = open_data_dir(open_data, no_open_data)
    if open_note:
        click.echo(open_note, err=True)
    options = job.NightlyOptions(
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
    job.exit_on_sigterm()
    result = job.run_nightly(options, say=lambda line: click.echo(line, err=True))
    summary = f"{result.message} ({result.where})"
    if result.exit_code == job.EXIT_PROMOTED:
        click.echo(f"promoted: {summary}")
    elif result.exit_code == job.EXIT_KEPT:
        click.echo(f"kept the current model, candidate rejected: {summary}")
        ctx.exit(job.EXIT_KEPT)
    elif result.exit_code == job.EXIT_REFUSED:
        raise ValidationError(f"new data refused, current model kept: {summary}")
    elif result.exit_code == job.EXIT_LOCKED:
        raise LockError(summary)
    else:
        raise CitytwinError(f"nightly run failed: {summary}")
