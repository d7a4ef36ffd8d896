"""A pair's three dimensions side by side: each compared value of both cities with its source
and level, how close they are, and the sub-score (what `twin explain` and the pair page show).
"""

from __future__ import annotations

import math

import numpy as np

from matcher.columns import LEVEL_COUNTRY
from matcher.columns import OpenColumns as O
from matcher.explained.dimensions import (
    COMPARISONS,
    COMPLEMENT_TERMS,
    DIMENSIONS,
    GATEWAY_THEMES,
    DimensionData,
    asked_themes,
    subscores,
    terms,
)
from matcher.explained.facts import short_number
from matcher.profile import CATALOGUE_BY_NAME, SOURCES, city_level

_WHY = {c.column: c.why for c in COMPARISONS}
_TERM_LABELS = {"themes": "themes", "economy": "mature vs fast-growing economy",
                "gateway": "seaport beside an air hub"}


def value_text(value: object, unit: str = "") -> str:
    """A value as a person reads it: 'no data', 'yes', '0.9% a year', '$62k', '396k'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no data"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    number = float(value)
    if unit == "$":
        return short_number(number, money=True)
    if unit.startswith("%"):
        return f"{number:.1f}{unit}"
    if unit == "year":
        return f"{number:.0f}"
    if unit in ("inhabitants",):
        return short_number(number)
    text = f"{number:,.0f}" if abs(number) >= 10 or number.is_integer() else f"{number:.2f}"
    return f"{text} {unit}".strip() if unit not in ("destinations", "missions", "sites") \
        else text


def _shown(value: float, unit: str, binary: bool) -> str:
    return value_text(bool(value) if binary and value == value else value, unit)


def _level_note(data: DimensionData, model, column: str, row: int) -> str:
    info = CATALOGUE_BY_NAME.get(column)
    if info is None:
        return ""
    level = city_level(info, {info.level_column: model.column(info.level_column)[row]}
                       if info.level_column and model.has_column(info.level_column) else {})
    source = info.country_source if level == LEVEL_COUNTRY and info.country_source \
        else info.source
    return f"{SOURCES[source].short}{', country level' if level == LEVEL_COUNTRY else ''}"


def dimension_breakdown(matcher, query: int, partner: int, asked: tuple[str, ...] = ()) -> dict:
    """Per dimension: {"score", "values": [{label, query, partner, source_query,
    source_partner, closeness, compared_for, weight, why}, ...]} for `twin explain`."""
    data, ev, model = matcher.dimensions, matcher.evidence, matcher.model
    themes = asked_themes(data, query, asked)
    picked = np.array([partner])
    subs = subscores(data, query, ev.reference(query), picked, themes)
    out = {d: {"score": _rounded(subs[d][0]), "values": []} for d in DIMENSIONS}
    for term in terms(data, query, picked, themes):
        closeness = _rounded(term.values[0], 3)
        if term.name in data.raw:
            info = CATALOGUE_BY_NAME.get(term.name)
            unit = info.unit if info else ""
            raw = data.raw[term.name]
            binary = info is not None and info.kind == "binary"
            row = {"label": info.label if info else term.name,
                   "query": _shown(raw[query], unit, binary),
                   "partner": _shown(raw[partner], unit, binary),
                   "source_query": _level_note(data, model, term.name, query),
                   "source_partner": _level_note(data, model, term.name, partner),
                   "why": _WHY[term.name]}
        else:
            query_side, partner_side = _term_sides(matcher, term.name, query, partner, themes)
            row = {"label": _TERM_LABELS[term.name], "query": query_side,
                   "partner": partner_side, "source_query": "", "source_partner": "",
                   "why": COMPLEMENT_TERMS[term.name]}
        row.update(closeness=closeness, compared_for=term.compared_for, weight=term.weight)
        out[term.dimension]["values"].append(row)
    out["synergies"]["asked_unmatched"] = list(themes.unmatched)
    return out


def _term_sides(matcher, name: str, query: int, partner: int, themes) -> tuple[str, str]:
    data = matcher.dimensions
    if name == "themes":
        return (", ".join(themes.names) or "none"), (", ".join(data.themes_of(partner)) or "none")
    if name == "economy":
        gdp, pace = data.raw.get(O.GDP_PER_HEAD_PPP), data.raw.get(O.GDP_PER_HEAD_GROWTH)

        def economy(row: int) -> str:
            if gdp is None or pace is None:  # a model without the World Bank columns
                return "no data"
            return (f"{value_text(gdp[row], '$')} a head, growing "
                    f"{value_text(pace[row], '% a year')}")

        return economy(query), economy(partner)

    def gateway(row: int) -> str:
        return ", ".join(t for t in data.themes_of(row) if t in GATEWAY_THEMES) or "neither"

    return gateway(query), gateway(partner)


def _source(row: dict) -> str:
    """One source for the row, or each city's when they differ (a city's own value beside a
    country fallback)."""
    query, partner = row["source_query"], row["source_partner"]
    return query if query == partner else f"{query or '-'} / {partner or '-'}"


def _rounded(value: float, digits: int = 1) -> float | None:
    return None if not np.isfinite(value) else round(float(value), digits)


def render(dimensions: dict, query_name: str, partner_name: str) -> list[str]:
    """The breakdown as text lines: each dimension's score, then its values side by side."""
    rows = [row for d in DIMENSIONS for row in dimensions[d]["values"]]
    label = max([len(r["label"]) for r in rows] + [10])
    width = max([len(query_name), len(partner_name)]
                + [len(r[side]) for r in rows for side in ("query", "partner")])
    lines = [f"the three dimensions (0-100 against {query_name}'s candidates; values side by "
             "side, closeness 0-1):"]
    for dimension in DIMENSIONS:
        detail = dimensions[dimension]
        score = "no data" if detail["score"] is None else f"{detail['score']:.0f}"
        lines.append(f"  {dimension}: {score}")
        lines.append(f"    {'':<{label}}  {query_name:<{width}}  {partner_name:<{width}}"
                     "  closeness  source")
        for row in detail["values"]:
            closeness = "   -" if row["closeness"] is None else f"{row['closeness']:4.2f}"
            mode = "" if row["compared_for"] == "likeness" else "(complementarity)"
            note = " ".join(part for part in (_source(row), mode) if part)
            lines.append(f"    {row['label']:<{label}}  {row['query']:<{width}}  "
                         f"{row['partner']:<{width}}  {closeness:<9}  {note}".rstrip())
        if detail.get("asked_unmatched"):
            lines.append(f"    themes asked for that no city has in the data: "
                         f"{', '.join(detail['asked_unmatched'])}")
    return lines
