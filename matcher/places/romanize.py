"""Revised Romanization of Korean place names, for lookups: GeoNames often spells a Korean city
in McCune-Reischauer (`Kurye`, `Chinju`, `Wŏnju`) while people type the official Revised
Romanization (`Gurye`, `Jinju`, `Wonju`). Each Hangul alternate name of a city is romanized by
the korean-romanizer library, with and without its administrative suffix (구례군 gives `guryegun`
and `gurye`), and folded by the lookup like every other name (matcher.places.lookup.fold).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_HANGUL_ONLY = re.compile("^[\uac00-\ud7a3]+$")
# administrative suffixes, longest first: special self-governing city, metropolitan city, ...
SUFFIXES = ("특별자치시", "특별자치도", "특별시", "광역시",
            "시", "군", "구", "도", "읍", "면", "동")


@lru_cache(maxsize=65536)
def romanize(hangul: str) -> str:
    """The Revised Romanization of a Hangul word, lower case ('구례' -> 'gurye')."""
    from korean_romanizer.romanizer import Romanizer

    return Romanizer(hangul).romanize().lower()


def without_suffix(hangul: str) -> str | None:
    """The name without its administrative suffix, when at least two syllables are left."""
    for suffix in SUFFIXES:
        if hangul.endswith(suffix) and len(hangul) - len(suffix) >= 2:
            return hangul[:-len(suffix)]
    return None


def hangul_romanizations(names: Iterable[str]) -> set[str]:
    """Romanizations of the all-Hangul names among `names` (others are skipped), lower case; the
    caller folds them like its other names."""
    keys: set[str] = set()
    for name in names:
        word = name.strip().replace(" ", "")
        if not _HANGUL_ONLY.match(word):
            continue
        for form in (word, without_suffix(word)):
            if form:
                key = romanize(form)
                if key:
                    keys.add(key)
    return keys
