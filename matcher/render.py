"""Results as people read them: the text of `twin with`, the CSV rows of `twin with --csv`,
`twin lists` and the web app's download, and aligned plain-text tables."""

from __future__ import annotations

import csv
import io

from matcher.places.lookup import population_text

CSV_FIELDS = ("rank", "geonameid", "name", "country_code", "admin1", "lat", "lon", "population",
              "distance_km", "score", "compatibility", "probability", "performance", "appetite",
              "synergies", "query_ranks_partner", "partner_ranks_query", "reasons",
              "common_reasons")


def text_table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Aligned plain-text table; columns in `right` are right-aligned, the last is left free."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        parts[-1] = cells[-1]
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def csv_row(match, result) -> dict:
    """One match of `result` as a CSV row: the fields of CSV_FIELDS, reasons on one line, and
    the clauses the text says once above the list (a row read alone loses nothing)."""
    row = match.to_dict()
    row["reasons"] = match.reason
    row["common_reasons"] = "; ".join(result.said_once)
    return row


def recommendation_csv(result) -> str:
    """The CSV of `twin with --csv` (also the web app's download)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for match in result.matches:
        writer.writerow(csv_row(match, result))
    return buffer.getvalue()


def score_text(value: float | None, missing: str = "-") -> str:
    """A 0-100 sub-score as tables show it: '87', or `missing` where there is no data."""
    return missing if value is None else f"{value:.0f}"


def preamble(result) -> list[str]:
    """What stands above the rows: how the list was ranked, and the clauses said once."""
    query = result.query
    lines = []
    if not result.has_partnerships:
        lines.append(f"{query.name} has no recorded partnerships: ranked from its features and "
                     "nearby cities alone.")
    if result.stand_in is not None:
        lines.append(f"{query.name} is not in the model's city index, so it is scored as one "
                     "more city of it: its own place, size, country, region and neighbours; "
                     f"LightFM, which never saw it, reads it as {result.stand_in.name}, the "
                     "nearest city of the index in its country without partnerships. No list "
                     "holds it, so the ranking is its own side.")
    elif not result.ranked_by_others:
        lines.append(f"{query.name} is not among the cities the model recommends (no "
                     "partnerships and below its size floor), so no list holds it and the "
                     "ranking is its own side; where each partner would place it is read as if "
                     "it were a candidate (partner_ranks_query in the JSON and CSV).")
    if result.themes:
        lines.append(f"Themes of {query.name} matched against the candidates': "
                     f"{', '.join(result.themes)}.")
    if result.themes_unmatched:
        lines.append(f"No city has these themes in the data, so they cannot be matched: "
                     f"{', '.join(result.themes_unmatched)} (the open data tags ports, "
                     "heritage, climate commitments, capitals, diplomacy and air hubs; add "
                     "sectors with an indicators file: `twin data build --indicators`).")
    if result.weights:
        given = ", ".join(f"{name}={weight:g}" for name, weight in result.weights)
        lines.append(f"Re-ranked by your weights ({given}) among the model's best matches; the "
                     "model's compatibility weighs as much as your dimensions together unless "
                     "model= is given.")
    if result.precedent:
        parts = ", ".join(f"{code} {count}" for code, count in result.precedent)
        lines.append(f"Precedent: existing partnerships of {query.country_code} cities with "
                     f"{parts}; the reasons below speak of each pair.")
    if result.thin_precedent:
        parts = ", ".join(f"{query.country_code}-{code}: {count}"
                          for code, count in result.thin_precedent)
        lines.append(f"Thin precedent: few existing partnerships between these countries "
                     f"({parts}); the reasons speak of the cities themselves.")
    if result.said_once:
        lines.append(f"Common to most of these matches and {query.name}: "
                     f"{'; '.join(result.said_once)}.")
    return lines


def recommendation_text(result) -> list[str]:
    """The lines `twin with` prints."""
    query = result.query
    mode = "mutual" if result.mutual else "one-sided"
    cap = f"at most {result.per_country} per country" if result.per_country else "no country cap"
    lines = [f"Twin partners for {query.label()}  [{mode} ranking, {cap}]", *preamble(result)]
    if result.matches:
        headers = ["#", "city", "country", "population", "km", "compat", "perf", "appetite",
                   "synergy", "why"]
        rows = [[str(m.rank), m.name, m.country_code, population_text(m.population),
                 f"{m.distance_km:,.0f}", f"{m.compatibility:.1f}", score_text(m.performance),
                 score_text(m.appetite), score_text(m.synergies), m.reason] for m in result.matches]
        lines.extend(text_table(headers, rows, right={0, 3, 4, 5, 6, 7, 8}))
        lines.append("perf, appetite, synergy: 0-100, how close the two cities are on each "
                     "dimension's own data against all of the query's candidates (- : no data); "
                     "`twin explain` shows the values side by side.")
    else:
        lines.append("No city passes these filters; loosen --country, --max-km or the "
                     "population bounds.")
    partners = result.existing_partners
    if partners:
        shown = ", ".join(f"{p.name} ({p.country_code})" for p in partners[:30])
        more = f", and {len(partners) - 30} more" if len(partners) > 30 else ""
        lines.append(f"Existing partners, excluded above ({len(partners)}): {shown}{more}")
    return lines
