"""City and country resolution over a small city index (matcher.places.lookup)."""

from __future__ import annotations

import pytest
from matcher_factories import COUNTRY_NAMES, city_frame

from matcher.errors import AmbiguousCityError, CityNotFoundError, InputError
from matcher.places.lookup import DOMINANCE_RATIO, CityLookup, fold


@pytest.fixture(scope="module")
def lookup() -> CityLookup:
    return CityLookup.from_frame(city_frame())


def name_of(lookup: CityLookup, row: int) -> tuple[str, str]:
    record = lookup.record(row)
    return record.name, record.country_code


def test_fold_removes_diacritics_case_and_punctuation():
    assert fold("  Saint-Étienne ") == "saint etienne"
    assert fold("MALMÖ") == "malmo"
    assert fold("세종") != ""


@pytest.mark.parametrize("query", ["Sejong", "sejong", " SEJONG ", "Sejong, KR",
                                   "Sejong, South Korea", "sejong, korea", "geonames:11523293",
                                   "11523293", 11523293, "세종", "Sejong City"])
def test_sejong_resolves_uniquely(lookup, query):
    assert name_of(lookup, lookup.resolve(query)) == ("Sejong", "KR")


def test_london_goes_to_the_dominant_city_unless_qualified(lookup):
    assert name_of(lookup, lookup.resolve("London")) == ("London", "GB")
    assert name_of(lookup, lookup.resolve("London, CA")) == ("London", "CA")
    assert name_of(lookup, lookup.resolve("London, Canada")) == ("London", "CA")
    assert name_of(lookup, lookup.resolve("Cardiff, United Kingdom")) == ("Cardiff", "GB")


def test_comparable_namesakes_are_ambiguous_and_listed(lookup):
    with pytest.raises(AmbiguousCityError) as error:
        lookup.resolve("Newport")
    message = str(error.value)
    assert message.startswith("'Newport' matches 2 cities; say which one with 'Name, CC'")
    assert "Newport, GB (Wales), population 161,506, geonames:2641598" in message
    assert "Newport, US (Rhode Island), population 24,232, geonames:5223593" in message
    assert [c["country_code"] for c in error.value.candidates] == ["GB", "US"]
    assert error.value.exit_code == 2
    assert name_of(lookup, lookup.resolve("Newport, US")) == ("Newport", "US")


def test_dominance_threshold_is_the_documented_ratio():
    def build(second: int) -> CityLookup:
        return CityLookup([1, 2], ["Twin", "Twin"], ["Twin", "Twin"], ["", ""], ["AA", "BB"],
                          ["", ""], [int(DOMINANCE_RATIO * 1000), second])

    assert build(1000).resolve("Twin") == 0
    with pytest.raises(AmbiguousCityError):
        build(1001).resolve("Twin")


def test_diacritics_and_alternate_names(lookup):
    assert name_of(lookup, lookup.resolve("Malmo")) == ("Malmö", "SE")
    assert name_of(lookup, lookup.resolve("MALMÖ")) == ("Malmö", "SE")
    assert name_of(lookup, lookup.resolve("Köln")) == ("Cologne", "DE")
    assert name_of(lookup, lookup.resolve("Koeln")) == ("Cologne", "DE")
    assert name_of(lookup, lookup.resolve("Caerdydd")) == ("Cardiff", "GB")


def test_typo_gets_did_you_mean(lookup):
    with pytest.raises(CityNotFoundError) as error:
        lookup.resolve("Sejongg")
    assert str(error.value) == "no city called 'Sejongg' in the model; did you mean: Sejong, KR?"
    assert error.value.suggestions == ["Sejong, KR"]
    with pytest.raises(CityNotFoundError, match="did you mean: Cardiff, GB"):
        lookup.resolve("Cardif")


def test_unknown_city_and_id(lookup):
    with pytest.raises(CityNotFoundError) as error:
        lookup.resolve("Qqqxxzz")
    assert str(error.value) == ("no city called 'Qqqxxzz' in the model; check the spelling "
                                "or give its GeoNames id as geonames:ID")
    assert error.value.exit_code == 2
    with pytest.raises(CityNotFoundError, match=r"geonames:1 is not in the model's city index"):
        lookup.resolve("geonames:1")
    with pytest.raises(CityNotFoundError) as error:  # was fuzzy-matched as a place name
        lookup.resolve("geonames:12x")
    assert str(error.value) == ("'geonames:12x': a GeoNames id is a whole number, as in "
                                "geonames:11523293")
    with pytest.raises(CityNotFoundError, match="in FR"):
        lookup.resolve("Sejong, FR")


def test_unknown_country_in_a_city_names_the_argument(lookup):
    with pytest.raises(InputError) as error:
        lookup.resolve("Cardiff, Narnia")
    assert str(error.value).startswith("city 'Cardiff, Narnia': unknown country 'Narnia'")


@pytest.mark.parametrize(("text", "code"), [("gb", "GB"), ("United Kingdom", "GB"), ("UK", "GB"),
                                            ("great britain", "GB"), ("Korea", "KR"),
                                            ("south korea", "KR"), ("FR", "FR")])
def test_country_resolution(lookup, text, code):
    assert lookup.resolve_country(text, "--country") == code


def test_unknown_country_suggests(lookup):
    with pytest.raises(InputError) as error:
        lookup.resolve_country("Germny", "--country")
    assert str(error.value).startswith("--country: unknown country 'Germny'")
    assert "Germany (DE)" in str(error.value)
    assert set(COUNTRY_NAMES) >= {"DE"}
