"""`twin data build` and `twin data fetch`: the data stage's commands (training.cli registers
them)."""

from __future__ import annotations

import click

from training.cli_options import open_data_dir, output_dir


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
    from training.data.build import build_data

    started = time.perf_counter()
    if not (partnership_files or user_files or wikidata_files):
        partnership_files = (str(config.DEFAULT_PARTNERSHIPS),)
    out = output_dir(out_dir) if out_dir else config.PROCESSED_DIR
    open_dir, open_note = open_data_dir(open_data, no_open_data)
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
    from training.data.wikidata import fetch_wikidata

    path = fetch_wikidata(output_dir(out_dir) if out_dir else config.RAW_DIR)
    click.echo(f"stored the {source} response in {path}; build with `twin data build "
               f"--wikidata {path}`")
