"""The `twin` command line: a thin click layer over the library; errors become `Error: ...`.

The console entry point (`main`). Serving commands are defined here; `twin serve` lives with the
web app and is imported only when asked for; other packages add theirs explicitly through the
`citytwin.commands` entry-point group (training's `register`, see pyproject.toml), loaded only
when a command is not a serving one, so `twin with` pays nothing for them.
"""

from __future__ import annotations

import os

import click

from matcher.cli_common import MODEL_OPTION, THEME_OPTION, load_matcher
from matcher.cli_models import models_group
from matcher.errors import CitytwinError


class CitytwinException(click.ClickException):
    """A ClickException that keeps the exit code of the CitytwinError it wraps."""

    def __init__(self, error: CitytwinError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


COMMAND_GROUP = "citytwin.commands"  # entry points: register(group) adds a package's commands
LAZY_COMMANDS = {"serve": ("matcher.web.serve", "serve_command")}  # imported when asked for


class TwinGroup(click.Group):
    """Turns every CitytwinError raised by a command into `Error: <message>` and its exit code;
    finds commands defined elsewhere only when they are asked for (LAZY_COMMANDS, then the
    packages registered under COMMAND_GROUP)."""

    _registered = False

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CitytwinError as error:
            raise CitytwinException(error) from error
        except BrokenPipeError:  # `twin with X | head`: the reader has all it wants
            _quiet_stdout()
            raise click.exceptions.Exit(0) from None


    def get_command(self, ctx: click.Context, name: str):
        command = super().get_command(ctx, name)
        if command is None and name in LAZY_COMMANDS:
            import importlib

            module, attribute = LAZY_COMMANDS[name]
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, name)
        if command is None and not self._registered:
            self.register_packages()
            command = super().get_command(ctx, name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.register_packages()
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def register_packages(self) -> None:
        """Let every package registered under COMMAND_GROUP add its commands (once)."""
        if self._registered:
            return
        self._registered = True
        from importlib.metadata import entry_points

        for entry in entry_points(group=COMMAND_GROUP):
            entry.load()(self)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail on the closed pipe
    (click alone exits 1 on it, as if something went wrong)."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@click.group(cls=TwinGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="citytwin")
def cli() -> None:
    """citytwin: which cities abroad should a city twin with?"""


cli.add_command(models_group)  # `twin models list|rollback|verify` (matcher/cli_models.py)


def main() -> None:
    """Console-script entry point."""
    # One BLAS thread unless the user sets it: serving multiplies small matrices, where
    # OpenBLAS threads cost more than they save, and the batch path runs its own threads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    cli(prog_name="twin")

# Serving commands (`with`, `explain`, `pair`) are defined below this line.


# ---- serving section: `twin with`, `twin explain` (serving helper) ----

_LISTS_QUERY_FIELDS = ("query_geonameid", "query_name", "query_country")
_LISTS_BRIEF_FIELDS = ("rank", "geonameid", "name", "country_code", "population")


@cli.command("with")
@click.argument("city")
@click.option("-k", "--top", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many partners to list.")
@click.option("--country", "countries", multiple=True, metavar="CODE|NAME",
              help="Only cities in this country (repeatable; ISO code or name).")
@click.option("--exclude-country", "exclude_countries", multiple=True, metavar="CODE|NAME",
              help="Never cities in this country (repeatable).")
@click.option("--include-domestic", is_flag=True,
              help="Also recommend cities in the query's own country.")
@click.option("--min-population", type=click.IntRange(min=0), default=None, metavar="N",
              help="Only partners of at least N inhabitants.")
@click.option("--max-population", type=click.IntRange(min=0), default=None, metavar="N",
              help="Only partners of at most N inhabitants.")
@click.option("--max-km", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Only cities at most this far away (great-circle km).")
@click.option("--per-country", type=click.IntRange(min=0), default=None,
              help="At most N partners from one country (0: no cap; default 3).")
@click.option("--mutual/--one-sided", default=None,
              help="Rank by both cities' interest (default) or by the query's side only.")
@THEME_OPTION
@click.option("--weigh", default=None, metavar="DIM=W,...",
              help="Re-rank the model's best matches by what matters to you, e.g. "
                   "performance=1,appetite=1,synergies=2 (the learned compatibility weighs "
                   "as much as these together unless model=W is given).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows.")
@MODEL_OPTION
def with_command(city: str, k: int, countries: tuple[str, ...],
                 exclude_countries: tuple[str, ...], include_domestic: bool,
                 min_population: int | None, max_population: int | None, max_km: float | None,
                 per_country: int | None, mutual: bool | None, themes: tuple[str, ...],
                 weigh: str | None, as_json: bool, as_csv: bool,
                 model_dir: str | None) -> None:
    """Which cities should CITY twin with? CITY: a name, 'Name, CC' or geonames:ID."""
    from matcher.errors import InputError

    if as_json and as_csv:
        raise InputError("--json and --csv: choose one output format")
    matcher = load_matcher(model_dir)
    extra = {} if per_country is None else {"per_country": per_country or None}
    spec = matcher.make_filters(
        k, countries=countries, exclude_countries=exclude_countries,
        include_domestic=include_domestic, min_population=min_population,
        max_population=max_population, max_km=max_km, mutual=mutual, themes=themes,
        weigh=weigh, cli_names=True, **extra)
    result = matcher.recommendation(city, spec)
    if as_json:
        import json

        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif as_csv:
        _echo_csv(result)
    else:
        from matcher.render import recommendation_text

        click.echo("\n".join(recommendation_text(result)))


def _echo_csv(result) -> None:
    from matcher.render import recommendation_csv

    click.echo(recommendation_csv(result), nl=False)


def _compile_notice() -> None:
    """Say so on stderr when the batch kernels have not been compiled yet (numba caches them in
    matcher/ranking/__pycache__ after the first run, which takes about 30 s)."""
    from pathlib import Path

    from matcher import ranking

    cache = Path(ranking.__file__).parent / "__pycache__"
    if not any(cache.glob("fused*.nbi")):
        click.echo("compiling the batch kernels (numba), once after an install: up to half a "
                   "minute ...",
                   err=True)


@cli.command("lists")
@click.argument("cities", nargs=-1)
@click.option("--all", "every_city", is_flag=True, help="Every city in the model.")
@click.option("-k", "--top", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--mutual/--one-sided", default=None, help="As for `twin with` (default mutual).")
@click.option("--include-domestic", is_flag=True)
@click.option("--per-country", type=click.IntRange(min=0), default=None,
              help="At most N partners from one country (0: no cap; default 3).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the CSV here (default: standard output).")
@click.option("--brief", is_flag=True,
              help="Only ranks, ids, names and populations, without scores and reasons: "
                   "about 15 s for --all instead of several minutes.")
@MODEL_OPTION
def lists_command(cities: tuple[str, ...], every_city: bool, k: int, mutual: bool | None,
                  include_domestic: bool, per_country: int | None, out: str | None,
                  brief: bool, model_dir: str | None) -> None:
    """Top-k partners for many CITIES (or --all) as CSV: one row per (city, rank) with the
    columns of `twin with --csv`, the same lists as `twin with` gives one at a time, ranked in
    batches."""
    import csv
    import sys

    import numpy as np

    from matcher.errors import InputError

    if bool(cities) == every_city:
        raise InputError("lists: give CITY arguments or --all, not both or neither")
    matcher = load_matcher(model_dir, verify=True)  # a batch: the manifest check is worth it
    extra = {} if per_country is None else {"per_country": per_country or None}
    spec = matcher.make_filters(k, include_domestic=include_domestic, mutual=mutual, **extra)
    rows = (np.arange(matcher.model.n_cities) if every_city
            else np.array([matcher.resolve(city) for city in cities], dtype=np.int64))
    if len(rows) > 1:
        _compile_notice()
    # everything is ranked before --out is touched: a failure keeps the file as it was
    results = None if brief else matcher.recommendations(rows, spec)
    lists = matcher.top_rows(rows, spec) if brief else None
    ids, ev = matcher.model.geonameids, matcher.evidence

    def write(handle) -> None:
        from matcher.render import CSV_FIELDS, csv_row

        fields = _LISTS_BRIEF_FIELDS if brief else CSV_FIELDS
        writer = csv.DictWriter(handle, fieldnames=(*_LISTS_QUERY_FIELDS, *fields),
                                lineterminator="\n")
        writer.writeheader()
        if brief:
            for query, picks in zip(rows.tolist(), lists, strict=True):
                head = {"query_geonameid": int(ids[query]), "query_name": ev.names[query],
                        "query_country": str(ev.country_codes[query])}
                for position, row in enumerate(picks.tolist(), start=1):
                    writer.writerow({**head, "rank": position, "geonameid": int(ids[row]),
                                     "name": ev.names[row], "country_code":
                                     str(ev.country_codes[row]),
                                     "population": int(ev.populations[row])})
            return
        for result in results:
            head = {"query_geonameid": result.query.geonameid,
                    "query_name": result.query.name, "query_country": result.query.country_code}
            for match in result.matches:
                writer.writerow({**head, **csv_row(match, result)})

    if out is None:
        write(sys.stdout)
        return
    from matcher.durable import atomic_text

    try:  # the whole CSV or the file as it was, never half of it
        with atomic_text(out, newline="") as handle:
            write(handle)
    except OSError as error:
        raise InputError(f"--out {out}: cannot write the lists ({error.strerror})") from error


@cli.command("explain")
@click.argument("city")
@click.argument("partner")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also print the re-ranker's signals (value and contribution).")
@THEME_OPTION
@MODEL_OPTION
def explain_command(city: str, partner: str, as_json: bool, verbose: bool,
                    themes: tuple[str, ...], model_dir: str | None) -> None:
    """Why CITY and PARTNER match (or not): compatibility, the three dimensions' values side by
    side, who connects the two, and how each ranks the other."""
    explanation = load_matcher(model_dir).explain(city, partner, themes=themes)
    if as_json:
        import json

        click.echo(json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(explanation.render(verbose=verbose))


# ---- end of serving section ----


from matcher.cli_pair import pair_command  # noqa: E402  (`twin pair`, matcher/cli_pair.py)

cli.add_command(pair_command)
__all__ = ["MODEL_OPTION", "THEME_OPTION", "cli", "main", "pair_command"]
