"""matcher.web.views: one colour scale per page, readable rank numbers, the profile's cells, and
the programme map's data (every pair a link, a city in several pairs labelled with each)."""

from __future__ import annotations

import pytest
from pairing_factories import make_bilateral_model_dir

from matcher.api import Matcher
from matcher.programme import pairing
from matcher.web import views


def test_scale_spans_the_values_and_ignores_outliers_from_twenty_on():
    assert views.Scale.over([3.0, 9.0]) == views.Scale(3.0, 9.0)
    assert views.Scale.over([]) == views.Scale(0.0, 100.0)
    one = views.Scale.over([4.0])
    assert one.low < 4.0 < one.high  # a band, not a division by zero
    values = [1.0 + i / 10 for i in range(19)] + [95.0]
    robust = views.Scale.over(values)
    assert robust.high < 10 and robust.colour(95.0) == views.colour(1.0)


def test_ink_reads_on_both_ends_of_the_palette():
    assert views.ink(views.colour(0.0)) == "#1d2330"  # dark on yellow
    assert views.ink(views.colour(1.0)) == "#ffffff"  # white on purple


@pytest.mark.parametrize(("value", "column", "text"), [
    (True, "is_capital", "yes"), (0, "is_capital", "no"), (0.25, "foreign_partner_share", "25%"),
    (1234567, "population", "1,234,567"), ("ko;en", "languages", "ko, en"),
    (float("nan"), "gdp", None), ("", "tags", None), (3.14159, "growth", "3.14"),
])
def test_profile_cells(value, column, text):
    assert views._format(value, column) == text


@pytest.mark.parametrize(("value", "unit", "text"), [
    (62009.4, "$", "$62,009"), (2030, "year", "2030"), (0.889, "% a year", "0.889 % a year"),
    (66, "destinations", "66 destinations"), (("maritime", "heritage"), "", "maritime, heritage"),
    (None, "km", None), ((), "", None), ("Bristol Airport (BRS)", "", "Bristol Airport (BRS)"),
])
def test_open_data_values_read_with_their_units(value, unit, text):
    """Regression: the card showed raw column names and '2,020' for a target year."""
    from matcher.profile import ProfileValue

    cell = ProfileValue("x", "X", value, unit, "World Bank", "city", "")
    assert views._profile_text(cell) == text


@pytest.fixture(scope="module")
def programme(tmp_path_factory) -> pairing.Programme:
    model_dir = make_bilateral_model_dir(tmp_path_factory.mktemp("views") / "v1")
    return pairing.pair_countries(Matcher.load(model_dir), "GB", "KR", min_population=20_000,
                                  capacity=2)


def test_programme_map_has_every_pair_and_numbers_each_city(programme):
    scale = views.programme_scale(programme)
    for matching in (programme.assignment, programme.stable):
        data = views.programme_map(programme, matching, scale)
        assert [(link["from"], link["to"]) for link in data["links"]] == [
            (p.a.geonameid, p.b.geonameid) for p in matching.pairs]
        by_id = {c["id"]: c for c in data["cities"]}
        pairs_of: dict[int, list[int]] = {}
        for number, pair in enumerate(matching.pairs, start=1):
            for city in (pair.a, pair.b):
                pairs_of.setdefault(city.geonameid, []).append(number)
        assert any(len(n) > 1 for n in pairs_of.values())  # capacity 2 is used
        for geonameid, numbers in pairs_of.items():
            city = by_id[geonameid]
            assert city["rank"] == numbers[0] and city["role"] == "match"
            if len(numbers) > 1:
                assert city["label"].endswith(f"({', '.join(map(str, numbers))})")
        assert {c["role"] for c in data["cities"] if c["id"] not in pairs_of} <= {"candidate"}


def test_far_clustered_matches_get_their_own_panel(tmp_path):
    model_dir = make_bilateral_model_dir(tmp_path / "v1")
    from matcher.web.state import load

    loaded = load(model_dir)
    matcher = loaded.matcher
    sejong = matcher.resolve("Sejong")
    british = matcher.recommendation("Sejong", matcher.make_filters(5, countries=["GB"]))
    card = views.profile(loaded, sejong)
    assert views.split_panels(card, british.matches) == (1, 0)  # Britain west, on the left
    data = views.city_map(loaded, card, british, views.Scale.over(
        [m.compatibility for m in british.matches]))
    assert [p["title"] for p in data["panels"]] == [
        f"its matches, {views._distance_words(card, british.matches)}", "Sejong"]
    assert {c["panel"] for c in data["cities"] if c["role"] == "match"} == {0}
    everywhere = matcher.recommendation("Sejong")  # Europe and Korea: one world panel
    assert views.split_panels(card, everywhere.matches) is None
    assert len(views.city_map(loaded, card, everywhere, views.Scale(0, 1))["panels"]) == 1


def test_colour_scale_ends():
    assert views.colour(0.0) == "#e6c814"
    assert views.colour(1.0) == "#440154"
    assert views.colour(-3) == views.colour(0.0) and views.colour(7) == views.colour(1.0)
