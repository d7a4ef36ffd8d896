"""Diplomatic missions from Wikidata: how many missions each city hosts.

A mission joins the city its `city` names, in its host country, within MAX_KM of its
coordinates; a mission without coordinates joins the most populous city of that name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matcher.columns import OpenColumns as O
from matcher.profile import DIPLOMACY_MIN_MISSIONS
from training.data.opendata.join import (
    CityIndex,
    SourceResult,
    join_rows,
    numbers,
    read_table,
    source_result,
)

FILE = "diplomatic_missions.csv"
REQUIRED = ("operator_iso2", "country_iso2", "city", "type", "lat", "lon")
MAX_KM = 30.0


def derive(directory: Path, index: CityIndex) -> SourceResult:
    path, table = read_table(directory, FILE, REQUIRED)
    lat, lon = numbers(table, "lat"), numbers(table, "lon")
    joined = join_rows(index, table["country_iso2"], table["city"], lat, lon, max_km=MAX_KM,
                       name_only=True)
    count = np.bincount(joined.rows[joined.joined], minlength=len(index.ids)).astype(np.float64)
    return source_result("missions", path, joined, table, "city", "country_iso2", lat, lon,
                         {O.DIPLOMATIC_MISSIONS: count},
                         {"diplomacy": count >= DIPLOMACY_MIN_MISSIONS})
