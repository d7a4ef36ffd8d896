"""`twin pair COUNTRY_A COUNTRY_B`: a bilateral programme as a table, CSV, JSON or HTML report."""

from __future__ import annotations

import click

from matcher.cli_common import MODEL_OPTION, load_matcher

# ---- pair section: `twin pair COUNTRY_A COUNTRY_B` (pairing helper) ----

_PAIR_CSV_FIELDS = (
    "matching", "a_geonameid", "a_name", "a_country_code", "a_admin1", "a_population",
    "b_geonameid", "b_name", "b_country_code", "b_admin1", "b_population", "distance_km",
    "score", "compatibility", "probability", "a_ranks_b", "b_ranks_a", "performance", "appetite",
    "synergies", "existing", "reasons", "common_reasons")


@click.command("pair")
@click.argument("country_a")
@click.argument("country_b")
@click.option("--min-population", type=click.IntRange(min=0), default=100_000,
              show_default=True, help="Candidate cities of each country from this size up.")
@click.option("--cities-a", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="COUNTRY_A's candidates instead: one city per line (name, 'Name, CC' or "
                   "geonames:ID).")
@click.option("--cities-b", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="COUNTRY_B's candidates, likewise.")
@click.option("--stable", "proposing", type=click.Choice(["a", "b"]), default="a",
              show_default=True, help="Which side proposes in the stable matching.")
@click.option("--capacity", type=click.IntRange(min=1), default=1, show_default=True,
              help="Partners each city may take in both matchings.")
@click.option("--include-existing", is_flag=True,
              help="Allow pairs that are already partners.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows (both matchings).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="Also write a self-contained HTML report (map and table).")
@MODEL_OPTION
def pair_command(country_a: str, country_b: str, min_population: int, cities_a: str | None,
                 cities_b: str | None, proposing: str, capacity: int, include_existing: bool,
                 as_json: bool, as_csv: bool, html_path: str | None,
                 model_dir: str | None) -> None:
    """Which cities of COUNTRY_A should twin with which of COUNTRY_B (ISO code, name or alias
    such as UK or Korea): the optimal assignment and a stable matching."""
    from pathlib import Path

    from matcher.errors import InputError
    from matcher.programme.pairing import pair_countries

    if as_json and as_csv:
        raise InputError("--json and --csv: choose one output format")
    matcher = load_matcher(model_dir)
    programme = pair_countries(
        matcher, country_a, country_b, min_population=min_population,
        cities_a=Path(cities_a) if cities_a else None,
        cities_b=Path(cities_b) if cities_b else None, stable=proposing, capacity=capacity,
        include_existing=include_existing)
    if html_path:
        from matcher.programme.report import write_report

        write_report(programme, Path(html_path), model_version=Path(matcher.model.path).name)
    if as_json:
        import json

        click.echo(json.dumps(programme.to_dict(), indent=2, ensure_ascii=False))
    elif as_csv:
        _echo_pair_csv(programme)
    else:
        _echo_programme(programme)
    if html_path:
        click.echo(f"wrote {html_path}", err=True)


def _echo_pair_csv(programme) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_PAIR_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for matching in (programme.assignment, programme.stable):
        for pair in matching.pairs:
            row = pair.to_dict()
            row["reasons"] = "; ".join(pair.reasons)
            row["common_reasons"] = "; ".join(matching.said_once)  # said once in the text
            writer.writerow({"matching": matching.method, **row})
    click.echo(buffer.getvalue(), nl=False)


def _echo_programme(programme) -> None:
    a, b = programme.country_a, programme.country_b
    click.echo(f"Bilateral programme {a} x {b}: {len(programme.candidates_a)} {a} cities "
               f"({programme.selection_a}), {len(programme.candidates_b)} {b} cities "
               f"({programme.selection_b}); up to {programme.capacity} partner(s) per city")
    existing = programme.existing
    fate = "allowed again" if programme.include_existing else "kept out of the new pairs"
    if existing:
        shown = ", ".join(f"{x.name} - {y.name}" for x, y in existing[:30])
        more = f", and {len(existing) - 30} more" if len(existing) > 30 else ""
        click.echo(f"Existing {a}-{b} partnerships ({len(existing)}, {fate}): {shown}{more}")
    else:
        click.echo(f"No existing {a}-{b} partnerships in the model.")
    proposer = {"a": a, "b": b}
    for matching in (programme.assignment, programme.stable):
        click.echo("")
        title = ("Optimal assignment (maximum total compatibility)"
                 if matching.method == "assignment"
                 else f"Stable matching ({proposer[matching.proposing]} cities propose)")
        click.echo(f"{title}: {len(matching.pairs)} pairs, total {matching.total:.3f}, "
                   f"mean {matching.mean:.3f}")
        if matching.said_once:
            click.echo(f"Common to most of these pairs: {'; '.join(matching.said_once)}.")
        if matching.pairs:
            from matcher.render import score_text, text_table

            headers = ["#", f"{a} city", f"{b} city", "km", "score", "compat", "perf",
                       "appetite", "synergy", "why"]
            rows = [[str(n), p.a.name, p.b.name, f"{p.distance_km:,.0f}", f"{p.score:.3f}",
                     f"{p.compatibility:.1f}", score_text(p.performance),
                     score_text(p.appetite), score_text(p.synergies), "; ".join(p.reasons)]
                    for n, p in enumerate(matching.pairs, start=1)]

            for line in text_table(headers, rows, right={0, 3, 4, 5, 6, 7, 8}):
                click.echo(line)
        blocking = matching.blocking_pairs
        if not blocking:
            click.echo("stability check: no blocking pair (no two cities would both rather "
                       "have each other)")
        else:
            shown = ", ".join(f"{x} - {y}" for x, y in blocking[:10])
            more = f", and {len(blocking) - 10} more" if len(blocking) > 10 else ""
            click.echo(f"stability check: {len(blocking)} blocking pairs ({shown}{more})")
        for code, names in ((a, matching.unmatched_a), (b, matching.unmatched_b)):
            if names:
                shown = ", ".join(names[:20]) + (f", and {len(names) - 20} more"
                                                 if len(names) > 20 else "")
                click.echo(f"unmatched {code} cities ({len(names)}): {shown}")


# ---- end of pair section ----
