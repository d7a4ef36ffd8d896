"""Pure ranking over score arrays: reciprocity, filters, the per-country cap, compatibility.

Everything here takes numpy arrays (one value per city of the model index) and returns arrays or
row indices; no model, no pandas, so it is fast and testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.errors import InputError
from matcher.ranking.percentiles import interpolate
from matcher.scoring import signals

MUTUAL_DEFAULT = True
"""Rank by both directions (a pair ranks high only if each city ranks the other high)."""

PER_COUNTRY_DEFAULT: int | None = 3
"""At most this many recommendations from one country (None: no cap)."""

TOP_K_DEFAULT = 10
PERCENTILE_FLOOR = 1e-9  # keeps log/sqrt of a zero percentile finite and ordered
MUTUAL_SHORTLIST_PER_K, MUTUAL_SHORTLIST_MIN = 64, 512  # first reverse shortlist: max(64 k, 512)
MUTUAL_SHORTLIST_GROWTH = 1.25  # at least this factor more when a shortlist falls short


SHORTLIST = 50


@dataclass(frozen=True)
class Filters:
    """What the user asked for; the same names as the CLI flags and the Python API keywords.

    `countries` / `exclude_countries` hold ISO2 codes (resolved by matcher.places.lookup). Domestic
    candidates (the query's own country) are excluded unless `include_domestic`, or unless the
    query's own country is listed in `countries` (asking for it is asking to include it).
    `per_country=None` or 0 means no cap.
    """

    k: int = TOP_K_DEFAULT
    countries: tuple[str, ...] = ()
    exclude_countries: tuple[str, ...] = ()
    include_domestic: bool = False
    min_population: int | None = None
    max_population: int | None = None
    max_km: float | None = None
    per_country: int | None = PER_COUNTRY_DEFAULT
    mutual: bool = MUTUAL_DEFAULT
    themes: tuple[str, ...] = ()  # the query's stated ambitions (matcher.explained.dimensions)
    weights: tuple[tuple[str, float], ...] = ()  # re-rank a shortlist (dimensions.parse_weights)

    @property
    def shortlist(self) -> int:
        """How many the model ranks before `weights` re-rank them: 5k, at least SHORTLIST."""
        return max(SHORTLIST, 5 * self.k) if self.weights else self.k

    def __post_init__(self) -> None:
        if not isinstance(self.k, (int, np.integer)) or isinstance(self.k, bool) or self.k < 1:
            raise InputError(f"top: k must be a positive integer, got {self.k!r}")
        if self.per_country is not None and (
            not isinstance(self.per_country, (int, np.integer)) or self.per_country < 0
        ):
            raise InputError(
                f"per_country: must be a non-negative integer or None, got {self.per_country!r}"
            )
        for name in ("min_population", "max_population"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(f"{name}: must be >= 0, got {value!r}")
        if (
            self.min_population is not None
            and self.max_population is not None
            and self.min_population > self.max_population
        ):
            raise InputError(
                f"min_population ({self.min_population}) is above max_population "
                f"({self.max_population})"
            )
        if self.max_km is not None and not self.max_km > 0:
            raise InputError(f"max_km: must be > 0, got {self.max_km!r}")

    @property
    def cap(self) -> int | None:
        """The effective per-country cap (None when uncapped).

        With `countries` given, the cap never stops k rows from being filled: asking for
        Korean cities only and k=5 gives 5 Korean cities, not 3.
        """
        if not self.per_country:
            return None
        if self.countries:
            return max(self.per_country, -(-self.k // len(set(self.countries))))
        return self.per_country


def haversine_km(lat0: float, lon0: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distance in km from one point to many, all in degrees."""
    return signals.haversine_km(np.radians(lat0), np.radians(lon0), np.radians(lats),
                                np.radians(lons))


def combine_sides(forward_pct: np.ndarray, reverse_pct: np.ndarray, mutual: bool) -> np.ndarray:
    """The ranking score in 0..1: the geometric mean of both percentiles, or the forward one.

    Percentiles (not raw scores) make the two sides comparable: a hub scores everyone high, so
    what matters is where q sits in the hub's own list.
    """
    forward = np.clip(np.asarray(forward_pct, dtype=np.float64), PERCENTILE_FLOOR, 1.0)
    if not mutual:
        return forward
    reverse = np.clip(np.asarray(reverse_pct, dtype=np.float64), PERCENTILE_FLOOR, 1.0)
    return np.sqrt(forward * reverse)


def eligible(
    query: int,
    scores: np.ndarray,
    partners: np.ndarray,
    country_ids: np.ndarray,
    populations: np.ndarray,
    distances_km: np.ndarray | None,
    filters: Filters,
    include_ids: np.ndarray | None,
    exclude_ids: np.ndarray | None,
) -> np.ndarray:
    """Boolean mask of the cities that may be recommended to `query` under `filters`.

    Drops the query itself, non-candidates (score -inf or NaN), existing partners (row indices in
    `partners`), domestic cities (unless allowed), and everything outside the filters. Country
    filters arrive as integer country ids (`include_ids` None means any country).
    """
    mask = np.isfinite(scores)
    mask[query] = False
    if len(partners):
        mask[partners] = False
    own = country_ids[query]
    allow_domestic = filters.include_domestic or (
        include_ids is not None and bool(np.isin(own, include_ids))
    )
    if not allow_domestic:
        mask &= country_ids != own
    if include_ids is not None:
        mask &= np.isin(country_ids, include_ids)
    if exclude_ids is not None and len(exclude_ids):
        mask &= ~np.isin(country_ids, exclude_ids)
    if filters.min_population is not None:
        mask &= populations >= filters.min_population
    if filters.max_population is not None:
        mask &= populations <= filters.max_population
    if filters.max_km is not None and distances_km is not None:
        mask &= distances_km <= filters.max_km
    return mask


def top_k(
    ranking: np.ndarray, mask: np.ndarray, k: int, country_ids: np.ndarray, cap: int | None
) -> np.ndarray:
    """Row indices of the best `k` eligible cities, best first, at most `cap` per country.

    Ties break by row index, so the order is deterministic. Only a shortlist (all cities whose
    ranking reaches the m-th best value, m growing 4x when the cap empties it) is sorted; the
    greedy cap walks that shortlist, never the whole index.
    """
    available = int(np.count_nonzero(mask))
    if available == 0:
        return np.empty(0, dtype=np.int64)
    values = np.where(mask, ranking, -np.inf)
    shortlist_size = min(available, k if cap is None else max(4 * k, 64))
    while True:
        threshold = np.partition(values, values.size - shortlist_size)[
            values.size - shortlist_size
        ]
        shortlist = np.flatnonzero(mask & (values >= threshold))
        order = shortlist[np.lexsort((shortlist, -values[shortlist]))]
        if cap is None:
            return order[:k].astype(np.int64)
        picked = greedy_cap(order, country_ids, k, cap)
        if len(picked) == k or shortlist_size >= available:
            return picked
        shortlist_size = min(available, shortlist_size * 4)


def greedy_cap(order: np.ndarray, country_ids: np.ndarray, k: int, cap: int) -> np.ndarray:
    """Walk `order` keeping at most `cap` rows per country until `k` are kept."""
    counts: dict[int, int] = {}
    kept: list[int] = []
    for row in order.tolist():
        country = int(country_ids[row])
        if counts.get(country, 0) < cap:
            counts[country] = counts.get(country, 0) + 1
            kept.append(row)
            if len(kept) == k:
                break
    return np.asarray(kept, dtype=np.int64)


def midrank_percentile(population: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Where each of `values` sits within `population`, 0..1, ties counted half (mid-rank).

    Sorts the population once, then two binary searches per value.
    """
    return midrank_in_sorted(np.sort(np.asarray(population, dtype=np.float64)), values)


def midrank_in_sorted(population: np.ndarray, values: np.ndarray,
                      without: float | None = None) -> np.ndarray:
    """midrank_percentile of an already sorted float64 population (sorted once, asked many
    times); `without`: one value of the population to leave out of the counts."""
    values = np.asarray(values, dtype=np.float64)
    below = np.searchsorted(population, values, side="left")
    equal = np.searchsorted(population, values, side="right") - below
    size = population.size
    if without is not None:
        below -= without < values
        equal -= without == values
        size -= 1
    if size == 0:
        return np.full(values.shape, 0.5)
    return (below + 0.5 * equal) / size


def percentile_in_row(quantiles: np.ndarray, levels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Where each value sits in ONE city's score distribution, 0..1 (the interpolation of
    matcher.ranking.percentiles, with searchsorted for a single row)."""
    quantiles = np.asarray(quantiles, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    above = np.searchsorted(quantiles, values, side="right")
    return interpolate(values, above, quantiles, 0, levels)


@dataclass(frozen=True)
class QueryRanking:
    """What ranking one query reads besides its scores: its own score quantiles (side 1), every
    city's country (the cap), and whether other cities' lists can hold it (it is a candidate)."""

    quantiles: np.ndarray
    levels: np.ndarray
    country_ids: np.ndarray
    ranked_by_others: bool


def pick(scores: np.ndarray, mask: np.ndarray, spec: Filters, query: QueryRanking,
         reverse_of) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(picks, ranking, forward, reverse) for one query from its scores over every city and the
    eligible `mask`: one-sided, or the exact mutual top-k. `reverse_of(rows, cache)` gives the
    query's percentile in each of `rows`' own score distributions (side 2)."""
    if spec.mutual:
        return mutual_top_k(scores, mask, spec, query, reverse_of)
    forward = np.zeros_like(scores)
    forward[mask] = percentile_in_row(query.quantiles, query.levels, scores[mask])
    reverse = np.zeros_like(forward)
    picks = top_k(forward, mask, spec.k, query.country_ids, spec.cap)
    reverse[picks] = reverse_of(picks)
    return picks, forward, forward, reverse


def mutual_top_k(scores: np.ndarray, mask: np.ndarray, spec: Filters, query: QueryRanking,
                 reverse_of) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact mutual top-k, computing percentiles only for a shortlist.

    The mutual score sqrt(f * r) is at most sqrt(f * ceiling) (ceiling 1, or the floor for a
    city that is not a candidate: nobody ranks it), so once the k picks from the shortlist
    (the best forward scores, hence percentiles f) all beat sqrt(best f left outside *
    ceiling), no city outside can enter: the answer equals ranking every eligible city.
    """
    levels, quantiles = query.levels, query.quantiles
    # np.zeros, not zeros_like: calloc'd pages, only those the shortlist touches are written
    forward, reverse, ranking = (np.zeros(scores.shape, scores.dtype) for _ in range(3))
    eligible_rows = np.flatnonzero(mask)  # ascending: position order is row order
    values = scores[eligible_rows]
    available = len(eligible_rows)
    done = np.zeros(available, dtype=bool)
    cache: dict = {}
    # The best reverse percentile anyone can give: none for a city no list holds, whose
    # ranking then follows its forward side (a top_k-sized first shortlist).
    ceiling = 1.0 if query.ranked_by_others else PERCENTILE_FLOOR
    size = min(available, max(MUTUAL_SHORTLIST_PER_K * spec.k, MUTUAL_SHORTLIST_MIN)
               if ceiling == 1.0 else max(4 * spec.k, 64))
    while True:
        if size >= available:
            inside = np.ones(available, dtype=bool)
        else:
            threshold = np.partition(values, available - size)[available - size]
            inside = values >= threshold
        rows = eligible_rows[inside & ~done]  # only the rows new to the shortlist
        complete = bool(inside.all())
        asked = scores[rows] if complete else \
            np.append(scores[rows], np.max(values, where=~inside, initial=-np.inf))
        found = percentile_in_row(quantiles, levels, asked)  # and the best outside's
        forward[rows] = found[:len(rows)]
        reverse[rows] = reverse_of(rows, cache)
        ranking[rows] = combine_sides(forward[rows], reverse[rows], True)
        done |= inside
        shortlist = eligible_rows[inside]
        picks = shortlist[top_k(ranking[shortlist], np.ones(len(shortlist), dtype=bool),
                                spec.k, query.country_ids[shortlist], spec.cap)]
        if complete:
            return picks, ranking, forward, reverse
        if len(picks) == spec.k and ranking[picks].min() > np.sqrt(
                max(found[-1], PERCENTILE_FLOOR) * ceiling):
            return picks, ranking, forward, reverse
        # Only cities whose forward percentile reaches (k-th mutual score)^2 / ceiling can
        # still enter: take exactly those (a score threshold read off the quantiles).
        needed = size * 4
        if len(picks) == spec.k:
            level = float(ranking[picks].min()) ** 2 / ceiling
            threshold = np.interp(level, levels, quantiles)
            needed = max(size * MUTUAL_SHORTLIST_GROWTH,
                         int(np.count_nonzero(values >= threshold)) + 1)
        size = min(available, int(needed))
