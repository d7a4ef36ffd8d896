"""Covenant of Mayors (Europe): climate and energy commitments of signatory cities.

A signatory joins the city its `organisation_name` names, in its country, within MAX_KM.
Coordinates shared by PLACEHOLDER_ROWS or more signatories are placeholders (a country or
region centroid), so such a row joins by name alone (the most populous city of that name).
A group signatory (several towns in one row) is unjoined (`group_signatory`): its commitment
is not any one town's. Features count published signatories only (on-hold ones are joined and
reported, not used).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from matcher.columns import OpenColumns as O
from training.data.opendata.join import (
    CityIndex,
    SourceResult,
    join_rows,
    numbers,
    read_table,
    source_result,
    truthy,
)

FILE = "covenant_of_mayors_europe.csv"
REQUIRED = ("organisation_name", "country", "organisation_latitude", "organisation_longitude",
            "is_group", "commitment_CoM2020_flag", "commitment_CoM2030_flag",
            "commitment_CoM2050_flag", "commitment_mayoradapt_flag", "signatory_status")
MAX_KM = 25.0
PLACEHOLDER_ROWS = 3
TARGETS = ((2050, "commitment_CoM2050_flag"), (2030, "commitment_CoM2030_flag"),
           (2020, "commitment_CoM2020_flag"))


def placeholder_coordinates(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """True for rows whose coordinates PLACEHOLDER_ROWS or more rows share."""
    keys = pd.Series(list(zip(np.round(lat, 5), np.round(lon, 5), strict=True)))
    return keys.map(keys.value_counts()).to_numpy() >= PLACEHOLDER_ROWS


def target_year(table: pd.DataFrame) -> np.ndarray:
    """Each signatory's latest commitment year (2050, 2030, 2020) or NaN."""
    year = np.full(len(table), np.nan)
    for target, column in reversed(TARGETS):
        year[truthy(table, column)] = target
    return year


def derive(directory: Path, index: CityIndex) -> SourceResult:
    path, table = read_table(directory, FILE, REQUIRED)
    lat = numbers(table, "organisation_latitude")
    lon = numbers(table, "organisation_longitude")
    group = truthy(table, "is_group")
    skip = {int(i): ("group_signatory", "one row for several towns; not attributed to any one")
            for i in np.flatnonzero(group)}
    joined = join_rows(index, table["country"], table["organisation_name"], lat, lon,
                       max_km=MAX_KM, name_only=True,
                       trust_coords=~placeholder_coordinates(lat, lon), skip=skip)
    published = table["signatory_status"].astype(str).str.strip().eq("published").to_numpy()
    use = joined.joined & published
    cities = joined.rows[use]
    n = len(index.ids)
    year = np.full(n, np.nan)
    years = target_year(table)[use]
    known = np.isfinite(years)
    np.fmax.at(year, cities[known], years[known])
    themes = {"climate-action": np.zeros(n, dtype=bool)}
    themes["climate-action"][cities] = True
    for theme, column in (("climate-2030", "commitment_CoM2030_flag"),
                          ("climate-neutral-2050", "commitment_CoM2050_flag"),
                          ("climate-adaptation", "commitment_mayoradapt_flag")):
        flag = np.zeros(n, dtype=bool)
        flag[cities[truthy(table, column)[use]]] = True
        themes[theme] = flag
    return source_result("covenant", path, joined, table, "organisation_name", "country", lat,
                         lon, {O.CLIMATE_TARGET_YEAR: year}, themes)
