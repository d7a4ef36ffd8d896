"""NGA World Port Index: whether a city has a port within PORT_KM, and the largest one.

Join (for the report): a port joins the city its name names, in its country, within PORT_KM
(else the most populous city of its country within PORT_KM). Features use the radius rule:
the largest port (harbour size, then container facilities, then nearest) within PORT_KM.
Themes (matcher.profile.THEME_RULES): maritime for a Small or larger harbour, logistics for
container facilities or a Large harbour (the index says "Unknown" for most ports' containers:
Busan's among them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matcher.columns import OpenColumns as O
from matcher.profile import PORT_KM, PORT_THEME_SIZES
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

FILE = "world_port_index.csv"
REQUIRED = ("port_name", "country", "harbor_size", "fac_container", "lat", "lon")
SIZES = ("Very Small", "Small", "Medium", "Large")


def derive(directory: Path, index: CityIndex) -> SourceResult:
    path, table = read_table(directory, FILE, REQUIRED)
    lat, lon = numbers(table, "lat"), numbers(table, "lon")
    joined = join_rows(index, table["country"], table["port_name"], lat, lon, max_km=PORT_KM,
                       nearest_km=PORT_KM)
    size = table["harbor_size"].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    rank = np.asarray([SIZES.index(s) + 1 if s in SIZES else 0 for s in size], dtype=np.float64)
    container = table["fac_container"].fillna("").astype(str).str.strip().eq("Yes").to_numpy()
    city, port, km = within_radius(index, lat, lon, PORT_KM)
    n = len(index.ids)
    best, has = best_per_city(n, city, rank[port] * 10 + container[port] - km / 1e3)
    chosen = port[best[has]]
    names = np.full(n, "", dtype=object)
    names[has] = table["port_name"].astype(str).str.strip().to_numpy()[chosen]
    sizes = np.full(n, "", dtype=object)
    sizes[has] = size[chosen]
    themed = np.isin(size, PORT_THEME_SIZES)
    maritime = np.zeros(n, dtype=bool)
    maritime[city[themed[port]]] = True
    logistics = np.zeros(n, dtype=bool)
    logistics[city[container[port] | (size[port] == "Large")]] = True
    columns = {O.SEAPORT: has, O.PORT_NAME: names, O.PORT_HARBOUR_SIZE: sizes}
    return source_result("ports", path, joined, table, "port_name", "country", lat, lon,
                         columns, {"maritime": maritime, "logistics": logistics})
