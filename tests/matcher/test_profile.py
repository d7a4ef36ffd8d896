"""matcher.profile: a city's per-dimension values with source and level, from a city row."""

from __future__ import annotations

import numpy as np

from matcher.columns import Columns as C
from matcher.columns import OpenColumns as O
from matcher.profile import (
    CATALOGUE,
    DIMENSIONS,
    SOURCES,
    THEME_RULES,
    city_profile,
)

SEJONG = {C.GEONAMEID: 11523293, C.POPULATION: 394630, O.GROWTH_2000_2020: 0.45,
          O.GROWTH_LEVEL: "country", O.GDP_PER_HEAD_PPP: 52000.0,
          O.AIRPORT_INTL_DESTINATIONS: np.int64(10), O.SEAPORT: np.bool_(False),
          O.THEMES: "", O.CLIMATE_TARGET_YEAR: np.nan}
CHEONAN = {**SEJONG, C.GEONAMEID: 1845759, O.GROWTH_2000_2020: 2.5, O.GROWTH_LEVEL: "city",
           O.THEMES: "maritime;logistics"}


def by_name(profile):
    return {value.name: value for values in profile.values() for value in values}


def test_profile_groups_values_by_dimension_in_catalogue_order():
    profile = city_profile(SEJONG)
    assert tuple(profile) == DIMENSIONS
    assert [v.name for v in profile["performance"]] == [  # growth_level: in each value's level
        C.POPULATION, O.GROWTH_2000_2020, O.GDP_PER_HEAD_PPP]
    assert [v.name for v in profile["appetite"]] == [O.AIRPORT_INTL_DESTINATIONS, O.SEAPORT]


def test_growth_names_its_level_and_source_per_city():
    sejong, cheonan = by_name(city_profile(SEJONG)), by_name(city_profile(CHEONAN))
    assert (sejong[O.GROWTH_2000_2020].level, sejong[O.GROWTH_2000_2020].source) == (
        "country", "World Bank")
    assert (cheonan[O.GROWTH_2000_2020].level, cheonan[O.GROWTH_2000_2020].source) == (
        "city", "UN WUP")
    assert sejong[O.GDP_PER_HEAD_PPP].level == "country"
    assert sejong[O.AIRPORT_INTL_DESTINATIONS].rule.startswith("airports within 50 km")


def test_missing_values_are_none_numpy_scalars_plain_and_tags_tuples():
    values = by_name(city_profile(SEJONG))
    assert values[O.CLIMATE_TARGET_YEAR].value is None  # NaN: no value
    assert by_name(city_profile({O.DIPLOMATIC_MISSIONS: 12.0}))[O.DIPLOMATIC_MISSIONS].value == 12
    assert values[O.AIRPORT_INTL_DESTINATIONS].value == 10
    assert type(values[O.AIRPORT_INTL_DESTINATIONS].value) is int
    assert values[O.SEAPORT].value is False
    assert values[O.THEMES].value == ()
    assert by_name(city_profile(CHEONAN))[O.THEMES].value == ("maritime", "logistics")


def test_a_model_without_open_columns_gives_the_builtin_values_only():
    profile = city_profile({C.POPULATION: 3000, "partnership_count": 2})
    assert [v.name for v in profile["performance"]] == [C.POPULATION]
    assert [v.name for v in profile["appetite"]] == ["partnership_count"]
    assert profile["synergies"] == ()


def test_catalogue_is_consistent():
    names = [info.name for info in CATALOGUE]
    assert len(set(names)) == len(names)
    for info in CATALOGUE:
        assert info.group in DIMENSIONS and info.source in SOURCES and info.rule
        assert info.level in ("city", "country", "city|country")
        if info.level == "city|country":
            assert info.level_column in names and info.country_source in SOURCES
    assert all(rule.source in SOURCES for rule in THEME_RULES.values())
