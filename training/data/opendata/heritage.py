"""UNESCO World Heritage sites: how many lie within HERITAGE_KM of each city.

A site is near a city, not in it: it joins (for the report) the most populous city of its
country within HERITAGE_KM; the features count sites within HERITAGE_KM of each city (any
country) and name the nearest. The export states no licence: see data/README.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matcher.columns import OpenColumns as O
from matcher.profile import HERITAGE_KM
from training.data.opendata.join import (
    CityIndex,
    SourceResult,
    best_per_city,
    join_rows,
    numbers,
    read_table,
    source_result,
    within_radius,
)

FILE = "world_heritage_sites.csv"
REQUIRED = ("name_en", "country", "category", "lat", "lon")


def derive(directory: Path, index: CityIndex) -> SourceResult:
    path, table = read_table(directory, FILE, REQUIRED)
    lat, lon = numbers(table, "lat"), numbers(table, "lon")
    joined = join_rows(index, table["country"], [""] * len(table), lat, lon, max_km=HERITAGE_KM,
                       nearest_km=HERITAGE_KM)
    city, site, km = within_radius(index, lat, lon, HERITAGE_KM)
    n = len(index.ids)
    count = np.bincount(city, minlength=n).astype(np.float64)
    nearest, has = best_per_city(n, city, -km)
    names = np.full(n, "", dtype=object)
    names[has] = table["name_en"].astype(str).to_numpy()[site[nearest[has]]]
    return source_result("heritage", path, joined, table, "name_en", "country", lat, lon,
                         {O.HERITAGE_SITES: count, O.HERITAGE_SITE: names},
                         {"heritage": count > 0})
