"""The Python API (matcher.api.Matcher) on a tiny factory model: ranking invariants and errors."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matcher_factories import make_model_dir
from paths import REPO

from matcher import config
from matcher.api import Match, Matcher
from matcher.errors import InputError, ModelLoadError, ModelNotFoundError
from matcher.ranking import rank

SEJONG, CARDIFF = 11523293, 2653822


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("model") / "v1")


@pytest.fixture(scope="module")
def matcher(model_dir) -> Matcher:
    return Matcher.load(model_dir)


def countries_of(matches: list[Match]) -> list[str]:
    return [m.country_code for m in matches]


def test_cold_city_gets_foreign_capped_recommendations(matcher):
    result = matcher.recommendation("Sejong")
    assert not result.has_partnerships and result.existing_partners == ()
    matches = result.matches
    assert len(matches) == 10
    assert "KR" not in countries_of(matches)  # domestic excluded by default
    assert max(countries_of(matches).count(c) for c in set(countries_of(matches))) <= 3
    assert [m.rank for m in matches] == list(range(1, 11))
    assert all(0 <= m.compatibility <= 100 for m in matches)
    for m in matches:
        assert all(0 <= v <= 100 for v in (m.performance, m.appetite, m.synergies))
        assert m.reasons and m.reason == "; ".join(m.reasons)
    # planted structure: Korean queries want British/French partners
    assert set(countries_of(matches[:3])) <= {"GB", "FR"}


def test_compatibility_discriminates_and_follows_the_rank(matcher):
    for mutual in (True, False):
        matches = matcher.recommend("Sejong", mutual=mutual, per_country=None)
        values = [m.compatibility for m in matches]
        assert values == sorted(values, reverse=True)
        assert values[0] - values[-1] > 5


def test_existing_partners_are_excluded_and_listed(matcher):
    result = matcher.recommendation("Cardiff")
    listed = {p.name for p in result.existing_partners}
    assert listed == {"Stuttgart", "Nantes"}
    assert not listed & {m.name for m in result.matches}


def test_filters(matcher):
    assert set(countries_of(matcher.recommend("Cardiff", countries=["KR"]))) == {"KR"}
    assert set(countries_of(matcher.recommend("Cardiff", countries=["South Korea"]))) == {"KR"}
    assert "DE" not in countries_of(matcher.recommend("Cardiff", exclude_countries=["Germany"]))
    domestic = matcher.recommend("Cardiff", include_domestic=True, per_country=None, k=20)
    assert "GB" in countries_of(domestic)
    big = matcher.recommend("Cardiff", min_population=1_000_000)
    assert big and all(m.population >= 1_000_000 for m in big)
    small = matcher.recommend("Cardiff", max_population=500_000)
    assert all(m.population <= 500_000 for m in small)
    near = matcher.recommend("Cardiff", max_km=1000)
    assert near and all(m.distance_km <= 1000 for m in near)
    assert matcher.recommend("Cardiff", countries=["SE"], max_km=10) == []


def test_unknown_country_filter_names_the_argument(matcher):
    with pytest.raises(InputError, match=r"^countries: unknown country 'Narnia'"):
        matcher.recommend("Cardiff", countries=["Narnia"])
    with pytest.raises(InputError, match=r"^exclude_countries: unknown country 'Atlantis'"):
        matcher.recommend("Cardiff", exclude_countries=["Atlantis"])


def test_switches_take_booleans_only(matcher):
    """Regression: mutual="no" ranked mutually (bool("no") is True)."""
    for name in ("mutual", "include_domestic"):
        with pytest.raises(InputError) as error:
            matcher.recommend("Cardiff", **{name: "no"})
        assert str(error.value) == f"{name}: give True or False, got 'no'"
    assert matcher.recommend("Cardiff", mutual=np.bool_(False)) == \
        matcher.recommend("Cardiff", mutual=False)
    with pytest.raises(InputError, match=r"^countries / exclude_countries: give a list"):
        matcher.recommend("Cardiff", countries="GB")


def test_mutual_and_one_sided_differ_and_default_is_the_constant(matcher):
    mutual = matcher.recommend("Cardiff", mutual=True)
    one_sided = matcher.recommend("Cardiff", mutual=False)
    default = matcher.recommend("Cardiff")
    assert default == (mutual if rank.MUTUAL_DEFAULT else one_sided)
    assert [m.score for m in mutual] != [m.score for m in one_sided]
    for m in one_sided:
        assert m.score == m.query_ranks_partner


def test_city_forms_are_equivalent(matcher):
    expected = matcher.recommend("Sejong")
    for form in ("Sejong, KR", "geonames:11523293", SEJONG, "sejong"):
        assert matcher.recommend(form) == expected


def test_recommend_many_equals_one_at_a_time(matcher):
    cities = ["Sejong", "Cardiff", "London", CARDIFF, "Daejeon", "Paris, FR"]
    batch = matcher.recommend_many(cities, k=5, per_country=2)
    assert list(batch) == cities
    for city in cities:
        assert batch[city] == matcher.recommend(city, k=5, per_country=2)


def test_match_is_frozen_with_json_fields(matcher):
    match = matcher.recommend("Sejong", k=1)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        match.rank = 5
    row = match.to_dict()
    for key in ("geonameid", "name", "country_code", "lat", "lon", "population", "score",
                "compatibility", "performance", "appetite", "synergies", "reasons"):
        assert key in row


@pytest.fixture(scope="module", params=[0, 6], ids=["stage-one", "stage-two+admin1"])
def any_matcher(request, matcher, tmp_path_factory) -> Matcher:
    """The module's matcher, and one whose model reorders each top 6 with a stage two."""
    if not request.param:
        return matcher
    return Matcher.load(make_model_dir(tmp_path_factory.mktemp("refined") / "v1",
                                       refine_depth=request.param, admin1=True))


@settings(max_examples=40, deadline=None)
@given(city=st.sampled_from(["Sejong", "Cardiff", "London", "Daejeon", "Toronto", "Malmo"]),
       k=st.integers(1, 12), per_country=st.one_of(st.none(), st.integers(1, 3)),
       include_domestic=st.booleans(), mutual=st.booleans(),
       countries=st.lists(st.sampled_from(["GB", "FR", "DE", "KR", "CA", "US"]), max_size=3),
       excluded=st.lists(st.sampled_from(["GB", "FR", "DE"]), max_size=2),
       min_population=st.one_of(st.none(), st.integers(0, 2_000_000)),
       max_km=st.one_of(st.none(), st.floats(100, 20_000)))
def test_ranking_invariants(any_matcher, city, k, per_country, include_domestic, mutual,
                            countries, excluded, min_population, max_km):
    matcher = any_matcher
    if set(countries) & set(excluded):  # no city can pass: refused (tested in test_cli_serving)
        with pytest.raises(InputError, match="both name"):
            matcher.recommend(city, countries=countries, exclude_countries=excluded)
        return
    matches = matcher.recommend(city, k=k, per_country=per_country,
                                include_domestic=include_domestic, mutual=mutual,
                                countries=countries, exclude_countries=excluded,
                                min_population=min_population, max_km=max_km)
    query = matcher.lookup.record(matcher.resolve(city))
    partners = {p.geonameid for p in matcher.recommendation(city).existing_partners}
    assert len(matches) <= k
    assert all(m.geonameid != query.geonameid for m in matches)
    assert not partners & {m.geonameid for m in matches}
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    codes = countries_of(matches)
    if per_country:
        # the cap, raised only as far as a --country filter needs to fill k rows
        cap = per_country if not countries else max(per_country, -(-k // len(set(countries))))
        assert all(codes.count(c) <= cap for c in codes)
    if countries:
        assert set(codes) <= set(countries)
    assert not set(codes) & set(excluded)
    if not include_domestic and query.country_code not in countries:
        assert query.country_code not in codes
    if min_population is not None:
        assert all(m.population >= min_population for m in matches)
    if max_km is not None:
        assert all(m.distance_km <= max_km + 0.1 for m in matches)


def test_load_defaults_to_current_and_reports_missing_model(tmp_path, monkeypatch, model_dir):
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setattr(config, "MODELS_DIR", models)
    with pytest.raises(ModelNotFoundError) as error:
        Matcher.load()
    assert str(error.value) == "no trained model in models/; run `make train`"
    os.symlink(model_dir, models / "current")
    assert Matcher.load().recommend("Sejong") == Matcher.load(model_dir).recommend("Sejong")


def test_damaged_model_names_the_file(tmp_path):
    path = make_model_dir(tmp_path / "broken")
    (path / "graph.npz").unlink()
    with pytest.raises(ModelLoadError, match=r"graph\.npz"):
        Matcher.load(path)


@pytest.mark.parametrize(("change", "message"), [
    (lambda column: column * 0 - 1, r"admin1_index values outside 0\.\.\d+"),
    (lambda column: column * 0, "an admin1_index region in two countries"),
])
def test_a_damaged_admin1_index_is_named_at_load(tmp_path, change, message):
    from matcher.store.cityindex import SERVING_FILE

    path = make_model_dir(tmp_path / "v1", admin1=True)
    table = pd.read_parquet(path / "cities.parquet")
    table["admin1_index"] = change(table["admin1_index"])
    table.to_parquet(path / "cities.parquet", index=False)
    (path / SERVING_FILE).unlink(missing_ok=True)
    with pytest.raises(ModelLoadError, match=message):
        Matcher.load(path)


def test_serving_path_imports_no_lightfm_or_sklearn(model_dir):
    code = (
        "import sys\n"
        "from matcher.api import Matcher\n"
        f"Matcher.load({str(model_dir)!r}).recommend('Sejong')\n"
        f"Matcher.load({str(model_dir)!r}).explain('Sejong', 'Cardiff')\n"
        "print(sorted(m for m in ('lightfm', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("refine_depth", [0, 20])
def test_a_recommendation_imports_no_pyarrow_pandas_scipy_or_numba(
        tmp_path, refine_depth):
    """Regression: a fresh `twin with` imported scipy.sparse (about 0.1 s) to read a few graph
    rows; the one-query path reads raw CSR arrays (matcher.scoring.csr)."""
    from matcher.store.cityindex import SERVING_FILE, write_serving_index

    served = make_model_dir(tmp_path / "served", refine_depth=refine_depth,
                            admin1=refine_depth > 0)
    write_serving_index(pd.read_parquet(served / "cities.parquet"), served / SERVING_FILE)
    code = (
        "import sys\n"
        "from matcher.api import Matcher\n"
        f"matcher = Matcher.load({str(served)!r})\n"
        "for city in ('Sejong, KR', 'Cardiff'):\n"
        "    matcher.recommend(city)\n"
        "    matcher.recommend(city, mutual=False, per_country=None, include_domestic=True)\n"
        "    matcher.recommend(city, countries=['KR'], max_km=9000)\n"
        "print(sorted(m for m in ('pyarrow', 'pandas', 'scipy', 'numba') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_alternate_names_are_read_only_when_a_lookup_needs_them(model_dir):
    from matcher.store.model import Model

    model = Model.load(model_dir)
    assert "alternatenames" not in model.table.loaded_names
    assert model.has_column("alternatenames")
    assert "alternatenames" in model.cities.columns
    assert len(model.column("alternatenames")) == model.n_cities
    matcher = Matcher(Model.load(model_dir))
    assert matcher.resolve("Caerdydd") == matcher.resolve("Cardiff")  # an alternate name


def test_serving_index_gives_the_parquet_columns_and_the_same_answers(model_dir, tmp_path):
    """cities_serving.npz (what a fresh `twin with` reads instead of importing pyarrow) holds
    the same columns as cities.parquet, and the recommendations do not change."""
    import shutil

    import pandas as pd

    from matcher.store.cityindex import SERVING_COLUMNS, SERVING_FILE, write_serving_index
    from matcher.store.model import Model

    served = tmp_path / "served"
    shutil.copytree(model_dir, served)
    write_serving_index(pd.read_parquet(served / "cities.parquet"), served / SERVING_FILE)
    fast, plain = Model.load(served), Model.load(model_dir)
    assert set(fast.table.loaded_names) == set(SERVING_COLUMNS) & set(plain.table.loaded_names)
    for name in fast.table.loaded_names:
        expected = plain.column(name)
        if expected.dtype == object:
            expected = np.array(["" if v is None else v for v in expected], dtype=object)
        assert (fast.column(name) == expected).all(), name
    assert Matcher(fast).recommend("Sejong") == Matcher(plain).recommend("Sejong")
    assert fast.column("timezone").tolist() == plain.column("timezone").tolist()  # from Parquet


def test_damaged_serving_index_names_the_file(model_dir, tmp_path):
    import shutil

    from matcher.store.cityindex import SERVING_FILE
    from matcher.store.model import Model

    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / SERVING_FILE).write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match=r"cities_serving\.npz is not a readable city index"):
        Model.load(broken)


def test_a_gazetteer_place_outside_the_index_names_the_nearest_it_knows(model_dir):
    """Regression (issue 15): `Tobermory` (1,000 people) got "did you mean Ob', RU"."""
    from matcher.errors import CityOutsideIndexError

    matcher = Matcher.load(model_dir)
    with pytest.raises(CityOutsideIndexError) as error:
        matcher.resolve("Tobermory, GB")
    message = str(error.value)
    assert message.startswith("Tobermory, GB (Scotland), population")
    assert "The nearest cities it knows: Manchester (" in message
    assert error.value.place.model_row is None and error.value.place.lat > 56


@pytest.fixture(scope="module")
def outsiders_matcher(tmp_path_factory) -> Matcher:
    """A high population floor: many cities are not candidates, so no list holds them."""
    return Matcher.load(make_model_dir(tmp_path_factory.mktemp("outsiders") / "v1", seed=3,
                                       synthetic=60, synthetic_edges=25,
                                       candidate_floor=400_000))


def test_regression_a_city_nobody_ranks_gets_a_readable_one_sided_list(outsiders_matcher):
    """Issue 15: for a city that is not a candidate (no list holds it) the default mutual list
    showed compatibility 0.0 and partner_ranks_query 0.0 on every row (`twin with Boseong`). It
    is now said to be one-sided, with the same picks, compatibility from its own side, and
    where each partner would place it if it were a candidate."""
    matcher = outsiders_matcher
    arrays = matcher.model.arrays
    outsider = int(matcher.model.geonameids[int(np.flatnonzero(~arrays.candidate_mask)[0])])
    result = matcher.recommendation(outsider)
    assert not result.mutual and not result.ranked_by_others
    assert result.to_dict()["ranking"] == "one-sided"
    one_sided = matcher.recommend(outsider, mutual=False)
    assert [m.geonameid for m in result.matches] == [m.geonameid for m in one_sided]
    assert result.matches[0].compatibility > 50
    assert all(0 < m.partner_ranks_query <= 1 for m in result.matches)
    many = matcher.recommend_many([outsider])[outsider]
    assert [m.to_dict() for m in many] == [m.to_dict() for m in result.matches]
    a_candidate = int(matcher.model.geonameids[int(np.flatnonzero(arrays.candidate_mask)[0])])
    assert matcher.recommendation(a_candidate).ranked_by_others


def test_weights_re_rank_the_model_shortlist_and_keep_what_was_asked(matcher):
    """--weigh re-orders the model's best max(50, 5k) under the same filters: the k picks come
    from that shortlist, the header's cap is the one asked for (regression, issue 16: with
    --country it read 'at most 50 per country', the shortlist's), and the order follows the
    weighted mean of compatibility and sub-scores."""
    from matcher.explained import dimensions

    plain = matcher.recommendation("Sejong", matcher.make_filters(3, countries=["GB", "FR"]))
    weighted = matcher.recommendation("Sejong", matcher.make_filters(
        3, countries=["GB", "FR"], weigh="synergies=2"))
    assert weighted.per_country == plain.per_country
    assert len(weighted.matches) == 3 and weighted.weights == (("synergies", 2.0),)
    shortlist = matcher.recommendation("Sejong", matcher.make_filters(50, countries=["GB", "FR"],
                                                                      per_country=plain.per_country))
    by_id = {m.geonameid: m for m in shortlist.matches}
    assert {m.geonameid for m in weighted.matches} <= set(by_id)
    subs = {d: np.array([np.nan if getattr(by_id[g], d) is None else getattr(by_id[g], d)
                         for g in by_id]) for d in dimensions.DIMENSIONS}
    order = dimensions.weighted_order(subs, np.array([m.compatibility for m in by_id.values()]),
                                      weighted.weights)
    expected = [list(by_id)[i] for i in order[:3]]
    assert [m.geonameid for m in weighted.matches] == expected
    assert [m.rank for m in weighted.matches] == [1, 2, 3]
    with pytest.raises(InputError, match="weigh: unknown dimension"):
        matcher.make_filters(3, weigh="speed=1")


def test_serving_index_stores_repetitive_text_as_codes_and_checks_them(model_dir, tmp_path):
    """A text column with few distinct values (growth levels, country codes) is stored as its
    values and a code per row; codes that point past the values are a load error naming the
    file, not a wrong city."""
    import shutil

    import pandas as pd

    from matcher.store.cityindex import SERVING_FILE, write_serving_index
    from matcher.store.model import Model

    served = tmp_path / "served"
    shutil.copytree(model_dir, served)
    write_serving_index(pd.read_parquet(served / "cities.parquet"), served / SERVING_FILE)
    with np.load(served / SERVING_FILE) as stored:
        arrays = {key: stored[key] for key in stored.files}
    assert "codes__growth_level" in arrays and "codes__name" not in arrays
    arrays["codes__growth_level"] = arrays["codes__growth_level"] + 100
    np.savez(served / SERVING_FILE, **arrays)
    with pytest.raises(ModelLoadError, match=r"cities_serving\.npz is not a readable city index"):
        Model.load(served)
