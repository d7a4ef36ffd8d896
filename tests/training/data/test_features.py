"""The raw city feature table: each feature against a naive hand computation, plus invariants."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.columns import Columns as C
from matcher.errors import DataError
from training.data.features import (
    FOREIGN_PARTNER_COUNT,
    FOREIGN_PARTNER_SHARE,
    GEO_CELL,
    HAS_PARTNERSHIPS,
    LOG10_POPULATION,
    PARTNER_COUNTRY_COUNT,
    PARTNERSHIP_COUNT,
    PARTNERSHIP_WEIGHT,
    POPULATION_BAND,
    FeatureSchema,
    FeatureSpec,
    build_city_features,
    geo_cell,
    population_band,
)
from training.data.indicators import IndicatorSchema

APPETITE = [PARTNERSHIP_COUNT, PARTNERSHIP_WEIGHT, PARTNER_COUNTRY_COUNT, FOREIGN_PARTNER_COUNT,
            FOREIGN_PARTNER_SHARE, HAS_PARTNERSHIPS, C.IS_CAPITAL]


def make_cities() -> pd.DataFrame:
    """Twelve cities over four countries, one with no country and one with population 0."""
    rows = [  # geonameid, country, lat, lon, population, timezone, continent, capital
        (10, "GB", 51.51, -0.13, 8_961_989, "Europe/London", "EU", True),
        (11, "GB", 51.48, -3.18, 372_089, "Europe/London", "EU", False),
        (12, "GB", 52.49, -1.89, 1_157_603, "Europe/London", "EU", False),
        (20, "KR", 37.57, 126.98, 10_349_312, "Asia/Seoul", "AS", True),
        (21, "KR", 36.48, 127.29, 394_630, "Asia/Seoul", "AS", False),
        (22, "KR", 35.10, 129.04, 3_285_147, "Asia/Seoul", "AS", False),
        (30, "FR", 48.85, 2.35, 2_138_551, "Europe/Paris", "EU", True),
        (31, "FR", 44.84, -0.58, 49_999, "Europe/Paris", "EU", False),
        (40, "AU", -33.87, 151.21, 10_000, "Australia/Sydney", "OC", False),
        (41, "AU", -90.0, 180.0, 9_999, "Antarctica/McMurdo", "AN", False),
        (50, None, np.nan, np.nan, 0, None, None, False),
        (51, "FR", 0.0, -0.0, 5_000_000, "Europe/Paris", "EU", False),
    ]
    frame = pd.DataFrame(rows, columns=[C.GEONAMEID, C.COUNTRY, C.LAT, C.LON, C.POPULATION,
                                        C.TIMEZONE, C.CONTINENT, C.IS_CAPITAL])
    return frame.astype({C.GEONAMEID: np.int64, C.POPULATION: np.int64})


COUNTRIES = pd.DataFrame({C.ISO2: ["GB", "KR", "FR", "AU"],
                          C.CONTINENT: ["EU", "AS", "EU", "OC"],
                          C.LANGUAGES: ["en;cy;gd", "ko;en", "fr", "en"]})

EDGES = [(10, 11, 1.0), (10, 20, 1.0), (10, 30, 0.5), (11, 21, 0.25), (20, 21, 1.0),
         (20, 22, 1.0), (20, 30, 1.0), (22, 40, 0.5), (12, 50, 1.0), (30, 31, 1.0)]


def make_partnerships(edges=EDGES) -> pd.DataFrame:
    return pd.DataFrame(edges, columns=[C.CITY_A, C.CITY_B, C.WEIGHT]).astype(
        {C.CITY_A: np.int64, C.CITY_B: np.int64})


def naive_appetite(cities: pd.DataFrame, edges) -> dict[int, dict]:
    """Loop over the edges the slow obvious way."""
    country = {g: (c if isinstance(c, str) else None)
               for g, c in zip(cities[C.GEONAMEID], cities[C.COUNTRY], strict=True)}
    out = {g: {"count": 0, "weight": 0.0, "countries": set(), "foreign": 0} for g in country}
    for a, b, w in edges:
        for me, other in ((a, b), (b, a)):
            out[me]["count"] += 1
            out[me]["weight"] += w
            if country[other] is not None:
                out[me]["countries"].add(country[other])
                if country[me] is not None and country[me] != country[other]:
                    out[me]["foreign"] += 1
    return out


def assert_appetite_matches(table: pd.DataFrame, cities: pd.DataFrame, edges) -> None:
    expected = naive_appetite(cities, edges)
    for _, row in table.iterrows():
        e = expected[row[C.GEONAMEID]]
        assert row[PARTNERSHIP_COUNT] == e["count"]
        assert row[PARTNERSHIP_WEIGHT] == pytest.approx(e["weight"])
        assert row[PARTNER_COUNTRY_COUNT] == len(e["countries"])
        assert row[FOREIGN_PARTNER_COUNT] == e["foreign"]
        share = e["foreign"] / e["count"] if e["count"] else 0.0
        assert row[FOREIGN_PARTNER_SHARE] == pytest.approx(share)
        assert row[HAS_PARTNERSHIPS] == (e["count"] > 0)


def build(cities=None, edges=EDGES, **kwargs):
    cities = make_cities() if cities is None else cities
    return build_city_features(cities, make_partnerships(edges), COUNTRIES, **kwargs)


def test_appetite_matches_hand_computation():
    table, _ = build()
    assert_appetite_matches(table, make_cities(), EDGES)
    seoul = table.set_index(C.GEONAMEID).loc[20]
    assert (seoul[PARTNERSHIP_COUNT], seoul[PARTNER_COUNTRY_COUNT]) == (4, 3)
    assert (seoul[FOREIGN_PARTNER_COUNT], seoul[FOREIGN_PARTNER_SHARE]) == (2, 0.5)
    unknown_country = table.set_index(C.GEONAMEID).loc[50]
    assert unknown_country[FOREIGN_PARTNER_COUNT] == 0  # own country unknown: not "foreign"
    assert table[C.IS_CAPITAL].tolist() == make_cities()[C.IS_CAPITAL].tolist()


def test_appetite_uses_only_the_partnerships_passed_in():
    held_out = 20
    train_edges = [e for e in EDGES if held_out not in e[:2]]
    table, _ = build(edges=train_edges)
    assert_appetite_matches(table, make_cities(), train_edges)
    row = table.set_index(C.GEONAMEID).loc[held_out]
    assert row[[PARTNERSHIP_COUNT, PARTNER_COUNTRY_COUNT, FOREIGN_PARTNER_COUNT]].tolist() == [
        0, 0, 0]
    assert row[FOREIGN_PARTNER_SHARE] == 0.0 and not row[HAS_PARTNERSHIPS]
    empty, _ = build(edges=[])
    assert (empty[PARTNERSHIP_COUNT] == 0).all() and (empty[FOREIGN_PARTNER_SHARE] == 0).all()


def test_weight_defaults_to_one_when_absent():
    cities = make_cities()
    partnerships = make_partnerships().drop(columns=[C.WEIGHT])
    table, _ = build_city_features(cities, partnerships, COUNTRIES)
    assert (table[PARTNERSHIP_WEIGHT] == table[PARTNERSHIP_COUNT]).all()


def test_performance_features():
    table, _ = build()
    assert table[C.POPULATION].tolist() == make_cities()[C.POPULATION].tolist()
    assert table[POPULATION_BAND].tolist() == [
        ">=5M", "250k-500k", "1M-5M", ">=5M", "250k-500k", "1M-5M", "1M-5M", "10k-50k",
        "10k-50k", "<10k", "unknown", ">=5M"]
    for population, log10 in zip(table[C.POPULATION], table[LOG10_POPULATION], strict=True):
        if population > 0:
            assert log10 == pytest.approx(math.log10(population))
        else:
            assert np.isnan(log10)
    edges = pd.Series([np.nan, -1, 1, 9_999, 10_000, 50_000, 99_999, 100_000, 250_000,
                       500_000, 999_999, 1_000_000, 4_999_999, 5_000_000])
    assert population_band(edges).tolist() == [
        "unknown", "unknown", "<10k", "<10k", "10k-50k", "50k-100k", "50k-100k", "100k-250k",
        "250k-500k", "500k-1M", "500k-1M", "1M-5M", "1M-5M", ">=5M"]


def test_context_features():
    table, _ = build()
    assert table[C.LANGUAGES].tolist() == [
        "en;cy;gd", "en;cy;gd", "en;cy;gd", "ko;en", "ko;en", "ko;en", "fr", "fr", "en", "en",
        "", "fr"]
    assert table[GEO_CELL].iloc[[0, 1, 3, 6, 8, 9, 11]].tolist() == [
        "50N10W", "50N10W", "30N120E", "40N0E", "40S150E", "90S180W", "0N0E"]
    assert pd.isna(table[GEO_CELL].iloc[10]) and pd.isna(table[C.COUNTRY].iloc[10])
    for column in (C.COUNTRY, C.CONTINENT, C.TIMEZONE, C.LAT, C.LON):
        pd.testing.assert_series_equal(table[column], make_cities()[column])
    cells = geo_cell(pd.Series([89.9, 90.0, -22.9, 45.0]), pd.Series([179.9, -180.0, -43.2, 370.0]))
    assert cells.tolist() == ["80N170E", "80N180W", "30S50W", "40N10E"]


def test_columns_groups_and_order():
    table, schema = build()
    assert table.columns[0] == C.GEONAMEID
    assert list(table.columns[1:]) == schema.names()
    groups = [f.group for f in schema.features]
    assert groups == sorted(groups, key=["performance", "appetite", "synergies",
                                         "context"].index)
    assert schema.names("appetite") == APPETITE
    assert schema.names(kind="tags") == [C.LANGUAGES]
    assert table[PARTNERSHIP_COUNT].dtype == np.int64
    assert table[HAS_PARTNERSHIPS].dtype == bool


def test_user_indicators_join_their_groups_and_missing_cities_keep_rows():
    schema = IndicatorSchema.from_dict({"columns": {
        "gdp": "numeric", "sectors": "tags", "kind": "categorical", "port": "binary",
        "notes": "ignore"}})
    indicators = pd.DataFrame({
        C.GEONAMEID: np.array([21, 11, 999], dtype=np.int64),  # 999: not a city here, ignored
        "gdp": [31000.0, 38000.0, 1.0], "sectors": ["research;smart-city", "media", "x"],
        "kind": pd.Series(["administrative", np.nan, "x"], dtype="str"),
        "port": pd.array([False, True, None], dtype="boolean")})
    table, feature_schema = build(indicators=indicators, indicator_schema=schema)
    assert len(table) == 12 and table[C.GEONAMEID].tolist() == make_cities()[C.GEONAMEID].tolist()
    assert feature_schema.names("performance") == [C.POPULATION, LOG10_POPULATION,
                                                   POPULATION_BAND, "gdp"]
    assert feature_schema.names("synergies") == ["sectors", "kind", "port"]
    by_id = table.set_index(C.GEONAMEID)
    assert by_id.loc[21, "gdp"] == 31000.0 and by_id.loc[21, "sectors"] == "research;smart-city"
    assert by_id.loc[21, "kind"] == "administrative" and not by_id.loc[21, "port"]
    assert by_id.loc[11, "port"] and pd.isna(by_id.loc[11, "kind"])
    others = by_id.drop(index=[11, 21])
    assert others["gdp"].isna().all() and (others["sectors"] == "").all()
    assert others["kind"].isna().all() and others["port"].isna().all()
    assert table["gdp"].dtype == np.float64 and table["port"].dtype == "boolean"


def test_feature_schema_json_round_trip(tmp_path):
    _, schema = build()
    assert FeatureSchema.from_json(schema.to_json()) == schema
    assert FeatureSchema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    path = tmp_path / "feature_schema.json"
    schema.save(path)
    first = path.read_bytes()
    assert FeatureSchema.load(path) == schema
    schema.save(path)
    assert path.read_bytes() == first
    assert json.loads(first)["features"][0] == {"name": C.POPULATION, "group": "performance",
                                                "kind": "numeric"}


@pytest.mark.parametrize(("data", "message"), [
    ({"features": [{"name": "x", "group": "size", "kind": "numeric"}]},
     "s: feature 'x' has group 'size' / kind 'numeric'; groups ('performance', 'appetite', "
     "'synergies', 'context'), kinds ('numeric', 'categorical', 'tags', 'binary')"),
    ({"features": [{"name": "x", "group": "context"}]},
     "s: bad feature entry {'name': 'x', 'group': 'context'}; rebuild the data"),
    ({"features": [{"name": "x", "group": "context", "kind": "tags"}] * 2},
     "s: duplicate feature names; rebuild the data"),
    ([], 's: expected {"features": [...]}; rebuild the data'),
])
def test_feature_schema_rejects_bad_content(data, message):
    with pytest.raises(DataError) as caught:
        FeatureSchema.from_dict(data, source="s")
    assert str(caught.value) == message


def test_feature_schema_load_errors(tmp_path):
    missing = tmp_path / "feature_schema.json"
    with pytest.raises(DataError, match="feature schema not found; run `twin data build`"):
        FeatureSchema.load(missing)
    missing.write_text("{", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        FeatureSchema.load(missing)
    assert str(caught.value) == (f"{missing}: not valid JSON (Expecting property name enclosed "
                                 "in double quotes); rebuild the data")


@pytest.mark.parametrize(("edges", "message"), [
    ([(10, 77, 1.0)], "partnerships reference 1 geonameid(s) absent from the city table "
                      "(e.g. 77); rebuild the data so both agree"),
    ([(10, 10, 1.0)], "partnerships contain a self-partnership (city 10); rebuild the data"),
    ([(10, 11, 1.0), (11, 10, 1.0)],
     "partnerships list the same pair twice; rebuild the data (one row a pair)"),
])
def test_inconsistent_partnerships_raise(edges, message):
    with pytest.raises(DataError) as caught:
        build(edges=edges)
    assert str(caught.value) == message


def test_bad_inputs_raise():
    with pytest.raises(DataError) as caught:
        build(cities=make_cities().drop(columns=[C.TIMEZONE, C.IS_CAPITAL]))
    assert str(caught.value) == "cities lacks column(s) timezone, is_capital; rebuild the data"
    with pytest.raises(DataError) as caught:
        build(cities=pd.concat([make_cities(), make_cities().head(1)]))
    assert str(caught.value) == "cities list a geonameid twice; rebuild the data"
    with pytest.raises(DataError) as caught:
        build(indicators=pd.DataFrame({C.GEONAMEID: [10]}))
    assert str(caught.value) == "indicators were given without their IndicatorSchema; pass both"
    schema = IndicatorSchema(columns=(("gdp", "numeric"),))
    with pytest.raises(DataError) as caught:
        build(indicators=pd.DataFrame({C.GEONAMEID: [10, 10], "gdp": [1.0, 2.0]}),
              indicator_schema=schema)
    assert str(caught.value) == "indicators have two rows for one geonameid; keep one row per city"
    with pytest.raises(DataError) as caught:
        build(indicators=pd.DataFrame({C.GEONAMEID: [10]}), indicator_schema=schema)
    assert str(caught.value) == "indicators lacks column(s) gdp; rebuild the data"
    clash = IndicatorSchema(columns=((C.POPULATION, "numeric"),))
    with pytest.raises(DataError) as caught:
        build(indicators=pd.DataFrame({C.GEONAMEID: [10], C.POPULATION: [1.0]}),
              indicator_schema=clash)
    assert str(caught.value) == "indicator(s) ['population'] shadow built-in features; rename them"


@st.composite
def small_graphs(draw):
    """A shuffled subset of the toy cities and random unique edges among them."""
    cities = make_cities()
    order = draw(st.permutations(list(range(len(cities)))))
    size = draw(st.integers(min_value=1, max_value=len(cities)))
    chosen = cities.iloc[list(order[:size])].reset_index(drop=True)
    ids = chosen[C.GEONAMEID].tolist()
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
    picked = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=15)) if pairs else []
    weights = draw(st.lists(st.sampled_from([0.25, 0.5, 1.0]), min_size=len(picked),
                            max_size=len(picked)))
    edges = [(min(a, b), max(a, b), w) for (a, b), w in zip(picked, weights, strict=True)]
    return chosen, edges


@settings(max_examples=60, deadline=None)
@given(small_graphs())
def test_invariants_on_random_graphs(graph):
    cities, edges = graph
    table, schema = build(cities=cities, edges=edges)
    assert len(table) == len(cities)
    assert table[C.GEONAMEID].tolist() == cities[C.GEONAMEID].tolist()
    assert list(table.columns) == [C.GEONAMEID, *schema.names()]
    assert table[PARTNERSHIP_COUNT].sum() == 2 * len(edges)
    assert (table[PARTNER_COUNTRY_COUNT] <= table[PARTNERSHIP_COUNT]).all()
    assert table[FOREIGN_PARTNER_SHARE].between(0.0, 1.0).all()
    assert_appetite_matches(table, cities, edges)


def test_spec_is_frozen():
    spec = FeatureSpec("x", "context", "numeric")
    with pytest.raises(AttributeError):
        spec.name = "y"  # type: ignore[misc]


def open_values(cities: pd.DataFrame):
    """An OpenFeatures with three of the catalogue's columns for make_cities()."""
    from training.data.opendata import OpenFeatures

    n = len(cities)
    values = pd.DataFrame({
        "growth_2000_2020_pct": np.linspace(-1.0, 3.0, n),
        "growth_level": ["city"] * 3 + ["country"] * (n - 3),
        "themes": ["maritime;logistics"] + [""] * (n - 1),
    })
    return OpenFeatures(values, (), pd.DataFrame(), ())


def test_open_data_columns_join_their_dimensions_with_rule_source_and_level():
    cities = make_cities()
    table, schema = build(cities, open_data=open_values(cities))
    assert schema.names("performance")[-1] == "growth_2000_2020_pct"
    assert schema.names("synergies") == ["themes"]
    assert [s.name for s in schema.descriptive] == ["growth_level"]
    assert list(table.columns)[-1] == "growth_level"  # descriptive columns come last
    growth = schema.to_dict()["features"][len(schema.names("performance")) - 1]
    assert growth["level"] == "city|country" and growth["source"] == (
        "UN WUP (city); World Bank (country)")
    assert growth["rule"].startswith("agglomeration's compound annual growth 2000-2020")
    assert FeatureSchema.from_json(schema.to_json()) == schema
    assert table["themes"].iloc[0] == "maritime;logistics"


def test_descriptive_columns_are_not_encoded():
    from training.model.dataset import encode_features

    cities = make_cities()
    table, schema = build(cities, open_data=open_values(cities))
    encoded = encode_features(table, schema.to_dict()["features"])
    assert any(name.startswith("growth_2000_2020_pct=") for name in encoded.names)
    assert not any(name.startswith("growth_level") for name in encoded.names)
    assert "themes=maritime" in encoded.names


def test_open_data_must_have_one_row_per_city_and_not_clash_with_indicators():
    cities = make_cities()
    with pytest.raises(DataError, match="one row per city"):
        build(cities, open_data=open_values(cities.iloc[:3]))
    indicators = pd.DataFrame({C.GEONAMEID: [10], "themes": ["x"]})
    with pytest.raises(DataError, match=r"indicator\(s\) \['themes'\] shadow open-data"):
        build(cities, indicators=indicators,
              indicator_schema=IndicatorSchema(columns=(("themes", "tags"),)),
              open_data=open_values(cities))


def test_feature_schema_rejects_unknown_entry_keys():
    entry = {"name": "x", "group": "context", "kind": "tags", "colour": "red"}
    with pytest.raises(DataError, match="bad feature entry"):
        FeatureSchema.from_dict({"features": [entry]}, source="s")
    plain = {"name": "x", "group": "context", "kind": "tags"}
    with pytest.raises(DataError, match="duplicate feature names"):  # across both lists
        FeatureSchema.from_dict({"features": [plain], "descriptive": [plain]}, source="s")
