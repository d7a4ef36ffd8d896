"""User indicators: parsing, key matching, row rejections and every file-level error's text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from matcher.columns import Columns as C
from matcher.errors import InputError
from training.data.features import build_city_features
from training.data.indicators import (
    IndicatorSchema,
    fold_name,
    load_indicators,
    normalise_tags,
)

SCHEMA = {"columns": {"gdp": "numeric", "sectors": "tags", "kind": "categorical",
                      "port": "binary", "notes": "ignore"}}
HEADER = "geonameid,city,country,gdp,sectors,kind,port,notes"


def make_cities() -> pd.DataFrame:
    """Twelve cities with namesakes (two Gwangju, two Newport) and an alternate name (Pusan)."""
    rows = [
        (2643743, "London", "London", "Londres;Londra", "GB", "United Kingdom", 8_961_989),
        (2653822, "Cardiff", "Cardiff", "Caerdydd", "GB", "United Kingdom", 372_089),
        (2641598, "Newport", "Newport", "Casnewydd", "GB", "United Kingdom", 145_700),
        (2641599, "Newport", "Newport", "", "GB", "United Kingdom", 25_000),
        (1835848, "Seoul", "Seoul", "Séoul;Soul", "KR", "South Korea", 10_349_312),
        (11523293, "Sejong", "Sejong", "Sejong-si", "KR", "South Korea", 394_630),
        (1841810, "Gwangju", "Gwangju", "", "KR", "South Korea", 81_780),
        (1841811, "Gwangju", "Gwangju", "Kwangju", "KR", "South Korea", 1_401_235),
        (1838524, "Busan", "Busan", "Pusan;Busan-si", "KR", "South Korea", 3_285_147),
        (2988507, "Paris", "Paris", "Parigi", "FR", "France", 2_138_551),
        (3031582, "Bordeaux", "Bordeaux", "", "FR", "France", 231_844),
        (2950159, "Berlin", "Berlin", "Berlino", "DE", "Germany", 3_426_354),
    ]
    frame = pd.DataFrame(rows, columns=[C.GEONAMEID, C.NAME, C.ASCII_NAME, C.ALT_NAMES,
                                        C.COUNTRY, C.COUNTRY_NAME, C.POPULATION])
    return frame.astype({C.GEONAMEID: np.int64, C.POPULATION: np.int64})


def write(tmp_path, csv_text: str | bytes, schema: dict | str | None = None):
    """Write indicators.csv and its schema into tmp_path; returns both paths."""
    csv_path, schema_path = tmp_path / "indicators.csv", tmp_path / "schema.json"
    if isinstance(csv_text, bytes):
        csv_path.write_bytes(csv_text)
    else:
        csv_path.write_text(csv_text, encoding="utf-8")
    schema = SCHEMA if schema is None else schema
    schema_path.write_text(schema if isinstance(schema, str) else json.dumps(schema),
                           encoding="utf-8")
    return csv_path, schema_path


def load(tmp_path, csv_text, schema=None):
    return load_indicators(*write(tmp_path, csv_text, schema), make_cities())


def error_text(tmp_path, csv_text, schema=None) -> str:
    with pytest.raises(InputError) as caught:
        load(tmp_path, csv_text, schema)
    return str(caught.value)


GOOD = "\n".join([
    HEADER,
    "2653822,,,38000,Smart City; media;MEDIA,capital,no,mine",
    ",Sejong,KR,31000.5,smart_city;research,administrative,,",
    ",gwangju,South Korea,NA,,metropolitan,yes,",
    ",Pusan,Korea,30000,port,metropolitan,1,",
    ",NEWPORT,UK,1e3,,,false,",
])


def test_good_file_gives_typed_values_sorted_by_geonameid(tmp_path):
    result = load(tmp_path, GOOD + "\n")
    values = result.values
    assert values[C.GEONAMEID].tolist() == [1838524, 1841811, 2641598, 2653822, 11523293]
    assert list(values.columns) == [C.GEONAMEID, "gdp", "sectors", "kind", "port"]
    assert values[C.GEONAMEID].dtype == np.int64
    assert values["gdp"].dtype == np.float64
    assert values["port"].dtype == "boolean"
    by_id = values.set_index(C.GEONAMEID)
    assert by_id.loc[2653822, "sectors"] == "media;smart-city"
    assert by_id.loc[11523293, "sectors"] == "research;smart-city"
    assert by_id.loc[11523293, "gdp"] == 31000.5
    assert np.isnan(by_id.loc[1841811, "gdp"])
    assert by_id.loc[1841811, "sectors"] == ""
    assert by_id.loc[2641598, "gdp"] == 1000.0
    assert pd.isna(by_id.loc[2641598, "kind"])
    assert by_id["port"].tolist() == [True, True, False, False, pd.NA]
    assert result.rejected.empty
    assert result.rows_in == 5
    assert result.schema.names() == ["gdp", "sectors", "kind", "port"]
    assert result.schema.names("ignore") == ["notes"]


def test_name_matching_rules(tmp_path):
    """Folded names, most populous namesake, alternate-name fallback, country aliases."""
    ids = load(tmp_path, GOOD).values[C.GEONAMEID].tolist()
    assert 1841811 in ids and 1841810 not in ids  # Gwangju: the metropolitan city wins
    assert 2641598 in ids and 2641599 not in ids  # Newport: the larger one
    assert 1838524 in ids  # Pusan is an alternate name of Busan
    csv = "city,country\nSéoul,kr\nLondres,United Kingdom\n"
    result = load(tmp_path, csv, {"columns": {}})
    assert result.values[C.GEONAMEID].tolist() == [1835848, 2643743]


def test_rejected_rows_carry_their_reasons(tmp_path):
    csv = "\n".join([
        HEADER,
        "2653822,,,1,,,,",
        ",Narnia City,XX,1,,,,",
        ",Atlantis,GB,1,,,,",
        "12x,,,1,,,,",
        "999,,,1,,,,",
        ",Paris,FR,lots,,,maybe,",
        ",Berlin,,1,,,,",
        ",,,1,,,,",
        "",
        ",Bordeaux,France,inf,,,,",
    ])
    result = load(tmp_path, csv)
    assert result.values[C.GEONAMEID].tolist() == [2653822]
    rejected = result.rejected
    assert rejected[C.ROW].tolist() == [2, 3, 4, 5, 6, 7, 8, 9]
    assert rejected["line"].tolist() == [3, 4, 5, 6, 7, 8, 9, 11]
    assert rejected["city"].tolist() == ["Narnia City", "Atlantis", "", "", "Paris", "Berlin",
                                         "", "Bordeaux"]
    assert rejected[C.REASON].tolist() == [
        "unknown country 'XX'; use an ISO 3166-1 alpha-2 code such as GB or KR",
        "city 'Atlantis' not found in GB; check the spelling or give its geonameid",
        "geonameid '12x' is not a whole number",
        "geonameid 999 is not in the city table",
        "column 'gdp': 'lots' is not a number; "
        "column 'port': 'maybe' is not yes/no (true/false, 1/0)",
        "country is empty for city 'Berlin'; give an ISO2 code such as GB",
        "no geonameid and no city name; fill one of them",
        "column 'gdp': 'inf' is not a number",
    ]
    assert result.rows_in == 9


def test_cities_without_indicators_keep_their_row(tmp_path):
    result = load(tmp_path, GOOD)
    cities = make_cities().assign(**{C.LAT: 40.0, C.LON: 10.0, C.TIMEZONE: "UTC",
                                     C.CONTINENT: "EU", C.IS_CAPITAL: False})
    countries = pd.DataFrame({C.ISO2: ["GB", "KR"], C.LANGUAGES: ["en", "ko"]})
    partnerships = pd.DataFrame({C.CITY_A: [2653822], C.CITY_B: [11523293], C.WEIGHT: [1.0]})
    table, schema = build_city_features(cities, partnerships, countries, result.values,
                                        result.schema)
    assert table[C.GEONAMEID].tolist() == cities[C.GEONAMEID].tolist()
    london = table[table[C.GEONAMEID] == 2643743].iloc[0]
    assert np.isnan(london["gdp"]) and london["sectors"] == ""
    assert pd.isna(london["kind"]) and pd.isna(london["port"])
    sejong = table[table[C.GEONAMEID] == 11523293].iloc[0]
    assert sejong["gdp"] == 31000.5 and sejong["kind"] == "administrative"
    assert schema.names("performance")[-1] == "gdp"
    assert schema.names("synergies") == ["sectors", "kind", "port"]
    assert "notes" not in table.columns


def test_utf8_bom_and_blank_lines_are_fine(tmp_path):
    data = "\ufeffgeonameid,gdp\n\n2653822,5\n".encode()
    result = load(tmp_path, data, {"columns": {"gdp": "numeric"}})
    assert result.values["gdp"].tolist() == [5.0]


def test_schema_round_trip_and_helpers():
    schema = IndicatorSchema.from_dict(SCHEMA)
    assert IndicatorSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    assert schema.kinds["sectors"] == "tags"
    assert fold_name("  São-Paulo (SP) ") == "sao paulo sp"
    assert fold_name(None) == ""
    assert normalise_tags(" Smart City;port, Port ;;") == "port;smart-city"
    assert normalise_tags(float("nan")) == ""


# ----- file-level errors: exact text -----

def test_schema_file_missing(tmp_path):
    csv_path, _ = write(tmp_path, GOOD)
    missing = tmp_path / "nope.json"
    with pytest.raises(InputError) as caught:
        load_indicators(csv_path, missing, make_cities())
    assert str(caught.value) == (
        f"{missing}: indicator schema file not found; write one like "
        '{"columns": {"gdp_per_head": "numeric", "sectors": "tags"}}'
    )


def test_csv_file_missing(tmp_path):
    _, schema_path = write(tmp_path, GOOD)
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError) as caught:
        load_indicators(missing, schema_path, make_cities())
    assert str(caught.value) == f"{missing}: indicators file not found; check the path"


@pytest.mark.parametrize(("schema", "message"), [
    ('{"columns": {"gdp": "numeric",}}',
     "not valid JSON (line 1, column 31: Expecting property name enclosed in double quotes); "
     'fix it to look like {"columns": {"gdp_per_head": "numeric", "sectors": "tags"}}'),
    ('["gdp"]', 'expected a JSON object like '
                '{"columns": {"gdp_per_head": "numeric", "sectors": "tags"}}'),
    ('{"columns": {"gdp": "number"}}',
     "column 'gdp' has unknown kind \"number\"; use one of numeric, categorical, tags, "
     "binary, ignore"),
    ('{"columns": {"City": "categorical"}}',
     "'City' is a key column, not an indicator; remove it from \"columns\""),
    ('{"columns": {"population": "numeric"}}',
     "indicator 'population' has the name of a built-in feature; rename it "
     "(e.g. 'user_population') in the CSV and the schema"),
])
def test_bad_schema_file(tmp_path, schema, message):
    _, schema_path = write(tmp_path, GOOD, schema)
    assert error_text(tmp_path, GOOD, schema) == f"{schema_path}: {message}"


def test_schema_not_utf8(tmp_path):
    csv_path, schema_path = write(tmp_path, GOOD)
    schema_path.write_bytes(b'{"columns": {"\xff": "numeric"}}')
    with pytest.raises(InputError) as caught:
        load_indicators(csv_path, schema_path, make_cities())
    assert str(caught.value) == f"{schema_path}: not valid UTF-8; save the schema as UTF-8"


def test_schema_column_absent_from_csv(tmp_path):
    schema = {"columns": {**SCHEMA["columns"], "growth": "numeric"}}
    csv_path, schema_path = write(tmp_path, GOOD, schema)
    assert error_text(tmp_path, GOOD, schema) == (
        f"{schema_path}: column 'growth' is in the schema but not in {csv_path}; "
        "add the column to the CSV or remove it from the schema"
    )


def test_csv_column_absent_from_schema(tmp_path):
    csv = "geonameid,gdp,extra\n2653822,1,2\n"
    schema = {"columns": {"gdp": "numeric"}}
    csv_path, schema_path = write(tmp_path, csv, schema)
    assert error_text(tmp_path, csv, schema) == (
        f"{csv_path}: column 'extra' is not in the schema {schema_path}; add it to \"columns\" "
        "with its kind (numeric, categorical, tags, binary) or \"ignore\""
    )


@pytest.mark.parametrize(("csv", "message"), [
    ("name,gdp\nCardiff,1\n",
     "no key column; add 'geonameid', or 'city' and 'country', to the header"),
    ("city,gdp\nCardiff,1\n",
     "column 'city' needs a 'country' column (ISO2 code or name): city names are matched "
     "within their country"),
    ("", "the file is empty; it needs a header row and one row per city"),
    (" \n\n", "the file is empty; it needs a header row and one row per city"),
    ("geonameid,gdp\n", "the file has a header but no data rows; add one row per city"),
    ("geonameid,gdp\n2653822,1\n\n11523293,2,3\n",
     "row 2 (line 4) has 3 fields but the header has 2; quote values that contain commas"),
    ("geonameid,gdp,gdp\n2653822,1,1\n", "column 'gdp' appears twice in the header; keep one"),
    ("geonameid,,gdp\n2653822,1,1\n", "header column 2 has no name; name or remove it"),
    ("geonameid,gdp\n11523293,1\n2653822,2\n11523293,3\n",
     "rows 1 and 3 both give city 11523293; keep one row per city"),
    ("geonameid,city,country,gdp\n,Gwangju,KR,1\n1841811,,,2\n",
     "rows 1 and 2 both give city 1841811; keep one row per city"),
    ("city,country,gdp\nAtlantis,GB,1\nParis,FR,x\n",
     "none of the 2 rows could be used (row 1: city 'Atlantis' not found in GB; check the "
     "spelling or give its geonameid); fix the keys or values"),
])
def test_bad_csv_file(tmp_path, csv, message):
    csv_path, _ = write(tmp_path, csv, {"columns": {"gdp": "numeric"}})
    assert error_text(tmp_path, csv, {"columns": {"gdp": "numeric"}}) == f"{csv_path}: {message}"


def test_csv_not_utf8(tmp_path):
    data = b"geonameid,city,country,gdp\n,Cardiff,GB,1\n,Li\xe8ge,BE,2\n"
    csv_path, _ = write(tmp_path, data, {"columns": {"gdp": "numeric"}})
    assert error_text(tmp_path, data, {"columns": {"gdp": "numeric"}}) == (
        f"{csv_path}: line 3 is not valid UTF-8; save the file as UTF-8 (in Excel: 'CSV UTF-8')"
    )
