"""Suggestions as the user types: the CLI's lookup first, then name prefixes, then fuzzy.

`suggest(matcher, index, text)` puts first what `twin with TEXT` would resolve to (or, for an
ambiguous name, every candidate it lists), then the cities whose folded name starts with the
text, most populous first, then the CLI's "did you mean" suggestions. A gazetteer place
outside the model's index (a small town such as Tenby) is offered when its name is typed
whole, as the CLI answers it.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass

import numpy as np

from matcher.errors import (
    AmbiguousCityError,
    CityNotFoundError,
    CityOutsideIndexError,
    InputError,
)
from matcher.places.lookup import CityRecord, fold

SUGGESTIONS = 8


@dataclass(frozen=True)
class Suggestion:
    """One city offered to the user."""

    geonameid: int
    name: str
    country_code: str
    country_name: str
    admin1: str
    population: int
    match: str  # "exact", "ambiguous", "prefix", "similar" or "outside" (a gazetteer place
    # outside the model's index, ranked as one more city of it)

    def to_dict(self) -> dict:
        return asdict(self)


class PrefixIndex:
    """Folded names sorted once, for prefix search by bisection."""

    def __init__(self, names: list[str], populations: np.ndarray) -> None:
        keys = [(fold(name), row) for row, name in enumerate(names)]
        keys.sort()
        self.keys = [k for k, _ in keys]
        self.rows = np.array([r for _, r in keys], dtype=np.int64)
        self.populations = np.asarray(populations)

    def rows_starting(self, prefix: str, limit: int) -> list[int]:
        """Rows whose folded name starts with `prefix`, most populous first."""
        if not prefix:
            return []
        start = bisect.bisect_left(self.keys, prefix)
        stop = bisect.bisect_left(self.keys, prefix + "\x7f")
        rows = self.rows[start:stop]
        order = np.argsort(-self.populations[rows], kind="stable")[:limit]
        return rows[order].tolist()


def _suggestion(matcher, record: CityRecord, match: str) -> Suggestion:
    lookup = matcher.lookup
    return Suggestion(geonameid=record.geonameid, name=record.name,
                      country_code=record.country_code,
                      country_name=lookup.country_names.get(record.country_code, ""),
                      admin1=record.admin1, population=record.population, match=match)


def suggest(matcher, index: PrefixIndex, text: str, limit: int = SUGGESTIONS) -> list[Suggestion]:
    """Cities for the search box; an empty list when nothing looks like `text`."""
    text = text.strip()[:200]
    if not fold(text):  # nothing to look for ("!!"; the lookup would match every city
        return []       # without alternate names, matcher.places.lookup's ";;" needle)
    lookup = matcher.lookup
    name = text.rsplit(",", 1)[0] if "," in text else text
    prefixed = [_suggestion(matcher, lookup.record(row), "prefix")
                for row in index.rows_starting(fold(name), limit)]
    found: list[Suggestion] = []
    fuzzy: list[str] = []
    # The CLI's resolution unless the text is only the start of names (a user still typing):
    # a miss there would spend ~0.1 s on "did you mean" for nothing.
    if not prefixed or "," in text or fold(text) in lookup.by_fold() or text[:1].isdigit() \
            or text.lower().startswith("geonames:"):
        try:
            found.append(_suggestion(matcher, lookup.record(lookup.resolve(text)), "exact"))
        except AmbiguousCityError as error:
            found.extend(_suggestion(matcher, CityRecord(**c), "ambiguous")
                         for c in error.candidates[:limit])
        except CityOutsideIndexError as error:  # a gazetteer town: it has a city page too
            if error.place is not None:
                found.append(_suggestion(matcher, error.place, "outside"))
            fuzzy = error.suggestions
        except CityNotFoundError as error:
            fuzzy = error.suggestions
        except InputError:  # "Name, Xx" with an unknown country: offer the name alone
            pass
    found.extend(prefixed)
    for label in fuzzy:
        try:
            found.append(_suggestion(matcher, lookup.record(lookup.resolve(label)), "similar"))
        except (CityNotFoundError, AmbiguousCityError, InputError):
            continue
    unique: dict[int, Suggestion] = {}
    for item in found:
        unique.setdefault(item.geonameid, item)
    return list(unique.values())[:limit]
