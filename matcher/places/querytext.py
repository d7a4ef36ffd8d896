"""What a user types, as text: the folded key names are matched on, how an error repeats a
text, the words of official forms, a population as people read it, and a parsed query (Place).

Shared by matcher.places.lookup (cities) and matcher.places.country_names (countries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from unidecode import unidecode

SUGGESTION_CUTOFF = 75.0  # rapidfuzz WRatio, 0..100
_NON_ALNUM = re.compile(r"[^0-9a-z]+")

MAX_QUERY_LENGTH = 200
"""Longer text is no place name (the longest in GeoNames has 85 characters)."""
SHOWN_LENGTH = 60  # how much of a refused text an error message repeats
OFFICIAL_WORDS = frozenset({
    "city", "special", "self", "governing", "autonomous", "metropolitan", "county", "gun",
    "si", "shi", "gu", "do", "province", "municipality", "municipal", "borough", "district",
    "town", "township", "of", "the", "council", "urban", "prefecture", "ku",
})
"""Words of an official form that GeoNames' names usually lack (tier 5 drops them)."""


def fold(text: str) -> str:
    """Lower-case ASCII key for matching: unidecode, casefold, punctuation runs become one space."""
    if not text.isascii():
        text = unidecode(text)
    return _NON_ALNUM.sub(" ", text.lower()).strip()


def population_text(value: int) -> str:
    """A population as people read it: '394,630', or 'unknown' where GeoNames records 0."""
    return f"{int(value):,}" if value > 0 else "unknown"


def shown(text: str) -> str:
    """The text as an error message repeats it: quoted, cut to SHOWN_LENGTH characters."""
    if len(text) <= SHOWN_LENGTH:
        return repr(text)
    return f"{text[:SHOWN_LENGTH]!r}... ({len(text):,} characters)"


def strip_official(key: str) -> str:
    """A folded name without the words of its official form ('sejong special self governing
    city' -> 'sejong'); '' when nothing else is left ('city of' stays a no-match)."""
    return " ".join(t for t in key.split() if t not in OFFICIAL_WORDS)


@dataclass(frozen=True)
class Place:
    """Where a query points: a city name (folded), the country and region it is narrowed to."""

    text: str
    name: str
    country: str | None = None
    admin1: frozenset[str] | None = None


def fuzzy(key: str, choices: list[str], limit: int) -> list[str]:
    """The best rapidfuzz matches of `key` among `choices` above SUGGESTION_CUTOFF."""
    if not key or not choices:
        return []
    from rapidfuzz import fuzz, process

    hits = process.extract(
        key, choices, scorer=fuzz.WRatio, limit=limit, score_cutoff=SUGGESTION_CUTOFF
    )
    return [choice for choice, _score, _index in hits]
