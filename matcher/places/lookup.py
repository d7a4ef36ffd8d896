"""Resolve what a user types ("Sejong", "Cardiff, United Kingdom", "geonames:11523293") to a city.

Matching runs over the model's city index (name, asciiname, alternatenames, country_code), with
diacritics folded by unidecode. Resolution order, first hit wins:

1. an id: an int, digits, or "geonames:ID" (also inside a pasted label, as the ambiguity list
   prints it: "Newport, GB (Wales), population 151,500, geonames:2641598");
2. an exact folded match on name or asciiname;
3. an exact folded match on one of the alternate names;
4. the Revised Romanization of a Hangul alternate name (matcher.places.romanize): `Gurye` finds the
   row GeoNames spells `Kurye`, `Jinju` the one spelt `Chinju`;
5. tiers 2-4 again with the words of an official form dropped (OFFICIAL_WORDS: `Sejong City`,
   `Sejong Special Self-Governing City`, `Boeun County`, `Cheongju-si`).

After a comma comes the country (ISO code, name or alias of matcher.places.country_names),
optionally with a first-level region in brackets ("Newport, GB (WLS)", "Newport, GB (Wales)"), or a
nation that stands for a region ("Newport, Wales"): both narrow the match to that region.

Several exact matches in one tier are ambiguous (AmbiguousCityError, exit 2, listing the candidates)
unless one is clearly dominant: the most populous match wins when it has at least
`DOMINANCE_RATIO` times the population of the next one. So "London" is London GB (9.0M, 21x London
CA) while "Newport" (161k GB vs 24k GB/US, 6.5x) asks which one. A name the model's index lacks
is looked up in the whole gazetteer (`resolve_gazetteer`, when the lookup has one): a place found
there raises CityOutsideIndexError naming it, not "did you mean". No match at all raises
CityNotFoundError with "did you mean" suggestions from rapidfuzz. Text that names nothing (",",
"!!") or runs past MAX_QUERY_LENGTH characters is an InputError, echoed shortened.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from unidecode import unidecode

from matcher.errors import (
    AmbiguousCityError,
    CityNotFoundError,
    CityOutsideIndexError,
    InputError,
)
from matcher.places.country_names import CountryKeys
from matcher.places.querytext import (  # noqa: F401 - fold, shown and the rest are read from here
    MAX_QUERY_LENGTH,
    OFFICIAL_WORDS,
    SHOWN_LENGTH,
    Place,
    fold,
    fuzzy,
    population_text,
    shown,
    strip_official,
)
from matcher.places.regions import region_codes, region_label

DOMINANCE_RATIO = 10.0
"""The most populous exact match wins outright when it is this many times larger than the next."""

SUGGESTION_LIMIT = 5
MAX_LISTED_CANDIDATES = 10

_ID_PATTERN = re.compile(r"^\s*(?:geonames:)?\s*(\d+)\s*$", re.IGNORECASE)
_HANGUL = re.compile("[\uac00-\ud7a3]")
KOREAN_COUNTRIES = frozenset({"KR", "KP"})  # tier 4 romanizes the Hangul names of their rows

_ID_INSIDE = re.compile(r"\bgeonames:\s*(\d+)\b", re.IGNORECASE)
_BRACKETED = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")


@dataclass(frozen=True)
class CityRecord:
    """What a user needs to tell candidate cities apart."""

    row: int
    geonameid: int
    name: str
    country_code: str
    admin1: str
    population: int

    @property
    def region(self) -> str:
        """The first-level region as people name it ('Wales', 'Sejong'; else 'region CODE')."""
        return region_label(self.country_code, self.admin1)

    def label(self) -> str:
        """One line: name, country (region), population, id; `resolve` reads it back."""
        admin = f" ({self.region})" if self.admin1 else ""
        return (f"{self.name}, {self.country_code}{admin}, population "
                f"{population_text(self.population)}, geonames:{self.geonameid}")


class CityLookup:
    """Name, id and country resolution over one model's city index (arrays, built once)."""

    def __init__(
        self,
        geonameids: Sequence[int],
        names: Sequence[str],
        ascii_names: Sequence[str],
        alternate_names: Sequence[str] | Callable[[], Sequence[str]],
        country_codes: Sequence[str],
        admin1_codes: Sequence[str],
        populations: Sequence[int],
        country_names: dict[str, str] | None = None,
        gazetteer=None,
    ) -> None:
        self.geonameids = np.asarray(geonameids, dtype=np.int64)
        self.names = [str(x) for x in names]
        self.country_codes = np.asarray(country_codes).astype(str)
        self.admin1 = ["" if _missing(x) else str(x) for x in admin1_codes]
        self.populations = np.asarray(populations, dtype=np.int64)
        self._ascii_names = ["" if _missing(x) else str(x) for x in ascii_names]
        self._alternates = alternate_names  # a sequence, or a callable giving one when first needed
        self._alternates_lower: list[str] | None = None
        self._id_order = np.argsort(self.geonameids, kind="stable")
        self._sorted_ids = self.geonameids[self._id_order]
        self._by_lower: dict[str, list[int]] | None = None  # built on the second lookup
        self._exact_lookups = 0
        self._by_fold: dict[str, list[int]] | None = None  # built only if the above misses
        self.country_names = dict(country_names or {})
        self.countries = CountryKeys(set(self.country_codes.tolist()), self.country_names)
        self._romanized: dict[str, list[int]] | None = None
        self.gazetteer = gazetteer  # a matcher.places.gazetteer.GazetteerLookup, or None

    @classmethod
    def from_frame(cls, cities) -> CityLookup:
        """Build from a city index DataFrame with the `matcher.columns.Columns` names."""
        from matcher.columns import Columns as C

        def column(name: str, default: object = "") -> list:
            return cities[name].tolist() if name in cities.columns else [default] * len(cities)

        country_names: dict[str, str] = {}
        if C.COUNTRY_NAME in cities.columns:
            pairs = cities[[C.COUNTRY, C.COUNTRY_NAME]].drop_duplicates(C.COUNTRY)
            country_names = {
                str(code): str(name)
                for code, name in zip(pairs[C.COUNTRY], pairs[C.COUNTRY_NAME], strict=True)
                if not _missing(name)
            }
        return cls(
            geonameids=cities[C.GEONAMEID].to_numpy(),
            names=column(C.NAME),
            ascii_names=column(C.ASCII_NAME),
            alternate_names=column(C.ALT_NAMES),
            country_codes=column(C.COUNTRY),
            admin1_codes=column(C.ADMIN1),
            populations=cities[C.POPULATION].to_numpy(),
            country_names=country_names,
        )

    # ---------------------------------------------------------------- countries
    def resolve_country(self, text: str, argument: str = "country") -> str:
        """ISO2 code for an ISO2 code or a country name (places.country_names.CountryKeys)."""
        return self.countries.resolve_country(text, argument)

    def resolve_region(self, text: str, argument: str = "country") -> tuple[str, str | None]:
        """(ISO2, admin1 code or None) for a country or a nation ('Wales' -> ('GB', 'WLS'))."""
        return self.countries.resolve_region(text, argument)

    # ---------------------------------------------------------------- cities
    def record(self, row: int) -> CityRecord:
        """The identifying fields of one row."""
        return CityRecord(
            row=int(row),
            geonameid=int(self.geonameids[row]),
            name=self.names[row],
            country_code=str(self.country_codes[row]),
            admin1=self.admin1[row],
            population=int(self.populations[row]),
        )

    def find_id(self, geonameid: int) -> int | None:
        """Row of a geonameid, or None."""
        ids = self._sorted_ids
        position = int(np.searchsorted(ids, int(geonameid)))
        if position < len(ids) and ids[position] == int(geonameid):
            return int(self._id_order[position])
        return None

    def row_of_id(self, geonameid: int) -> int:
        """Row of a geonameid; CityNotFoundError (or CityOutsideIndexError when the gazetteer
        has it) if the model does not know it."""
        row = self.find_id(geonameid)
        if row is not None:
            return row
        place = self.gazetteer.find(int(geonameid)) if self.gazetteer is not None else None
        if place is not None:
            raise self._outside(place)
        raise CityNotFoundError(
            f"geonames:{geonameid} is not in the model's city index nor in the gazetteer; "
            "check the id (geonames.org lists every place)"
        )

    def parse(self, query: str) -> Place:
        """The name, country and region a query text asks for (rules in the module docstring);
        InputError for text that names nothing."""
        text = query.strip()
        if len(text) > MAX_QUERY_LENGTH:
            raise InputError(f"city {shown(text)} is too long for a place name (at most "
                             f"{MAX_QUERY_LENGTH} characters); give a name, 'Name, CC' or "
                             "geonames:ID")
        name, country, admin1 = text, None, None
        if "," in text:
            head, tail = text.split(",", 1)  # the first comma: a pasted label goes on after it
            tail = tail.split(",", 1)[0].strip()
            if head.strip() and tail:
                name = head.strip()
                region_text = None
                if match := _BRACKETED.match(tail):
                    tail, region_text = match.group(1).strip(), match.group(2).strip()
                country, nation = self.resolve_region(tail, argument=f"city {shown(text)}")
                if nation is not None:
                    admin1 = frozenset({nation})
                if region_text:
                    admin1 = frozenset(region_codes(country, fold(region_text), fold))
        if not fold(name) or not any(ch.isalnum() for ch in name):
            raise InputError(f"city {shown(text)} names no place; give a name, 'Name, CC' or "
                             "geonames:ID")
        return Place(text=text, name=name, country=country, admin1=admin1)

    def resolve(self, query: str | int) -> int:
        """Row index of the one city `query` names; see the module docstring for the rules."""
        if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
            return self.row_of_id(int(query))
        text = str(query).strip()
        if not text:
            raise CityNotFoundError("empty city name; give a name, 'Name, CC' or geonames:ID")
        match = _ID_PATTERN.match(text) or _ID_INSIDE.search(text[:MAX_QUERY_LENGTH])
        if match:
            return self.row_of_id(int(match.group(1)))
        if text.lower().startswith("geonames:"):  # no place name starts so
            raise CityNotFoundError(f"{shown(text)}: a GeoNames id is a whole number, as in "
                                    "geonames:11523293")
        place = self.parse(text)
        rows = self.matching_rows(place)
        if rows:
            return self._pick(text, rows)
        if self.gazetteer is not None:
            found = self.gazetteer.matching_places(place)
            if found:
                raise self._outside(self.gazetteer.pick(text, found))
        key = strip_official(fold(place.name)) or fold(place.name)  # 'Boeun County': boeun
        raise CityNotFoundError(
            self._not_found_message(text, key, place.country),
            suggestions=self.suggest(key, place.country),
        )

    def resolve_gazetteer(self, query: str | int):
        """The matcher.places.gazetteer.GazetteerPlace that `query` names over the whole gazetteer,
        by the same rules (its `model_row` is set when the model's index has it); for scoring a
        place outside the index. CityNotFoundError when there is no gazetteer or no match."""
        if self.gazetteer is None:
            raise CityNotFoundError("no gazetteer is attached to this lookup")
        return self.gazetteer.resolve(query)

    def matching_rows(self, place: Place) -> list[int]:
        """Rows of the first tier (2-5 of the module docstring) that matches the place."""
        name, key = place.name, fold(place.name)
        tiers = [lambda: self._exact_rows(name, key), lambda: self._alternate_rows(name, key),
                 lambda: self.romanized().get(key, [])]
        stripped = strip_official(key)
        if stripped and stripped != key:
            tiers += [lambda: self._exact_rows(stripped, stripped),
                      lambda: self._alternate_rows(stripped, stripped),
                      lambda: self.romanized().get(stripped, [])]
        for tier in tiers:  # the alternate names only when the names found nothing
            rows = self._narrowed(tier(), place)
            if rows:
                return rows
        return []

    def _narrowed(self, rows: list[int], place: Place) -> list[int]:
        rows = self._in_country(rows, place.country)
        if place.admin1 is not None:
            rows = [r for r in rows if self.admin1[r] in place.admin1]
        return rows

    def romanized(self) -> dict[str, list[int]]:
        """Folded Revised Romanization of each row's Hangul alternate names -> rows (built once,
        when a query first reaches tier 4)."""
        if self._romanized is None:
            from matcher.places.romanize import hangul_romanizations

            alternates = self._alternate_texts()
            self._romanized = {}
            korean = np.flatnonzero(np.isin(self.country_codes, list(KOREAN_COUNTRIES)))
            for row in korean.tolist():  # others' Hangul names are exonyms (런던: London)
                joined = alternates[row]
                if not joined or not _HANGUL.search(joined):
                    continue
                for name in hangul_romanizations(joined.strip(";").split(";")):
                    key = fold(name)
                    if key:
                        self._romanized.setdefault(key, []).append(row)
        return self._romanized

    def _alternate_texts(self) -> list[str]:
        if self._alternates_lower is None:
            alternates = self._alternates() if callable(self._alternates) else self._alternates
            self._alternates_lower = [
                "" if _missing(a) else f";{str(a).lower()};" for a in alternates]
        return self._alternates_lower

    def _outside(self, place) -> CityOutsideIndexError:
        """The error for a gazetteer place the model's index lacks: what it is, and why."""
        return CityOutsideIndexError(
            f"{place.label()} is a GeoNames place, but not in this model's city index (the "
            "cities with partnerships and those of 15,000 people or more): `twin with` and "
            "`twin explain` score it as one more city of the index, this command takes the "
            "index's cities only; ask about a city nearby here",
            place=place,
        )

    def _exact_rows(self, name: str, key: str) -> list[int]:
        """Rows whose name or asciiname equals the query: plain lower-case first, then folded."""
        variants = {name.lower(), key, unidecode(name).lower() if not name.isascii() else key}
        self._exact_lookups += 1
        if self._by_lower is None and self._exact_lookups == 1:
            # The first lookup (all a fresh `twin with` makes) scans; an index costs 5x a scan.
            rows = [row for row, (plain, ascii_name) in enumerate(zip(
                self.names, self._ascii_names, strict=True))
                if plain.lower() in variants or ascii_name.lower() in variants]
            return rows or self.by_fold().get(key, [])
        if self._by_lower is None:  # lower-cased name and asciiname -> rows, built once
            self._by_lower = {}
            for row, (plain, ascii_name) in enumerate(zip(self.names, self._ascii_names,
                                                          strict=True)):
                for lowered in {plain.lower(), ascii_name.lower()}:
                    self._by_lower.setdefault(lowered, []).append(row)
        rows = sorted({row for variant in variants for row in self._by_lower.get(variant, [])})
        return rows or self.by_fold().get(key, [])

    def by_fold(self) -> dict[str, list[int]]:
        """Folded name/asciiname -> rows (built once, on the first query the fast path misses)."""
        if self._by_fold is None:
            self._by_fold = {}
            for row, (name, ascii_name) in enumerate(zip(self.names, self._ascii_names,
                                                         strict=True)):
                for key in {fold(name), fold(ascii_name)} - {""}:
                    self._by_fold.setdefault(key, []).append(row)
        return self._by_fold

    def _in_country(self, rows: list[int], country: str | None) -> list[int]:
        if country is None:
            return list(rows)
        return [r for r in rows if self.country_codes[r] == country]

    def _alternate_rows(self, name: str, key: str) -> list[int]:
        """Rows whose ';'-joined alternate names contain the name (raw lower-case or folded)."""
        needles = {f";{name.lower()};", f";{key};"}
        return [
            row
            for row, alternates in enumerate(self._alternate_texts())
            if any(needle in alternates for needle in needles)
        ]

    def _pick(self, text: str, rows: list[int]) -> int:
        """The single row, the dominant row, or AmbiguousCityError listing the candidates."""
        unique = sorted(set(rows), key=lambda r: (-int(self.populations[r]), r))
        if len(unique) == 1:
            return unique[0]
        first, second = (int(self.populations[r]) for r in unique[:2])
        if first >= DOMINANCE_RATIO * max(second, 1):
            return unique[0]
        records = [self.record(r) for r in unique]
        listed = "\n".join(f"  {r.label()}" for r in records[:MAX_LISTED_CANDIDATES])
        more = len(records) - MAX_LISTED_CANDIDATES
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise AmbiguousCityError(
            f"{shown(text)} matches {len(records)} cities; say which one with 'Name, CC', "
            f"'Name, CC (region)' or its id:\n"
            f"{listed}{tail}",
            candidates=[r.__dict__ for r in records],
        )

    def suggest(self, key: str, country: str | None = None) -> list[str]:
        """Up to SUGGESTION_LIMIT 'Name, CC' strings that look like `key` (rapidfuzz)."""
        index = self.by_fold()
        choices = [k for k, rows in index.items() if self._in_country(rows, country)]
        found: list[tuple[str, int]] = []
        for choice in fuzzy(key, choices, limit=SUGGESTION_LIMIT):
            rows = self._in_country(index[choice], country)
            found.extend((f"{self.names[r]}, {self.country_codes[r]}", r) for r in rows)
        found.sort(key=lambda item: -int(self.populations[item[1]]))
        unique = list(dict.fromkeys(label for label, _ in found))
        return unique[:SUGGESTION_LIMIT]

    def _not_found_message(self, text: str, key: str, country: str | None) -> str:
        suggestions = self.suggest(key, country)
        where = f" in {country}" if country else ""
        source = "the model or the gazetteer" if self.gazetteer is not None else "the model"
        message = f"no city called {shown(text)}{where} in {source}"
        if suggestions:
            return message + "; did you mean: " + "; ".join(suggestions) + "?"
        return message + "; check the spelling or give its GeoNames id as geonames:ID"


def _missing(value: object) -> bool:
    """True for None, NaN and pandas NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN
    except TypeError:  # pandas.NA refuses bool()
        return True
