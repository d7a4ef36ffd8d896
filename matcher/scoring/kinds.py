"""Each per-cell formula of the signal table, written once: the per-city inputs and the math.

A PAIRWISE signal's `cell` is a `Formula` of one tuple of per-city inputs of each city
(`Signal.inputs`, named here in `city_inputs`), written with numpy functions so that it
broadcasts: (q, 1) against (c,) gives a block, (q, 1) against (q, d) listed pairs, (j,) against
one query's scalars the reverse direction. A COLUMN signal is one per-city input read at the
candidate, a GROUP_PAIR signal a row per query over the groups read at the candidate's group
(`rows`), a GROUP_COUNT a `Count` (whose cities, in whose country), a PRODUCT the product
of its two factors' values. Every path evaluates these same
functions: the reference, the folded block, stage two's listed pairs and the reverse gathers
with numpy; the batch (matcher.ranking.fused) compiles each formula's arithmetic part with numba
from the same Python function and adds the weighted values in a kernel that holds no formula. A new
signal of these kinds is one table entry and, for a new formula, one Formula here.

Imports numpy only: the signal table imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

EARTH_RADIUS_KM = 6371.0088

# The per-city inputs the formulas read, each (n,) float64: see city_inputs.
HALF_ANGLES = ("half_lat_cos", "half_lat_sin", "half_lon_cos", "half_lon_sin")
INPUTS = ("log_population", "log_degree", "is_capital", *HALF_ANGLES)


@dataclass(frozen=True)
class Formula:
    """A PAIRWISE formula: `inner`, plain arithmetic of the query's inputs then the column's
    (positional, so numpy broadcasts it and numba compiles the very same function for the
    batch), then `outer`, numpy functions of inner's value (kept numpy's on every path: its
    vectorised arcsin and log1p give other last bits than a compiled libm call)."""

    inner: Callable[..., Any]
    outer: Callable[[Any], Any] | None = None

    def __call__(self, query: tuple, column: tuple) -> Any:
        """The value for each pair of `query` and `column` inputs (arrays broadcast)."""
        value = self.inner(*query, *column)
        return value if self.outer is None else self.outer(value)


def city_inputs(lat_rad: np.ndarray, lon_rad: np.ndarray, log_population: np.ndarray,
                degree: np.ndarray, is_capital: np.ndarray) -> dict[str, np.ndarray]:
    """Every input of INPUTS for every city, (n,) float64 each. The half angles make the
    haversine's two terms bilinear: sin(dlat/2) = cos(a/2) sin(b/2) - sin(a/2) cos(b/2), and
    sqrt(cos a cos b) sin(dlon/2) the same with sqrt(cos lat) folded into each city's pair."""
    root_cos = np.sqrt(np.maximum(np.cos(lat_rad), 0.0))
    return {"log_population": np.asarray(log_population, dtype=np.float64),
            "log_degree": np.log1p(np.asarray(degree, dtype=np.float64)),
            "is_capital": np.asarray(is_capital, dtype=np.float64),
            "half_lat_cos": np.cos(lat_rad / 2), "half_lat_sin": np.sin(lat_rad / 2),
            "half_lon_cos": root_cos * np.cos(lon_rad / 2),
            "half_lon_sin": root_cos * np.sin(lon_rad / 2)}


def _size_gap(query_log_population, log_population):
    return np.abs(log_population - query_log_population)


def _both_capital(query_capital, capital):
    return query_capital * capital


def _half_chord(query_lat_cos, query_lat_sin, query_lon_cos, query_lon_sin, lat_cos, lat_sin,
                lon_cos, lon_sin):
    """sqrt(min(sin^2(dlat/2) + cos lat1 cos lat2 sin^2(dlon/2), 1)), the haversine's root
    (inputs: HALF_ANGLES): exact for nearby cities, with no per-pair trigonometry."""
    north = query_lat_cos * lat_sin - query_lat_sin * lat_cos
    east = query_lon_cos * lon_sin - query_lon_sin * lon_cos
    return np.sqrt(np.minimum(north * north + east * east, 1.0))


def _log_km(half_chord):
    """log(1 + 2 R arcsin(half chord)); in place when given an array (inner's own value)."""
    out = half_chord if isinstance(half_chord, np.ndarray) else None
    value = np.arcsin(half_chord, out=out)
    value = np.multiply(value, 2.0 * EARTH_RADIUS_KM, out=out)
    return np.log1p(value, out=out)


# |log10 population difference| (inputs: log_population)
size_gap = Formula(_size_gap)
# 1 when both are national capitals, else 0 (inputs: is_capital)
both_capital = Formula(_both_capital)
# log(1 + great-circle km) (inputs: HALF_ANGLES)
log_distance = Formula(_half_chord, _log_km)


# GROUP_PAIR: each query's row over the groups (countries or first-level regions), read at
# the candidate's group; `ready` is scoring.prepared.Prepared (the per-group counts it keeps).
def country_pair_rows(ready: Any, queries: np.ndarray) -> np.ndarray:
    """log(1 + partnerships between the query's country and each country), (q, countries)."""
    return ready.log_country_pairs[ready.arrays.country_index[queries]]


def same_country_rows(ready: Any, queries: np.ndarray) -> np.ndarray:
    """1 at the query's own country, (q, countries)."""
    countries = ready.arrays.country_index[queries]
    return (np.arange(ready.arrays.n_countries) == countries[:, None]).astype(np.float64)


def admin1_pair_rows(ready: Any, queries: np.ndarray) -> np.ndarray:
    """log(1 + partnerships between the query's region and each region), (q, regions)."""
    return ready.admin1_rows(queries)


# GROUP_COUNT: the cities one side reaches (`via`), counted in the other side's country.
COUNT_VIAS = ("partners", "neighbours_partners")  # B, and G B (the neighbours' partners)


@dataclass(frozen=True)
class Count:
    """A GROUP_COUNT: log(1 + the cities the counting city reaches `via` (one of COUNT_VIAS)
    that lie in the other city's country), the counting city being the query (`by` "query":
    one row per query over the countries, read at the candidate's country) or the candidate
    (`by` "candidate": one column per country, the query's, read at the candidate)."""

    via: str
    by: str


def count_of(counts: np.ndarray) -> np.ndarray:
    """A GROUP_COUNT's value from its raw counts (any shape)."""
    return np.log1p(np.asarray(counts, dtype=np.float64))


def product(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """A PRODUCT signal's value from its two factors' values."""
    return left * right

