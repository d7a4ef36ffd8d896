"""training.data.opendata.join: join rules, radius pairs and table reading on the tiny cities."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_cities
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.errors import InputError
from training.data.opendata.join import (
    CityIndex,
    best_per_city,
    join_rows,
    read_table,
    within_radius,
)


@pytest.fixture(scope="module")
def index():
    return CityIndex(tiny_cities())


def joined_name(index, joined, i):
    return index.names[joined.rows[i]] if joined.rows[i] >= 0 else None


def test_a_name_within_the_distance_joins_and_beats_a_nearer_bigger_city(index):
    # Kehl's name, 4 km from Strasbourg (bigger, nearer): the name wins within max_km
    joined = join_rows(index, ["DE"], ["Kehl"], [48.58], [7.78], max_km=10, nearest_km=10)
    assert joined_name(index, joined, 0) == "Kehl" and joined.method[0] == "name"


def test_the_distance_check_refuses_a_far_namesake(index):
    joined = join_rows(index, ["GB"], ["London"], [53.8], [-1.55], max_km=50)
    assert joined.rows[0] == -1 and joined.reason[0] == "name_far"
    assert "'London' (GB) is" in joined.detail[0]


def test_nearest_fallback_stays_in_the_country(index):
    # 1 km from Kehl (DE) but the row says FR: Strasbourg, the French city near it
    joined = join_rows(index, ["FR"], ["Pont de l'Europe"], [48.57], [7.80], max_km=10,
                       nearest_km=10)
    assert joined_name(index, joined, 0) == "Strasbourg" and joined.method[0] == "nearest"


def test_variants_strip_qualifiers_and_split_compounds(index):
    joined = join_rows(index, ["GB", "KR"], ["Cardiff (Wales)", "Daejeon-Sejong"],
                       [51.48, 36.36], [-3.18, 127.38], max_km=20)
    assert [joined_name(index, joined, i) for i in range(2)] == ["Cardiff", "Daejeon"]


def test_rows_without_coordinates_join_by_name_only_when_allowed(index):
    args = (index, ["KR"], ["Busan"], [np.nan], [np.nan])
    assert join_rows(*args, max_km=30, name_only=True).method[0] == "name_only"
    refused = join_rows(*args, max_km=30)
    assert refused.rows[0] == -1 and refused.reason[0] == "no_coordinates"


def test_unknown_country_and_skipped_rows(index):
    joined = join_rows(index, ["ZZ", "KR"], ["Seoul", "Seoul"], [37.5, 37.5], [127.0, 127.0],
                       max_km=30, skip={1: ("group_signatory", "several towns")})
    assert list(joined.reason) == ["no_country", "group_signatory"]
    assert not joined.joined.any()


def test_within_radius_crosses_borders_and_ignores_missing_points(index):
    city, point, km = within_radius(index, [48.54, np.nan], [7.63, 7.6], 50.0)
    near = sorted(index.names[city].tolist())
    assert near == ["Kehl", "Offenburg", "Strasbourg"]
    assert set(point.tolist()) == {0} and (km <= 50.0).all()


def test_best_per_city_takes_the_largest_and_the_earlier_on_ties():
    city = np.array([2, 0, 2, 2])
    best, has = best_per_city(4, city, np.array([5.0, 1.0, 7.0, 7.0]))
    assert best.tolist() == [1, -1, 2, -1] and has.tolist() == [True, False, True, False]


def test_read_table_keeps_na_as_a_code(tmp_path):
    (tmp_path / "t.csv").write_text("iso2,value\nNA,1\n,2\n")
    _, frame = read_table(tmp_path, "t.csv", ("iso2",))
    assert frame["iso2"].iloc[0] == "NA" and frame["iso2"].isna().iloc[1]
    with pytest.raises(InputError, match=r"t\.csv: lacks column\(s\) country"):
        read_table(tmp_path, "t.csv", ("country",))


NAMES = ["Kehl", "Strasbourg", "Seoul", "Busan", "London", "Atlantis", ""]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["FR", "DE", "KR", "GB", "ZZ"]),
                          st.sampled_from(NAMES),
                          st.one_of(st.just(float("nan")), st.floats(34.0, 56.0)),
                          st.one_of(st.just(float("nan")), st.floats(-4.0, 130.0))),
                min_size=1, max_size=12),
       st.floats(1.0, 80.0), st.floats(0.0, 40.0), st.booleans())
def test_every_row_is_joined_within_its_limits_or_has_a_reason(rows, max_km, nearest_km,
                                                               name_only):
    index = CityIndex(tiny_cities())
    countries, names, lat, lon = (list(column) for column in zip(*rows, strict=True))
    joined = join_rows(index, countries, names, lat, lon, max_km=max_km, nearest_km=nearest_km,
                       name_only=name_only)
    for i in range(len(rows)):
        assert (joined.rows[i] >= 0) == (joined.reason[i] == "")
        if joined.rows[i] < 0:
            assert joined.detail[i]
            continue
        city = joined.rows[i]
        assert index.country[city] == countries[i]  # never a city of another country
        limit = {"name": max_km, "nearest": nearest_km}.get(joined.method[i])
        if limit is not None:
            assert index.km_to(np.array([city]), lat[i], lon[i])[0] <= limit + 1e-6
        else:
            assert joined.method[i] == "name_only" and name_only and np.isnan(lat[i] + lon[i])
