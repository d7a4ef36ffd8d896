"""Bilateral programme matching: which cities of country A should twin with which of country B.

The reciprocal compatibility of a pair is matcher.ranking.rank's mutual score: the geometric mean
of where A ranks B (B's percentile in A's own score distribution) and where B ranks A. Over that
matrix (matcher.programme.matching): the optimal assignment maximises the total, and the stable
matching (Gale-Shapley, either side proposing, capacities on both sides) leaves no two cities that
would both rather have each other than one of their partners (or an empty slot). Stable-matching
preferences are each side's own one-sided scores, ties broken by the lower model row.

Pairs that are not allowed (existing partnerships unless included, non-candidates) are never
matched and can never block. `capacity` counts new partners only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from matcher.errors import AmbiguousCityError, CityNotFoundError, InputError
from matcher.explained import dimensions
from matcher.explained.explain import pairs_reasons
from matcher.places.lookup import CityRecord
from matcher.places.regions import region_label
from matcher.programme.matching import (
    SIDES,
    blocking_pairs,
    optimal_assignment,
    stable_matching,
)
from matcher.ranking import rank
from matcher.ranking.compatibility import compatibility as compatibility_0_100
from matcher.scoring import final_scores, refine

ASSIGNMENT = "assignment"
STABLE = "stable"
_CHUNK = 16  # query rows scored at once: 16 x n x 15 signals stays well under 100 MB
SCORING_THREADS = 2


@dataclass(frozen=True)
class Compatibility:
    """Scores between the candidate rows of two countries (i indexes A, j indexes B)."""

    rows_a: np.ndarray  # model rows of A's candidates (qa,)
    rows_b: np.ndarray  # model rows of B's candidates (qb,)
    forward: np.ndarray  # (qa, qb) s(a -> b), A's one-sided final scores
    backward: np.ndarray  # (qb, qa) s(b -> a)
    forward_pct: np.ndarray  # (qa, qb) where a ranks b, 0..1
    backward_pct: np.ndarray  # (qb, qa) where b ranks a, 0..1
    mutual: np.ndarray  # (qa, qb) rank.combine_sides of both percentiles, 0..1
    existing: np.ndarray  # (qa, qb) bool, already partners
    allowed: np.ndarray  # (qa, qb) bool, may be matched


def _score_rows(model, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Final scores of `rows` against `columns` (q, m), scored in chunks of whole rows.

    Same computation as model.scores_batch (matcher.scoring.final_scores). Chunks run on
    SCORING_THREADS threads (numpy releases the GIL); each fills its own rows, so the result
    does not depend on the thread count.
    """
    from concurrent.futures import ThreadPoolExecutor

    staged = refine.deepest(model.arrays.rerank) > 0
    out = np.empty((len(rows), len(columns)))

    def score(start: int) -> None:
        chunk = rows[start:start + _CHUNK]
        stop = start + len(chunk)
        if staged:  # stage two reorders within whole rows, so score them whole
            out[start:stop] = final_scores.score_matrix(model.arrays, chunk)[:, columns]
        else:
            out[start:stop] = final_scores.score_matrix(model.arrays, chunk, columns=columns)

    starts = range(0, len(rows), _CHUNK)
    with ThreadPoolExecutor(max_workers=SCORING_THREADS) as pool:
        list(pool.map(score, starts))
    return out


def _percentiles(model, rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Where each score sits in its row city's own distribution, 0..1, shape of `scores`."""
    if scores.size == 0:
        return np.zeros(scores.shape)
    flat = model.percentile_of(np.repeat(rows, scores.shape[1]), scores.ravel())
    return flat.reshape(scores.shape)


def compatibility(model, rows_a: np.ndarray, rows_b: np.ndarray,
                  include_existing: bool = False) -> Compatibility:
    """The reciprocal compatibility matrix of two candidate lists (scored in row batches)."""
    rows_a = np.asarray(rows_a, dtype=np.int64)
    rows_b = np.asarray(rows_b, dtype=np.int64)
    forward = _score_rows(model, rows_a, rows_b)
    backward = _score_rows(model, rows_b, rows_a)
    forward_pct = _percentiles(model, rows_a, forward)
    backward_pct = _percentiles(model, rows_b, backward)
    mutual = rank.combine_sides(forward_pct, backward_pct.T, mutual=True)
    binary = model.arrays.binary.matrix
    existing = binary[rows_a][:, rows_b].toarray() > 0
    allowed = np.isfinite(forward) & np.isfinite(backward.T)
    if not include_existing:
        allowed &= ~existing
    return Compatibility(rows_a, rows_b, forward, backward, forward_pct, backward_pct, mutual,
                         existing, allowed)


# ---------------------------------------------------------------------- the programme
DEFAULT_MIN_POPULATION = 100_000
@dataclass(frozen=True)
class PairedCities:
    """One pair of a matching, with why it scores as it does; to_dict() is the JSON/CSV row."""

    a: CityRecord
    b: CityRecord
    distance_km: float
    score: float  # reciprocal compatibility 0..1 (rank.combine_sides of both percentiles)
    compatibility: float  # 0-100, matcher.ranking.compatibility of `score`
    a_ranks_b: float  # percentile of b in a's own list
    b_ranks_a: float
    performance: float | None  # 0-100 (matcher.explained.dimensions); None: no data
    appetite: float | None
    synergies: float | None
    existing: bool  # already partners (only with include_existing)
    reasons: tuple[str, ...]
    probability: float = 0.0  # the re-ranker probability at that percentile, both sides' mean

    def to_dict(self) -> dict:
        out = {f"a_{k}": v for k, v in _record(self.a).items()}
        out.update({f"b_{k}": v for k, v in _record(self.b).items()})
        out.update({k: getattr(self, k) for k in (
            "distance_km", "score", "compatibility", "probability", "a_ranks_b", "b_ranks_a",
            "performance", "appetite", "synergies", "existing")})
        out["reasons"] = list(self.reasons)
        return out


@dataclass(frozen=True)
class Matching:
    """One matching: its pairs (best first), the total and mean score, and its stability check."""

    method: str  # "assignment" or "stable"
    proposing: str | None  # "a" / "b" for the stable matching
    pairs: tuple[PairedCities, ...]
    total: float
    mean: float
    blocking_pairs: tuple[tuple[str, str], ...]  # (a name, b name); empty when stable
    unmatched_a: tuple[str, ...]
    unmatched_b: tuple[str, ...]
    said_once: tuple[str, ...] = ()  # reasons on most pairs, said once above them

    def to_dict(self) -> dict:
        return {"method": self.method, "proposing": self.proposing,
                "said_once": list(self.said_once),
                "pairs": [p.to_dict() for p in self.pairs], "total": self.total,
                "mean": self.mean, "blocking_pairs": [list(p) for p in self.blocking_pairs],
                "stable": not self.blocking_pairs, "unmatched_a": list(self.unmatched_a),
                "unmatched_b": list(self.unmatched_b)}


@dataclass(frozen=True)
class Programme:
    """Everything `twin pair` prints: both candidate lists, existing links and both matchings."""

    country_a: str
    country_b: str
    capacity: int
    include_existing: bool
    selection_a: str  # how the candidates were chosen
    selection_b: str
    candidates_a: tuple[CityRecord, ...]
    candidates_b: tuple[CityRecord, ...]
    existing: tuple[tuple[CityRecord, CityRecord], ...]
    assignment: Matching
    stable: Matching
    coordinates: dict[int, tuple[float, float]]  # geonameid -> (lat, lon) of every candidate

    def to_dict(self) -> dict:
        return {
            "country_a": self.country_a, "country_b": self.country_b,
            "capacity": self.capacity, "include_existing": self.include_existing,
            "selection_a": self.selection_a, "selection_b": self.selection_b,
            "candidates_a": [self._located(c) for c in self.candidates_a],
            "candidates_b": [self._located(c) for c in self.candidates_b],
            "existing": [{"a": _record(a), "b": _record(b)} for a, b in self.existing],
            "assignment": self.assignment.to_dict(), "stable": self.stable.to_dict(),
        }

    def _located(self, city: CityRecord) -> dict:
        lat, lon = self.coordinates[city.geonameid]
        return {**_record(city), "lat": lat, "lon": lon}


def _record(city: CityRecord) -> dict:
    """A city for JSON: its identifying fields without the model row."""
    return {k: v for k, v in asdict(city).items() if k != "row"}


def resolve_side(lookup, text: str, argument: str) -> tuple[str, str | None]:
    """(ISO2, region code or None) of a code, name or alias (UK, Korea) or of a nation, which
    narrows the side to that region ('Wales' -> GB, WLS); InputError names `argument`."""
    return lookup.resolve_region(text, argument)


def country_rows(lookup, iso2: str, region: str | None = None) -> np.ndarray:
    """Model rows of a country (of one of its first-level regions when `region` is given)."""
    rows = np.flatnonzero(lookup.country_codes.astype(str) == iso2)
    if region is not None:
        rows = rows[np.array([lookup.admin1[r] == region for r in rows.tolist()], dtype=bool)]
    return rows


def candidate_rows(model, lookup, iso2: str, min_population: int,
                   region: str | None = None) -> np.ndarray:
    """A country's (or region's) candidate cities at or above the population floor, in model
    row order."""
    rows = country_rows(lookup, iso2, region)
    keep = model.arrays.candidate_mask[rows] & (lookup.populations[rows] >= min_population)
    return rows[keep]


def read_city_file(model, lookup, path: Path, iso2: str, option: str,
                   region: str | None = None) -> np.ndarray:
    """Model rows of the cities listed one per line (blank lines and '#' comments skipped).

    Any unusable line is an InputError naming the file and line.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{option} {path}: cannot read the file ({error})") from error
    in_country = set(country_rows(lookup, iso2, region).tolist())
    where_name = iso2 if region is None else f"{iso2} ({region_label(iso2, region)})"
    rows: list[int] = []
    seen: dict[int, int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{option} {path}, line {number}"
        try:
            row = _resolve_in(lookup, text, iso2)
        except (CityNotFoundError, AmbiguousCityError, InputError) as error:
            raise InputError(f"{where}: {error}") from error
        record = lookup.record(row)
        if row not in in_country:
            found = record.country_code + (f" ({record.region})" if region else "")
            raise InputError(f"{where}: {record.name} is in {found}, not {where_name}; list "
                             f"only {where_name} cities in this file")
        if not model.arrays.candidate_mask[row]:
            raise InputError(f"{where}: {record.name} is below the model's candidate floor and "
                             "cannot be matched; remove it from the file")
        if row in seen:
            raise InputError(f"{where}: {record.name} is already listed on line {seen[row]}")
        seen[row] = number
        rows.append(row)
    if not rows:
        raise InputError(f"{option} {path}: no cities listed (one per line: a name, "
                         "'Name, CC' or geonames:ID)")
    return np.asarray(rows, dtype=np.int64)


def _resolve_in(lookup, text: str, iso2: str) -> int:
    """lookup.resolve, except that a name shared with other countries means the one in `iso2`
    (a file of GB cities saying "Newport" means Newport, GB)."""
    try:
        return lookup.resolve(text)
    except AmbiguousCityError as error:
        if "," in text or text.lower().startswith("geonames:"):
            raise
        try:
            return lookup.resolve(f"{text}, {iso2}")
        except (CityNotFoundError, AmbiguousCityError):
            raise error from None


def pair_countries(matcher, country_a: str, country_b: str, *,
                   min_population: int = DEFAULT_MIN_POPULATION, cities_a: Path | None = None,
                   cities_b: Path | None = None, stable: str = "a", capacity: int = 1,
                   include_existing: bool = False) -> Programme:
    """Both matchings between two countries' candidate cities (see the module docstring)."""
    model, lookup = matcher.model, matcher.lookup
    if stable not in SIDES:
        raise InputError(f"--stable: give a or b (the proposing side), got {stable!r}")
    if not isinstance(capacity, int) or capacity < 1:
        raise InputError(f"--capacity: must be a positive integer, got {capacity!r}")
    code_a, region_a = resolve_side(lookup, country_a, "COUNTRY_A")
    code_b, region_b = resolve_side(lookup, country_b, "COUNTRY_B")
    if code_a == code_b:
        raise InputError(f"COUNTRY_A and COUNTRY_B are both {code_a}; give two countries")
    sides = []
    for code, region, path, option in ((code_a, region_a, cities_a, "--cities-a"),
                                       (code_b, region_b, cities_b, "--cities-b")):
        place = code if region is None else f"{code} ({region_label(code, region)})"
        within = "" if region is None else f"in {region_label(code, region)}, "
        if path is not None:
            sides.append((read_city_file(model, lookup, path, code, option, region),
                          f"{within}listed in {path}"))
            continue
        rows = candidate_rows(model, lookup, code, min_population, region)
        if not len(rows):
            raise InputError(f"no {place} cities with population >= {min_population:,} in the "
                             f"model; lower --min-population or list cities with {option}")
        sides.append((rows, f"{within}population >= {min_population:,}"))
    (rows_a, selection_a), (rows_b, selection_b) = sides
    compat = compatibility(model, rows_a, rows_b, include_existing)
    assignment = optimal_assignment(compat.mutual, compat.allowed, capacity)
    stable_pairs = stable_matching(compat.forward, compat.backward, compat.allowed, capacity,
                                   proposing=stable)
    all_a, all_b = country_rows(lookup, code_a, region_a), country_rows(lookup, code_b, region_b)
    links = model.arrays.binary.matrix[all_a][:, all_b].tocoo()
    existing = sorted(((int(all_a[i]), int(all_b[j])) for i, j in zip(links.row, links.col,
                                                                       strict=True)),
                      key=lambda p: (-int(lookup.populations[p[0]]), p[0], p[1]))
    return Programme(
        country_a=code_a, country_b=code_b, capacity=capacity, include_existing=include_existing,
        selection_a=selection_a, selection_b=selection_b,
        candidates_a=tuple(lookup.record(r) for r in rows_a),
        candidates_b=tuple(lookup.record(r) for r in rows_b),
        existing=tuple((lookup.record(a), lookup.record(b)) for a, b in existing),
        assignment=_describe(matcher, compat, assignment, ASSIGNMENT, None, capacity),
        stable=_describe(matcher, compat, stable_pairs, STABLE, stable, capacity),
        coordinates={int(model.geonameids[r]): (float(matcher.evidence.lat[r]),
                                                float(matcher.evidence.lon[r]))
                     for r in (*rows_a.tolist(), *rows_b.tolist())},
    )


def _describe(matcher, compat: Compatibility, pairs: list[tuple[int, int]], method: str,
              proposing: str | None, capacity: int) -> Matching:
    """Attach scores, sub-scores and reasons to a matching's (i, j) pairs; best pairs first."""
    model, ev, lookup = matcher.model, matcher.evidence, matcher.lookup
    levels = model.quantile_levels
    details: list[PairedCities] = []
    rows = [(int(compat.rows_a[i]), int(compat.rows_b[j])) for i, j in pairs]
    common, said = pairs_reasons(matcher, rows)  # said once for the whole matching
    reasons_of = dict(zip(rows, said, strict=True))
    for i in sorted({i for i, _ in pairs}):
        js = np.array([j for ii, j in pairs if ii == i], dtype=np.int64)
        a, bs = int(compat.rows_a[i]), compat.rows_b[js]
        subs = dimensions.subscores(matcher.dimensions, a, ev.reference(a), bs,
                                    dimensions.asked_themes(matcher.dimensions, a))
        km = rank.haversine_km(ev.lat[a], ev.lon[a], ev.lat[bs], ev.lon[bs])
        for k, (j, b) in enumerate(zip(js.tolist(), bs.tolist(), strict=True)):
            mutual = float(compat.mutual[i, j])
            sides = [model.probability(np.interp([mutual], levels, model.quantiles[row]))[0]
                     for row in (a, b)]  # each side's probability at the pair's percentile
            details.append(PairedCities(
                a=lookup.record(a), b=lookup.record(b), distance_km=round(float(km[k]), 1),
                score=round(mutual, 6),
                compatibility=round(float(compatibility_0_100(mutual)), 1),
                probability=round(0.5 * float(sum(sides)), 6),
                a_ranks_b=round(float(compat.forward_pct[i, j]), 6),
                b_ranks_a=round(float(compat.backward_pct[j, i]), 6),
                existing=bool(compat.existing[i, j]), reasons=tuple(reasons_of[(a, b)]),
                **{name: dimensions.shown(subs[name][k]) for name in dimensions.DIMENSIONS}))
    details.sort(key=lambda p: (-p.score, p.a.geonameid, p.b.geonameid))
    total = float(sum(compat.mutual[i, j] for i, j in pairs))
    blocking = blocking_pairs(pairs, compat.forward, compat.backward, compat.allowed, capacity)
    names = lookup.names
    matched_a, matched_b = {i for i, _ in pairs}, {j for _, j in pairs}
    return Matching(
        method=method, proposing=proposing, pairs=tuple(details), total=round(total, 6),
        mean=round(total / len(pairs), 6) if pairs else 0.0,
        blocking_pairs=tuple((names[compat.rows_a[i]], names[compat.rows_b[j]])
                             for i, j in blocking),
        unmatched_a=tuple(names[r] for i, r in enumerate(compat.rows_a) if i not in matched_a),
        unmatched_b=tuple(names[r] for j, r in enumerate(compat.rows_b) if j not in matched_b),
        said_once=tuple(common),
    )
