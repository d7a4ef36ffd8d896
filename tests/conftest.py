"""Shared tiny data for the model tests: 20 cities in 5 countries with a planted structure.

The plant: French and German towns twin across the Rhine in a ring (each with its two nearest
counterparts); British and Korean cities twin with each other; Italian towns twin with French ones.
A held-out edge of the ring is recoverable from shared partners, a held-out city from its
neighbours, so a working model must find them and the metrics must say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matcher import config
from matcher.columns import Columns as C

# name, country, lat, lon, population, capital
CITIES = [
    ("Paris", "FR", 48.85, 2.35, 2_100_000, True),
    ("Strasbourg", "FR", 48.58, 7.75, 280_000, False),
    ("Colmar", "FR", 48.08, 7.36, 68_000, False),
    ("Mulhouse", "FR", 47.75, 7.34, 108_000, False),
    ("Metz", "FR", 49.12, 6.18, 117_000, False),
    ("Berlin", "DE", 52.52, 13.40, 3_400_000, True),
    ("Kehl", "DE", 48.57, 7.82, 36_000, False),
    ("Freiburg", "DE", 47.99, 7.85, 230_000, False),
    ("Offenburg", "DE", 48.47, 7.94, 59_000, False),
    ("Saarbrucken", "DE", 49.23, 7.00, 180_000, False),
    ("London", "GB", 51.51, -0.13, 8_900_000, True),
    ("Cardiff", "GB", 51.48, -3.18, 447_000, False),
    ("Leeds", "GB", 53.80, -1.55, 790_000, False),
    ("Seoul", "KR", 37.57, 126.98, 9_700_000, True),
    ("Daejeon", "KR", 36.35, 127.38, 1_500_000, False),
    ("Sejong", "KR", 36.59, 127.29, 395_000, False),
    ("Busan", "KR", 35.18, 129.08, 3_400_000, False),
    ("Rome", "IT", 41.89, 12.51, 2_300_000, True),
    ("Turin", "IT", 45.07, 7.69, 870_000, False),
    ("Milan", "IT", 45.46, 9.19, 1_400_000, False),
]
EDGES = [
    ("Strasbourg", "Kehl"), ("Strasbourg", "Offenburg"), ("Colmar", "Freiburg"),
    ("Colmar", "Kehl"), ("Mulhouse", "Freiburg"), ("Mulhouse", "Offenburg"),
    ("Metz", "Saarbrucken"), ("Metz", "Kehl"), ("Saarbrucken", "Strasbourg"),
    ("Paris", "Berlin"), ("Paris", "Rome"), ("Berlin", "London"),
    ("London", "Seoul"), ("Cardiff", "Daejeon"), ("Leeds", "Busan"), ("Cardiff", "Busan"),
    ("Leeds", "Daejeon"), ("London", "Busan"), ("Turin", "Strasbourg"), ("Milan", "Colmar"),
    ("Turin", "Mulhouse"), ("Milan", "Metz"),
]
COUNTRIES = {
    "FR": ("FRA", "France", "EU", "fr", "DE;IT"),
    "DE": ("DEU", "Germany", "EU", "de", "FR"),
    "GB": ("GBR", "United Kingdom", "EU", "en", ""),
    "KR": ("KOR", "South Korea", "AS", "ko;en", "KP"),
    "IT": ("ITA", "Italy", "EU", "it", "FR"),
}


def tiny_cities() -> pd.DataFrame:
    rows = []
    for number, (name, country, lat, lon, population, capital) in enumerate(CITIES, start=1):
        rows.append({
            C.GEONAMEID: 1000 + number, C.NAME: name, C.ASCII_NAME: name, C.ALT_NAMES: "",
            C.COUNTRY: country, C.ADMIN1: "01", C.LAT: lat, C.LON: lon,
            C.POPULATION: population, C.TIMEZONE: "Europe/Paris" if country != "KR"
            else "Asia/Seoul", C.CONTINENT: COUNTRIES[country][2],
            C.COUNTRY_NAME: COUNTRIES[country][1], C.IS_CAPITAL: capital})
    return pd.DataFrame(rows)


def tiny_countries() -> pd.DataFrame:
    return pd.DataFrame([
        {C.ISO2: iso2, C.ISO3: iso3, C.COUNTRY_NAME: name, C.CONTINENT: continent,
         C.LANGUAGES: languages, C.NEIGHBOURS: neighbours, C.AREA_KM2: 100_000.0,
         C.POPULATION: 50_000_000, "capital": ""}
        for iso2, (iso3, name, continent, languages, neighbours) in COUNTRIES.items()])


def tiny_partnerships(cities: pd.DataFrame, edges=EDGES) -> pd.DataFrame:
    ids = dict(zip(cities[C.NAME], cities[C.GEONAMEID], strict=True))
    pairs = sorted((min(ids[a], ids[b]), max(ids[a], ids[b])) for a, b in edges)
    frame = pd.DataFrame(pairs, columns=[C.CITY_A, C.CITY_B])
    frame[C.WEIGHT] = 1.0
    frame[C.STATUS] = None
    frame[C.STRENGTH] = np.nan
    frame[C.SINCE] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame[C.SOURCES] = "snapshot"
    frame[C.LISTINGS] = 1
    return frame


def write_processed(directory: Path, edges=EDGES) -> Path:
    """A complete data/processed/ directory for the tiny world."""
    cities = tiny_cities()
    return write_world(directory, cities, tiny_countries(), tiny_partnerships(cities, edges),
                       label="tiny")


@pytest.fixture
def processed_dir(tmp_path) -> Path:
    return write_processed(tmp_path / "processed")


@pytest.fixture
def tiny_config():
    from training.model.fit import TrainConfig

    return TrainConfig(components=2, epochs=5, candidate_min_population=0, geo_radius_km=150.0,
                       rerank_negatives=5, holdout_fraction=0.2)


def planted_world(seed: int = 0, towns_per_region: int = 6, partners_per_town: int = 2):
    """A bigger synthetic world with a known answer: regions twin with one partner region abroad.

    Six countries of three regions each; every town of region r in country c twins with
    `partners_per_town` towns of the partner region (same r, country c+1 of a pair). Returns
    (cities, countries, partnerships) frames.
    """
    rng = np.random.default_rng(seed)
    codes = [*COUNTRIES, "ES"]
    centres = {code: (40 + 4 * i, -5 + 12 * i) for i, code in enumerate(codes)}
    rows, region_of = [], {}
    geonameid = 5000
    for code in codes:
        for region in range(3):
            lat0 = centres[code][0] + 2.5 * region
            lon0 = centres[code][1]
            for town in range(towns_per_region):
                geonameid += 1
                rows.append({
                    C.GEONAMEID: geonameid, C.NAME: f"{code}-r{region}-t{town}",
                    C.ASCII_NAME: f"{code}-r{region}-t{town}", C.ALT_NAMES: "",
                    C.COUNTRY: code, C.ADMIN1: str(region), C.LAT: lat0 + rng.normal(0, 0.15),
                    C.LON: lon0 + rng.normal(0, 0.15),
                    C.POPULATION: int(rng.integers(20_000, 500_000)), C.TIMEZONE: "UTC",
                    C.CONTINENT: "EU", C.COUNTRY_NAME: code, C.IS_CAPITAL: False})
                region_of[geonameid] = (code, region)
    cities = pd.DataFrame(rows)
    countries = pd.concat([tiny_countries(), pd.DataFrame([{
        C.ISO2: "ES", C.ISO3: "ESP", C.COUNTRY_NAME: "Spain", C.CONTINENT: "EU",
        C.LANGUAGES: "es", C.NEIGHBOURS: "FR", C.AREA_KM2: 500_000.0, C.POPULATION: 47_000_000,
        "capital": ""}])], ignore_index=True)
    partner_country = {codes[i]: codes[i + 1] for i in range(0, len(codes), 2)}
    by_region: dict[tuple[str, int], list[int]] = {}
    for gid, key in region_of.items():
        by_region.setdefault(key, []).append(gid)
    edges = set()
    for (code, region), towns in by_region.items():
        if code not in partner_country:
            continue
        partners = by_region[(partner_country[code], region)]
        for town in towns:
            for partner in rng.choice(partners, size=partners_per_town, replace=False):
                edges.add((min(town, int(partner)), max(town, int(partner))))
    frame = pd.DataFrame(sorted(edges), columns=[C.CITY_A, C.CITY_B])
    frame[C.WEIGHT] = 1.0
    frame[C.STATUS] = None
    frame[C.STRENGTH] = np.nan
    frame[C.SINCE] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame[C.SOURCES] = "snapshot"
    frame[C.LISTINGS] = 1
    return cities, countries, frame


def write_world(directory: Path, cities, countries, partnerships, label: str = "planted") -> Path:
    """Write any (cities, countries, partnerships) world as a data/processed/ directory."""
    from training.data.features import build_city_features

    directory.mkdir(parents=True, exist_ok=True)
    features, schema = build_city_features(cities, partnerships, countries)
    cities.to_parquet(directory / config.CITIES_FILE, index=False)
    countries.to_parquet(directory / config.COUNTRIES_FILE, index=False)
    partnerships.to_parquet(directory / config.PARTNERSHIPS_FILE, index=False)
    features.to_parquet(directory / config.FEATURES_FILE, index=False)
    (directory / config.FEATURE_SCHEMA_FILE).write_text(json.dumps(schema.to_dict()),
                                                          encoding="utf-8")
    (directory / config.MANIFEST_FILE).write_text(json.dumps({"inputs": label}),
                                                    encoding="utf-8")
    return directory


@pytest.fixture
def planted_dir(tmp_path) -> Path:
    return write_world(tmp_path / "planted", *planted_world())
