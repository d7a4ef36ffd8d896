"""The three matching dimensions, each measured on its own data: what is compared, for likeness
or complementarity, and why; per pair a 0-1 closeness, calibrated 0-100 against the query's
candidates.

A comparison's closeness is 1 / (1 + (d / s)^2), d the two cities' difference on its scale
(log1p for counts and sizes) and s the value's spread over the candidates (the larger of
IQR / 1.349 and the standard deviation): 1 for equal values, 0.5 one spread apart. A
dimension's raw score is the weighted mean of its terms that both cities have data for; its
sub-score is that raw score's mid-rank percentile among the query's reference candidates
(matcher.explained.evidence), so 80 means "closer on this dimension than 80% of the cities it could
be matched with". No data on either side: the sub-score is None, never a made-up 50.

Synergies add three terms that are not per-value likeness: the share of the query's themes
(its own, from the data, and any it asks for) that the candidate has, each theme weighted by
its rarity; a mature economy beside a fast-growing one; a seaport beside an air hub.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from matcher.columns import Columns as C
from matcher.columns import OpenColumns as O
from matcher.errors import InputError
from matcher.ranking.rank import midrank_percentile
from matcher.store.cityindex import as_numbers

DIMENSIONS = ("performance", "appetite", "synergies")
LIKENESS, COMPLEMENT = "likeness", "complementarity"
THEME_WEIGHT = 2.0  # the themes term counts double: it is the dimension's own stated evidence
ECONOMY_WEIGHT = 1.0
GATEWAY_WEIGHT = 0.5
RELATED_CREDIT = 0.5  # a related theme (RELATED_THEMES) counts half a shared one
GATEWAY_THEMES = ("maritime", "aviation-hub")


@dataclass(frozen=True)
class Comparison:
    """One per-city value compared for likeness: the column, its dimension, its scale
    ("log": log1p of a count or size; "linear"; "binary"), its weight and why it is compared."""

    column: str
    dimension: str
    scale: str
    weight: float
    why: str
    zero_unknown: bool = False  # 0 means "none recorded", not a measured zero: no data


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(C.POPULATION, "performance", "log", 1.0,
               "cities of a size share services, budgets and problems"),
    Comparison(O.GROWTH_2000_2020, "performance", "linear", 1.0,
               "the same trajectory: growing, stable or shrinking"),
    Comparison(O.GROWTH_2020_2035, "performance", "linear", 1.0,
               "the same trajectory ahead"),
    Comparison(O.GDP_PER_HEAD_PPP, "performance", "log", 1.0,
               "economies at a similar level can copy each other's policies"),
    Comparison(O.GDP_PER_HEAD_GROWTH, "performance", "linear", 0.5, "a similar economic pace"),
    Comparison(O.RND_SHARE, "performance", "linear", 0.5, "a similar innovation effort"),
    Comparison(O.PATENTS_PER_MILLION, "performance", "log", 0.5, "a similar innovation output"),
    Comparison("partnership_count", "appetite", "log", 1.0,
               "a similar appetite: as many partnerships to share the work (none recorded is "
               "no data, not no appetite: a city new to twinning is compared on the rest)",
               zero_unknown=True),
    Comparison("partner_country_count", "appetite", "log", 1.0,
               "as wide a reach abroad", zero_unknown=True),
    Comparison(O.AIRPORT_INTL_DESTINATIONS, "appetite", "log", 1.0,
               "as well connected by air"),
    Comparison(O.DIPLOMATIC_MISSIONS, "appetite", "log", 1.0,
               "as present on the diplomatic map"),
    Comparison(O.SEAPORT, "appetite", "binary", 0.5, "both open to the sea, or neither"),
    Comparison(O.FDI_SHARE, "appetite", "linear", 0.5, "economies as open to investment"),
    Comparison(O.TOURISM_SHARE, "appetite", "linear", 0.5, "as open to visitors"),
    Comparison(O.CLIMATE_TARGET_YEAR, "synergies", "linear", 1.0,
               "the same climate horizon (Covenant of Mayors signatories only)"),
)
COMPLEMENT_TERMS = {
    "themes": "shared ambitions: the query's themes that the partner has too, rare ones "
              "weighing more (likeness)",
    "economy": "a mature economy beside a fast-growing one: one richer per head, the other "
               "growing faster (World Bank; complementarity)",
    "gateway": "a seaport without an air hub beside an air hub without a port: a sea gateway "
               "and an air gateway complete each other's logistics (complementarity)",
}

THEME_ALIASES = {"port": "maritime", "ports": "maritime", "seaport": "maritime",
                 "airport": "aviation-hub", "aviation": "aviation-hub", "climate": "climate-action",
                 "net-zero": "climate-neutral-2050", "capital": "government",
                 "culture": "heritage", "world-heritage": "heritage"}
RELATED_THEMES = {
    "smart-city": ("climate-action", "climate-2030", "climate-neutral-2050"),
}
"""Asked themes no open table tags, and the open themes that stand for part of them (half
credit): a smart-city programme is mostly energy, mobility and climate planning, which a
Covenant of Mayors commitment publishes."""


def tag_form(text: str) -> str:
    """'Smart City' or 'smart_city' -> 'smart-city': the one written form of a tag (user tag
    files are read with it too, training.data.indicators.normalise_tags)."""
    return "-".join(part for part in re.split(r"[\s_-]+", str(text).strip().casefold()) if part)


def normalise_theme(text: str) -> str:
    """tag_form, then the open data's name for an alias ('port' -> 'maritime')."""
    tag = tag_form(text)
    return THEME_ALIASES.get(tag, tag)


def theme_list(themes) -> tuple[str, ...]:
    """The asked themes as the query states them: normalised, blanks dropped, each once
    (InputError for a bare string, which would be read letter by letter)."""
    if isinstance(themes, str):
        raise InputError("themes: give a list, e.g. ['smart-city']")
    return tuple(dict.fromkeys(normalise_theme(t) for t in themes if str(t).strip()))


def parse_weights(text: str | dict | None) -> tuple[tuple[str, float], ...]:
    """'performance=1,appetite=1,synergies=2' (or a dict) -> ((dimension, weight), ...);
    `model` names the learned compatibility itself (default: as much as the dimensions
    together, weighted_order)."""
    if text is None or text == "" or text == {}:
        return ()
    items = text.items() if isinstance(text, dict) else [
        part.split("=", 1) if "=" in part else (part, "") for part in str(text).split(",")]
    known = (*DIMENSIONS, "model")
    out = {}
    for name, value in items:
        name = str(name).strip().lower()
        if name not in known:
            raise InputError(f"weigh: unknown dimension {name!r}; use {', '.join(known)}, "
                             "e.g. performance=1,appetite=1,synergies=2")
        try:
            weight = float(value)
        except (TypeError, ValueError):
            raise InputError(f"weigh: {name} needs a number, e.g. {name}=2, got "
                             f"{value!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise InputError(f"weigh: {name}={value} must be a number of 0 or more")
        out[name] = weight
    if not any(out.values()) or not (out.get("model", 0) or any(out.get(d) for d in DIMENSIONS)):
        raise InputError("weigh: every weight is 0; give at least one a positive weight")
    return tuple(out.items())


def _spread(values: np.ndarray) -> float:
    """The larger of IQR / 1.349 (the sd of a normal) and the sd of the finite values, else 1:
    counts pile up at 0 and 1, where the IQR alone would call 3 and 25 partnerships worlds
    apart."""
    finite = np.sort(values[np.isfinite(values)])
    if len(finite) < 2:
        return 1.0
    low, high = np.interp([0.25, 0.75], np.linspace(0, 1, len(finite)), finite)  # percentiles
    spread = max((high - low) / 1.349, float(finite.std()))
    return float(spread) if spread > 0 else 1.0


def _scaled(raw: np.ndarray, scale: str) -> np.ndarray:
    values = np.asarray(raw, dtype=np.float64)
    return np.log1p(np.maximum(values, 0.0)) if scale == "log" else values


@dataclass(frozen=True)
class DimensionData:
    """Every city's values on the scale they are compared on, their spreads, and the theme
    matrix (from the model's synergies features: open-data themes and user tags)."""

    values: dict[str, np.ndarray]  # column -> scaled values, NaN where unknown
    raw: dict[str, np.ndarray]  # column -> the values as the data gives them
    spreads: dict[str, float]
    themes: np.ndarray  # (cities, themes) bool
    theme_names: tuple[str, ...]
    theme_sources: tuple[str, ...]  # the column each theme comes from ("themes", "sectors", ...)
    rarity: np.ndarray  # (themes,) log(candidates / (1 + cities with it)), at least 0.1

    @classmethod
    def from_model(cls, model, candidate: np.ndarray,
                   sample: np.ndarray | None = None) -> DimensionData:
        """Collect the compared columns the model's city index holds (older models: fewer);
        spreads over the candidates `sample` (default: every candidate)."""
        sample = np.flatnonzero(candidate) if sample is None else sample
        values, spreads, raws = {}, {}, {}
        for comparison in COMPARISONS:
            if not model.has_column(comparison.column):
                continue
            raw = as_numbers(model.column(comparison.column))
            if comparison.zero_unknown:
                raw = np.where(raw == 0, np.nan, raw)
            raws[comparison.column] = raw
            values[comparison.column] = scaled = _scaled(raw, comparison.scale)
            spreads[comparison.column] = _spread(scaled[sample])
        themes, names, sources = _theme_matrix(model)
        themes[list(getattr(model, "borrowed_rows", ()))] = False  # another city's features
        counts = themes[candidate].sum(axis=0)
        rarity = np.maximum(np.log(max(int(candidate.sum()), 1) / (1.0 + counts)), 0.1)
        return cls(values, raws, spreads, themes, names, sources, rarity)

    def theme_index(self, theme: str) -> int | None:
        return self.theme_names.index(theme) if theme in self.theme_names else None

    def themes_of(self, row: int) -> tuple[str, ...]:
        return tuple(self.theme_names[t] for t in np.flatnonzero(self.themes[row]))


def _theme_matrix(model) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """The synergies group's category and tag features (not its numeric bins or yes flags)
    as a bool matrix, one column per theme (a tag in two columns is one theme), read in one
    pass over the feature matrix's entries."""
    features = model.features
    theme_of = np.full(features.shape[1], -1, dtype=np.int64)
    picked: dict[str, int] = {}
    sources: dict[str, str] = {}
    for position, (name, group) in enumerate(zip(model.feature_names, model.feature_groups,
                                                 strict=True)):
        column, _, value = name.partition("=")
        if group != "synergies" or not value or value == "yes" or (
                value.startswith("bin") and value[3:].isdigit()):
            continue
        tag = normalise_theme(value)
        theme_of[position] = picked.setdefault(tag, len(picked))
        sources.setdefault(tag, column)
    out = np.zeros((features.shape[0], len(picked)), dtype=bool)
    themed = theme_of[features.indices]
    hit = np.flatnonzero((themed >= 0) & (features.data != 0))
    rows = np.searchsorted(features.indptr, hit, side="right") - 1  # the entries' rows
    out[rows, themed[hit]] = True
    return out, tuple(picked), tuple(sources[t] for t in picked)


@dataclass(frozen=True)
class AskedThemes:
    """A query's themes: its own from the data plus those the user stated, as theme columns
    with their credit (1 shared, RELATED_CREDIT related), and the stated ones no city has."""

    columns: np.ndarray  # theme indices
    credit: np.ndarray  # (len(columns), themes) credit a candidate's theme earns
    names: tuple[str, ...]  # the query's themes, own and asked, in that order
    unmatched: tuple[str, ...]


def asked_themes(data: DimensionData, query: int, asked: tuple[str, ...] = ()) -> AskedThemes:
    """The query's themes and how each candidate theme counts towards them."""
    own = [data.theme_names[t] for t in np.flatnonzero(data.themes[query])]
    wanted = list(dict.fromkeys([*own, *(normalise_theme(t) for t in asked)]))
    columns, rows, unmatched = [], [], []
    for theme in wanted:
        credit = np.zeros(len(data.theme_names))
        index = data.theme_index(theme)
        if index is not None and data.themes[:, index].any():
            credit[index] = 1.0
        for related in RELATED_THEMES.get(theme, ()):
            at = data.theme_index(related)
            if at is not None:
                credit[at] = max(credit[at], RELATED_CREDIT)
        if not credit.any():
            unmatched.append(theme)
            continue
        columns.append(int(np.argmax(credit)))
        rows.append(credit)
    credit = np.vstack(rows) if rows else np.zeros((0, len(data.theme_names)))
    return AskedThemes(np.array(columns, dtype=np.int64), credit,
                       tuple(t for t in wanted if t not in unmatched), tuple(unmatched))


def _closeness(data: DimensionData, column: str, query: int, rows: np.ndarray) -> np.ndarray:
    delta = (data.values[column][rows] - data.values[column][query]) / data.spreads[column]
    return 1.0 / (1.0 + delta * delta)


def economy_complement(data: DimensionData, query: int, rows: np.ndarray) -> np.ndarray:
    """0-1: one richer per head and the other growing faster (each gap in spreads, capped at
    1, multiplied); 0 when the richer one also grows faster; NaN without the data."""
    level, growth = O.GDP_PER_HEAD_PPP, O.GDP_PER_HEAD_GROWTH
    if level not in data.values or growth not in data.values:
        return np.full(len(rows), np.nan)
    gap = (data.values[level][rows] - data.values[level][query]) / data.spreads[level]
    pace = (data.values[growth][rows] - data.values[growth][query]) / data.spreads[growth]
    return np.where(gap * pace < 0, np.minimum(np.abs(gap), 1) * np.minimum(np.abs(pace), 1),
                    0.0)


def gateway(data: DimensionData, query: int, rows: np.ndarray) -> np.ndarray | None:
    """1 where one city is a seaport without an air hub and the other an air hub without a
    port (each completes the other's gateway), else 0; None when the query is neither or both
    (it has no gateway to complete)."""
    sea, air = (data.theme_index(t) for t in GATEWAY_THEMES)
    if sea is None or air is None:
        return None
    q_sea, q_air = bool(data.themes[query, sea]), bool(data.themes[query, air])
    if q_sea == q_air:
        return None
    j_sea, j_air = data.themes[rows, sea], data.themes[rows, air]
    return np.where(j_sea != j_air, (j_sea == q_air), False).astype(np.float64)


@dataclass(frozen=True)
class Term:
    """One term of a dimension's raw score for (query, rows): 0-1 closeness, NaN where either
    city lacks the data."""

    dimension: str
    name: str  # a Comparison's column, or a COMPLEMENT_TERMS key
    compared_for: str  # LIKENESS or COMPLEMENT
    weight: float
    values: np.ndarray


def terms(data: DimensionData, query: int, rows: np.ndarray, themes: AskedThemes) -> list[Term]:
    """Every term of the three dimensions for (query, each of rows): the one definition that
    raw_scores sums and `twin explain` lists."""
    rows = np.asarray(rows, dtype=np.int64)
    out = [Term(c.dimension, c.column, LIKENESS, c.weight,
                _closeness(data, c.column, query, rows))
           for c in COMPARISONS if c.column in data.values]
    if len(themes.columns):
        earned = (data.themes[rows][:, None, :] * themes.credit[None, :, :]).max(axis=2)
        rarity = data.rarity[themes.columns]
        out.append(Term("synergies", "themes", LIKENESS, THEME_WEIGHT,
                        earned @ rarity / rarity.sum()))
    out.append(Term("synergies", "economy", COMPLEMENT, ECONOMY_WEIGHT,
                    economy_complement(data, query, rows)))
    completed = gateway(data, query, rows)
    if completed is not None:
        out.append(Term("synergies", "gateway", COMPLEMENT, GATEWAY_WEIGHT, completed))
    return out


def raw_scores(data: DimensionData, query: int, rows: np.ndarray,
               themes: AskedThemes) -> dict[str, np.ndarray]:
    """Each dimension's 0-1 raw score for (query, each of rows): the weighted mean of the terms
    both cities have data for, NaN where there are none."""
    total = {d: np.zeros(len(rows)) for d in DIMENSIONS}
    weight = {d: np.zeros(len(rows)) for d in DIMENSIONS}
    for term in terms(data, query, rows, themes):
        known = np.isfinite(term.values)
        total[term.dimension][known] += term.weight * term.values[known]
        weight[term.dimension][known] += term.weight
    with np.errstate(invalid="ignore", divide="ignore"):
        return {d: np.where(weight[d] > 0, total[d] / weight[d], np.nan) for d in DIMENSIONS}


def subscores(data: DimensionData, query: int, reference: np.ndarray, picks: np.ndarray,
              themes: AskedThemes) -> dict[str, np.ndarray]:
    """The three 0-100 sub-scores for the picks: each raw score's mid-rank percentile among
    the reference candidates' (NaN where the pair has no data on the dimension)."""
    picks = np.asarray(picks, dtype=np.int64)
    against = raw_scores(data, query, reference, themes)
    picked = raw_scores(data, query, picks, themes)
    out = {}
    for dimension in DIMENSIONS:
        population = against[dimension][np.isfinite(against[dimension])]
        value = picked[dimension]
        score = np.full(len(picks), np.nan)
        if len(population):
            known = np.isfinite(value)
            score[known] = 100 * midrank_percentile(population, value[known])
        out[dimension] = score
    return out


def weighted_order(subs: dict[str, np.ndarray], compatibility: np.ndarray,
                   weights: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Positions of the shortlist, best first, by the weighted mean of the compatibility
    and the sub-scores (a missing one counts 50, the median candidate); ties keep the
    model's order. The compatibility (`model`) weighs as much as the dimensions together
    unless given: the user's weights share out the half that is theirs."""
    given = dict(weights)
    model = given.get("model", sum(given.get(d, 0.0) for d in DIMENSIONS))
    total = model * np.asarray(compatibility, dtype=np.float64)
    for dimension in DIMENSIONS:
        w = given.get(dimension, 0.0)
        if w:
            total = total + w * np.where(np.isfinite(subs[dimension]), subs[dimension], 50.0)
    return np.argsort(-total, kind="stable")


def shown(value: float) -> float | None:
    """A sub-score as results hold it: one decimal, None where there is no data."""
    return None if not np.isfinite(value) else round(float(value), 1)
