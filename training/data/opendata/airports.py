"""OurAirports with OpenFlights 2014 route counts: each city's best airport within AIRPORT_KM.

Join (for the report): an airport joins the city its `municipality` names, in its country,
within AIRPORT_KM (else the most populous city within NEAREST_KM). The features use the radius
rule instead, any country (Basel's airport is in France): the airport within AIRPORT_KM with the
most international destinations gives the city its destination counts, name and distance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matcher.columns import OpenColumns as O
from matcher.profile import AIR_HUB_MIN_INTL, AIRPORT_KM
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

FILE = "airports.csv"
REQUIRED = ("name", "lat", "lon", "country", "municipality", "iata_code",
            "of2014_dest_airports", "of2014_intl_dest_airports")
NEAREST_KM = 25.0


def derive(directory: Path, index: CityIndex) -> SourceResult:
    path, table = read_table(directory, FILE, REQUIRED)
    lat, lon = numbers(table, "lat"), numbers(table, "lon")
    joined = join_rows(index, table["country"], table["municipality"], lat, lon,
                       max_km=AIRPORT_KM, nearest_km=NEAREST_KM)
    intl = np.nan_to_num(numbers(table, "of2014_intl_dest_airports"))
    destinations = np.nan_to_num(numbers(table, "of2014_dest_airports"))
    city, airport, km = within_radius(index, lat, lon, AIRPORT_KM)
    n = len(index.ids)
    best, has = best_per_city(n, city, intl[airport] + destinations[airport] / 1e4 - km / 1e7)
    most = np.zeros(n)
    np.maximum.at(most, city, destinations[airport])
    chosen = airport[best[has]]
    iata = table["iata_code"].fillna("").astype(str).to_numpy()
    label = np.asarray([f"{name} ({code})" if code else name for name, code in
                        zip(table["name"].astype(str), iata, strict=True)], dtype=object)
    best_intl = np.zeros(n)
    best_intl[has] = intl[chosen]
    names = np.full(n, "", dtype=object)
    names[has] = label[chosen]
    distance = np.full(n, np.nan)
    distance[has] = np.round(km[best[has]], 1)
    columns = {O.AIRPORT_INTL_DESTINATIONS: best_intl, O.AIRPORT_DESTINATIONS: most,
               O.BEST_AIRPORT: names, O.BEST_AIRPORT_KM: distance}
    themes = {"aviation-hub": best_intl >= AIR_HUB_MIN_INTL}
    return source_result("airports", path, joined, table, "municipality", "country", lat, lon,
                         columns, themes)
