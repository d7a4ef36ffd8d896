"""UN World Urbanization Prospects 2018: agglomeration growth 2000-2020 and 2020-2035.

Each agglomeration joins a city by country, name and a MAX_KM distance check, else the most
populous city of its country within NEAREST_KM of its centre when that city has at least
CORE_SHARE of the agglomeration's 2020 population (else it is a neighbour, not the core:
GeoNames lacks Yongin, and Osan, 15 km off with a quarter of its size, must not take its
growth; `core_too_small`). When two join one city, the more populous (2020) keeps it and the
other is unjoined (`city_taken`), so no growth is mixed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matcher.columns import OpenColumns as O
from training.data.opendata.join import (
    CityIndex,
    SourceResult,
    join_rows,
    numbers,
    read_table,
    source_result,
)

FILE = "un_wup2018_agglomerations.csv"
REQUIRED = ("country", "agglomeration", "lat", "lon", "pop_2000_k", "pop_2020_k", "pop_2035_k")
MAX_KM = 50.0
NEAREST_KM = 15.0
CORE_SHARE = 0.3
CITY_GROWTH_2000_2020 = "_city_growth_2000_2020"  # before the country fallback
CITY_GROWTH_2020_2035 = "_city_growth_2020_2035"


def annual_growth_pct(start: np.ndarray, end: np.ndarray, years: float) -> np.ndarray:
    """Compound annual growth in % a year; NaN where either value is missing or not positive."""
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    ok = (start > 0) & (end > 0)
    out = np.full(start.shape, np.nan)
    out[ok] = (np.power(end[ok] / start[ok], 1.0 / years) - 1.0) * 100.0
    return out


def derive(directory: Path, index: CityIndex) -> SourceResult:
    """Per-city agglomeration growth (NaN where none joined), its name and 2020 population."""
    path, table = read_table(directory, FILE, REQUIRED)
    lat, lon = numbers(table, "lat"), numbers(table, "lon")
    joined = join_rows(index, table["country"], table["agglomeration"], lat, lon,
                       max_km=MAX_KM, nearest_km=NEAREST_KM)
    pop2000, pop2020, pop2035 = (numbers(table, f"pop_{y}_k") * 1000 for y in (2000, 2020,
                                                                               2035))
    for i in np.flatnonzero(joined.method == "nearest"):
        city = int(joined.rows[i])
        if not index.population[city] >= CORE_SHARE * pop2020[i]:
            joined.reason[i] = "core_too_small"
            joined.detail[i] = (f"the nearest city, {index.names[city]} "
                                f"({index.population[city]:,} inhabitants), has less than "
                                f"{CORE_SHARE:.0%} of the agglomeration's {pop2020[i]:,.0f}")
            joined.rows[i], joined.method[i] = -1, ""
    order = np.lexsort((np.arange(len(table)), -np.nan_to_num(pop2020), joined.rows))
    seen: dict[int, int] = {}
    for i in order.tolist():
        city = int(joined.rows[i])
        if city < 0:
            continue
        if city in seen:
            winner = table["agglomeration"].iloc[seen[city]]
            joined.reason[i] = "city_taken"
            joined.detail[i] = (f"joins {index.names[city]}, already joined by the larger "
                                f"agglomeration {winner}")
            joined.rows[i], joined.method[i] = -1, ""
        else:
            seen[city] = i
    n = len(index.ids)
    growth_past, growth_next = np.full(n, np.nan), np.full(n, np.nan)
    names = np.full(n, "", dtype=object)
    population = np.full(n, np.nan)
    ok = joined.rows >= 0
    cities = joined.rows[ok]
    growth_past[cities] = annual_growth_pct(pop2000, pop2020, 20.0)[ok]
    growth_next[cities] = annual_growth_pct(pop2020, pop2035, 15.0)[ok]
    names[cities] = table["agglomeration"].astype(str).to_numpy()[ok]
    population[cities] = pop2020[ok]
    columns = {CITY_GROWTH_2000_2020: growth_past, CITY_GROWTH_2020_2035: growth_next,
               O.WUP_AGGLOMERATION: names, O.WUP_POPULATION_2020: population}
    return source_result("un_wup", path, joined, table, "agglomeration", "country", lat, lon,
                         columns)
