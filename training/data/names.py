"""Place-name normalisation for entity resolution: folded names, variants, area markers.

Kept apart from training.data.resolve (the matching itself) so the rules can be read and tested
alone;
country texts are normalised in training.data.countries.
"""

from __future__ import annotations

import re
from functools import cache

from unidecode import unidecode

_APOSTROPHES = re.compile(r"[’'`ʻʼ]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_TOKEN_MAP = {"saint": "st", "sankt": "st", "sainte": "ste", "mount": "mt"}
_MAPPED_TOKENS = re.compile(r"\b(?:" + "|".join(_TOKEN_MAP) + r")\b")
_NOT_LATIN = re.compile(r"[^\x00-\u024F\u1E00-\u1EFF\u2010-\u2019]")
# "Seoul – Gwanak", "Berlin - Mitte": parent first, unit second
_DASHED = re.compile(r"^(.+?)\s+[–—-]\s+(.+)$")
# "Gwanak (Seoul)", "Halle (Saale)", "Lubin (rural gmina)": unit or name first, qualifier second
_PARENS = re.compile(r"^(.+?)\s*\((.+)\)\s*$")
_COMMA = re.compile(r"^(.+?),\s*(.+)$")
_ROMAN_OR_NUMBER = re.compile(r"^(?:[0-9]+|[ivxlc]+)$")
# administrative words that GeoNames' populated-place names usually lack
ADMIN_WORDS = frozenset({
    "county", "district", "municipality", "rural", "gmina", "city", "borough", "town",
    "urban", "municipal", "prefecture", "province", "raion", "rayon", "of", "gu", "si", "shi",
    "ku", "gun", "local", "government", "area", "metropolitan", "commune", "community",
    "powiat", "kreis", "landkreis", "township", "oblast", "region", "shire", "okres",
    "council", "regional", "unitary",
})
# words saying the name is an administrative area, not a populated place (English, German,
# Slavic, Nordic, Korean -gun): 'Haßberge (district)', 'Shimsky District', 'Maui County'
AREA_WORDS = frozenset({
    "county", "district", "borough", "municipality", "municipal", "shire", "region", "oblast",
    "raion", "rayon", "province", "prefecture", "council", "township", "parish", "gmina",
    "powiat", "kreis", "landkreis", "microregion", "okres", "governorate", "department",
    "regional", "unitary", "kommune", "kommun", "gun", "lga", "metropolitan",
})
_SLASH = re.compile(r"\s*/\s*")
_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")


def fold(text: str) -> str:
    """Comparable form of a place name: ASCII, lower case, punctuation -> space, Saint -> st."""
    text = text or ""
    ascii_text = text if text.isascii() else unidecode(text)
    folded = _NON_ALNUM.sub(" ", _APOSTROPHES.sub("", ascii_text.casefold())).strip()
    if _MAPPED_TOKENS.search(folded):
        folded = _MAPPED_TOKENS.sub(lambda m: _TOKEN_MAP[m.group(0)], folded)
    return folded


def token_subset(a: str, b: str) -> bool:
    """True when one folded name's words are all among the other's and identify a place
    ('bad kotzting' ~ 'kotzting', 'pieve di ledro' ~ 'ledro'; not 'north tyneside' ~ 'north')."""
    small, large = sorted((set(a.split()), set(b.split())), key=len)
    return bool(small) and small <= large and any(
        len(t) >= 4 and t not in GENERIC_TOKENS for t in small)


def is_latin(text: str) -> bool:
    """True when every character is Latin script or common punctuation (worth folding)."""
    return not _NOT_LATIN.search(text)


def _strip_admin(folded: str) -> str:
    """Drop administrative words and trailing numbers ('prague 1', 'budapest xi', '-gu')."""
    tokens = [t for t in folded.split() if t not in ADMIN_WORDS]
    while len(tokens) > 1 and _ROMAN_OR_NUMBER.match(tokens[-1]):
        tokens.pop()
    return " ".join(t for t in tokens if not t.isdigit())


def is_area_name(name: str) -> bool:
    """True when the name itself marks an administrative area: an AREA_WORDS word or a '-shire'
    county ('Northamptonshire', 'East Dunbartonshire'). A leading compass word alone does not
    ('East Hendred' is a village, 'North Tyneside' a borough)."""
    return any(t in AREA_WORDS or (t.endswith("shire") and len(t) > 6)
               for t in fold(name).split())


def name_parts(name: str) -> list[str]:
    """Folded parts of a compound name, to try only very near the coordinates: the pieces of
    'Aÿ-Champagne', 'Gusow-Platkow', 'Romainmôtier-Envy' (merged communes keep the old names),
    not a generic or administrative word ('Saint-Laurent-Médoc' gives 'laurent', 'medoc')."""
    base = _PARENS.sub(r"\1", (name or "").split(",")[0]).strip()
    parts: list[str] = []
    for piece in _HYPHEN.split(base):
        folded = fold(piece)
        if (len(folded.replace(" ", "")) >= 2 and folded not in parts and folded != fold(base)
                and folded not in GENERIC_TOKENS and folded not in ADMIN_WORDS):
            parts.append(folded)
    return parts


def name_variants(name: str) -> tuple[list[str], str]:
    """Folded names to try, most specific first, and a trailing ', X' qualifier (or '').

    Sub-city units: `Seoul – Gwanak` and `Gwanak (Seoul)` both yield the unit (`gwanak`) before
    the parent (`seoul`), so both listings of a partnership resolve by the same rule.
    """
    name = (name or "").strip()
    qualifier = ""
    unit, parent = name, ""
    if match := _COMMA.match(name):
        unit, qualifier = match.group(1), match.group(2)
    if match := _DASHED.match(unit):
        parent, unit = match.group(1), match.group(2)
    elif match := _PARENS.match(unit):
        unit, parent = match.group(1), match.group(2)
    alternatives = _SLASH.split(unit) if "/" in unit else []  # 'Albula/Alvra', bilingual
    ordered = [fold(name), fold(unit), _strip_admin(fold(unit)),
               *(_strip_admin(fold(a)) for a in alternatives),
               fold(parent), _strip_admin(fold(parent))]
    variants: list[str] = []
    for variant in ordered:
        if variant and variant not in variants:
            variants.append(variant)
    return variants, qualifier


# tokens too common to identify a place on their own (token-subset name matching)
GENERIC_TOKENS = frozenset({
    "north", "south", "east", "west", "upper", "lower", "new", "old", "great", "little", "bad",
    "st", "ste", "san", "santa", "santo", "sao", "la", "le", "les", "el", "de", "di", "du", "da",
    "am", "an", "im", "der", "den", "city", "town", "port", "mt", "lake", "bay", "island",
    "islands", "river", "valley", "county", "district", "upon", "on", "the", "and", "of",
    "sur", "sankt", "nova", "novo", "novy", "nowy", "stara", "stary", "velke", "mala",
    "istocno", "greater", "lakes", "vale", "coast", "beach", "heights", "park", "hills",
})


# qualifiers saying a name is a first-level region: 'Victoria (state)', 'Gyeonggi (province)'
REGION_QUALIFIERS = frozenset({"state", "province", "region", "territory"})
# ISO 3166-2 subdivision types that are regions above municipalities; counties, departments,
# parishes and unitary municipalities are left out (Hawaii County, Hiiumaa, Agder twin as
# local governments), and so are subdivisions that are cities themselves (Seoul, Busan, Tokyo)
_REGION_TYPES = ("state", "province", "region")
_CITY_TYPES = ("city", "municipality", "capital", "district")
_REGION_WORDS = re.compile(r"\s+(?:state|province|region|do)$")


@cache
def region_names(country: str) -> dict[str, str]:
    """Folded names of a country's first-level ISO 3166-2 states, provinces and regions
    (pycountry) -> the name, with a trailing 'do' (Gyeonggi-do) also dropped."""
    import pycountry

    out: dict[str, str] = {}
    for subdivision in pycountry.subdivisions.get(country_code=country) or ():
        kind = subdivision.type.lower()
        if subdivision.parent_code is not None or not any(w in kind for w in _REGION_TYPES) \
                or any(w in kind for w in _CITY_TYPES):
            continue
        name = subdivision.name.split("[")[0].strip()  # 'Wales [Cymru GB-CYM]'
        folded = fold(name)
        for key in {folded, _REGION_WORDS.sub("", folded)} - {""}:
            out.setdefault(key, name)
    return out


def names_region(name: str, country: str) -> str | None:
    """The first-level region a partnership end names instead of a city ('Western Cape',
    'Victoria (state)', 'Gyeonggi Province'), or None: a name equal to a state, province or
    region of the country (a trailing 'State', 'Province', 'Region' aside), or any name with
    such a qualifier in brackets."""
    base = (name or "").split(",")[0].strip()
    if match := _PARENS.match(base):
        unit, qualifier = match.group(1), match.group(2)
        if fold(qualifier) in REGION_QUALIFIERS:
            return unit.strip()
        base = unit
    regions = region_names(country)
    return regions.get(fold(base)) or regions.get(_REGION_WORDS.sub("", fold(base)))
