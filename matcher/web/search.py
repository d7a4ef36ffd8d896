"""Suggestions as the user types: the CLI's lookup first, then name prefixes, then fuzzy.

`suggest(matcher, index, text, outside=...)` puts first what `twin with TEXT` would resolve to
(or, for an ambiguous name, every candidate it lists), then the cities of the model's index whose
folded name starts with the text, most populous first, then the gazetteer's places outside the
index whose folded name starts so (match "outside", most populous first: a small town such as
Tenby is offered from "Tenb" on, and answered as the CLI answers it, as one more city of the
index), then the CLI's "did you mean" suggestions. `outside_index(matcher)` builds the second
prefix index from the gazetteer's own folded names (CityLookup.by_fold), leaving out the places
the model's index has; matcher.web.state builds it while warming a model, never the CLI.
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
        folded: dict[str, list[int]] = {}
        for row, name in enumerate(names):
            folded.setdefault(fold(name), []).append(row)
        self._sort(folded, populations)

    @classmethod
    def from_folded(cls, folded: dict[str, list[int]], populations: np.ndarray,
                    keep: np.ndarray | None = None) -> PrefixIndex:
        """The index of folded names already built (folded key -> rows, as
        CityLookup.by_fold() holds them; a row may sit under two keys, its name's and its
        asciiname's); `keep`: a mask of the rows to index (default all)."""
        index = cls.__new__(cls)
        index._sort(folded, populations, keep)
        return index

    def _sort(self, folded: dict[str, list[int]], populations: np.ndarray,
              keep: np.ndarray | None = None) -> None:
        kept = None if keep is None else np.asarray(keep, dtype=bool).tolist()
        self.keys: list[str] = []
        rows: list[int] = []
        for key in sorted(folded):  # (key, row) pairs in order: a key's rows ascend
            for row in folded[key]:
                if kept is None or kept[row]:
                    self.keys.append(key)
                    rows.append(row)
        self.rows = np.array(rows, dtype=np.int64)
        self.populations = np.asarray(populations)

    def rows_starting(self, prefix: str, limit: int) -> list[int]:
        """Rows whose folded name starts with `prefix`, most populous first, each once."""
        if not prefix:
            return []
        start = bisect.bisect_left(self.keys, prefix)
        stop = bisect.bisect_left(self.keys, prefix + "\x7f")
        rows = self.rows[start:stop]
        order = np.argsort(-self.populations[rows], kind="stable")
        return list(dict.fromkeys(rows[order].tolist()))[:limit]


def outside_index(matcher) -> PrefixIndex | None:
    """The gazetteer's places outside the model's index by folded name (the gazetteer's own
    CityLookup.by_fold, no name folded again), for suggest's `outside`; None without a
    gazetteer. Loads the gazetteer: for the web app's warm-up, never the CLI."""
    gazetteer = _gazetteer(matcher)
    if gazetteer is None:
        return None
    places = gazetteer.lookup
    inside = np.isin(places.geonameids, matcher.lookup.geonameids)  # a model_row: no "outside"
    return PrefixIndex.from_folded(places.by_fold(), places.populations, keep=~inside)


def _gazetteer(matcher):
    """The matcher's GazetteerLookup (a LazyGazetteer's, loaded now), or None."""
    gazetteer = matcher.lookup.gazetteer
    if gazetteer is None:
        return None
    return gazetteer.get() if hasattr(gazetteer, "get") else gazetteer


def _suggestion(matcher, record: CityRecord, match: str) -> Suggestion:
    lookup = matcher.lookup
    return Suggestion(geonameid=record.geonameid, name=record.name,
                      country_code=record.country_code,
                      country_name=lookup.country_names.get(record.country_code, ""),
                      admin1=record.admin1, population=record.population, match=match)


def suggest(matcher, index: PrefixIndex, text: str, limit: int = SUGGESTIONS,
            outside: PrefixIndex | None = None) -> list[Suggestion]:
    """Cities for the search box; an empty list when nothing looks like `text`. `outside`:
    outside_index(matcher), the gazetteer's places outside the index offered by prefix too."""
    text = text.strip()[:200]
    if not fold(text):  # nothing to look for ("!!"; the lookup would match every city
        return []       # without alternate names, matcher.places.lookup's ";;" needle)
    lookup = matcher.lookup
    name = text.rsplit(",", 1)[0] if "," in text else text
    key = fold(name)
    prefixed = [_suggestion(matcher, lookup.record(row), "prefix")
                for row in index.rows_starting(key, limit)]
    whole_outside = False  # the whole name of a gazetteer place: the CLI's answer comes first
    if outside is not None:  # the index's cities first, then the gazetteer's places
        places = _gazetteer(matcher).lookup
        whole_outside = fold(text) in places.by_fold()
        if len(prefixed) < limit:
            prefixed += [_suggestion(matcher, places.record(row), "outside")
                         for row in outside.rows_starting(key, limit - len(prefixed))]
    found: list[Suggestion] = []
    fuzzy: list[str] = []
    # The CLI's resolution unless the text is only the start of names (a user still typing):
    # a miss there would spend ~0.1 s on "did you mean" for nothing.
    if not prefixed or "," in text or fold(text) in lookup.by_fold() or whole_outside \
            or text[:1].isdigit() or text.lower().startswith("geonames:"):
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
