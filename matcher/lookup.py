"""Resolve what a user types ("Sejong", "Cardiff, United Kingdom", "geonames:11523293") to a city.

Matching runs over the model's city index (name, asciiname, alternatenames, country_code), with
diacritics folded by unidecode. Resolution order, first hit wins:

1. an id: an int, digits, or "geonames:ID";
2. an exact folded match on name or asciiname (optionally restricted by ", Country");
3. an exact folded match on one of the alternate names.

Several exact matches in one tier are ambiguous (AmbiguousCityError, exit 2, listing the candidates)
unless one is clearly dominant: the most populous match wins when it has at least
`DOMINANCE_RATIO` times the population of the next one. So "London" is London GB (9.0M, 21x London
CA) while "Newport" (161k GB vs 24k GB/US, 6.5x) asks which one. No match at all raises
CityNotFoundError with "did you mean" suggestions from rapidfuzz.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from unidecode import unidecode

from matcher.errors import AmbiguousCityError, CityNotFoundError, InputError

DOMINANCE_RATIO = 10.0
"""The most populous exact match wins outright when it is this many times larger than the next."""

SUGGESTION_LIMIT = 5
SUGGESTION_CUTOFF = 75.0  # rapidfuzz WRatio, 0..100
MAX_LISTED_CANDIDATES = 10

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_ID_PATTERN = re.compile(r"^\s*(?:geonames:)?\s*(\d+)\s*$", re.IGNORECASE)

COUNTRY_ALIASES: dict[str, str] = {
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "united states of america": "US",
    "america": "US",
    "korea": "KR",
    "republic of korea": "KR",
    "korea republic of": "KR",
    "north korea": "KP",
    "russia": "RU",
    "czechia": "CZ",
    "czech republic": "CZ",
    "holland": "NL",
    "the netherlands": "NL",
    "ivory coast": "CI",
    "vatican": "VA",
}
"""Common country names that differ from the GeoNames country name (keys are folded)."""


def fold(text: str) -> str:
    """Lower-case ASCII key for matching: unidecode, casefold, punctuation runs become one space."""
    if not text.isascii():
        text = unidecode(text)
    return _NON_ALNUM.sub(" ", text.lower()).strip()


@dataclass(frozen=True)
class CityRecord:
    """What a user needs to tell candidate cities apart."""

    row: int
    geonameid: int
    name: str
    country_code: str
    admin1: str
    population: int

    def label(self) -> str:
        """One line: name, country (admin area), population, id."""
        admin = f" ({self.admin1})" if self.admin1 else ""
        return (
            f"{self.name}, {self.country_code}{admin}, population {self.population:,}, "
            f"geonames:{self.geonameid}"
        )


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
        self._country_keys = self._build_country_keys()

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
    def _build_country_keys(self) -> dict[str, str]:
        codes = set(self.country_codes.tolist())  # a set, not np.unique: no string sort
        keys = {code.lower(): code for code in codes}
        for code, name in self.country_names.items():
            keys.setdefault(fold(name), code)
        for alias, code in COUNTRY_ALIASES.items():
            if code in codes:
                keys.setdefault(alias, code)
        return keys

    def resolve_country(self, text: str, argument: str = "country") -> str:
        """ISO2 code for an ISO2 code or a country name; InputError naming `argument` if unknown."""
        key = fold(str(text))
        code = self._country_keys.get(key)
        if code is not None:
            return code
        hint = ""
        suggestions = _fuzzy(key, sorted(k for k in self._country_keys if len(k) > 2), limit=3)
        if suggestions:
            hint = "; did you mean " + ", ".join(
                f"{self.country_names.get(self._country_keys[s], s)} "
                f"({self._country_keys[s]})"
                for s in suggestions
            ) + "?"
        raise InputError(
            f"{argument}: unknown country {text!r}; give an ISO code (e.g. GB) or a country "
            f"name that has cities in the model{hint}"
        )

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

    def row_of_id(self, geonameid: int) -> int:
        """Row of a geonameid; CityNotFoundError if the model does not know it."""
        ids = self._sorted_ids
        position = int(np.searchsorted(ids, int(geonameid)))
        row = int(self._id_order[position]) if position < len(ids) and ids[position] == int(
            geonameid) else None
        if row is None:
            raise CityNotFoundError(
                f"geonames:{geonameid} is not in the model's city index "
                "(cities below the population floor without partnerships are not modelled)"
            )
        return row

    def resolve(self, query: str | int) -> int:
        """Row index of the one city `query` names; see the module docstring for the rules."""
        if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
            return self.row_of_id(int(query))
        text = str(query).strip()
        if not text:
            raise CityNotFoundError("empty city name; give a name, 'Name, CC' or geonames:ID")
        match = _ID_PATTERN.match(text)
        if match:
            return self.row_of_id(int(match.group(1)))
        if text.lower().startswith("geonames:"):  # no place name starts so
            raise CityNotFoundError(f"{text!r}: a GeoNames id is a whole number, as in "
                                    "geonames:11523293")
        name, country = text, None
        if "," in text:
            head, tail = text.rsplit(",", 1)
            if head.strip() and tail.strip():
                name = head.strip()
                country = self.resolve_country(tail.strip(), argument=f"city {text!r}")
        key = fold(name)
        rows = self._in_country(self._exact_rows(name, key), country)
        if not rows:  # tier 3 only when tier 2 found nothing: it scans every alternate name
            rows = self._in_country(self._alternate_rows(name, key), country)
        if rows:
            return self._pick(text, rows)
        raise CityNotFoundError(
            self._not_found_message(text, key, country),
            suggestions=self.suggest(key, country),
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
        if self._alternates_lower is None:
            alternates = self._alternates() if callable(self._alternates) else self._alternates
            self._alternates_lower = [
                "" if _missing(a) else f";{str(a).lower()};" for a in alternates]
        needles = {f";{name.lower()};", f";{key};"}
        return [
            row
            for row, alternates in enumerate(self._alternates_lower)
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
            f"{text!r} matches {len(records)} cities; say which one with 'Name, CC' or its id:\n"
            f"{listed}{tail}",
            candidates=[r.__dict__ for r in records],
        )

    def suggest(self, key: str, country: str | None = None) -> list[str]:
        """Up to SUGGESTION_LIMIT 'Name, CC' strings that look like `key` (rapidfuzz)."""
        index = self.by_fold()
        choices = [k for k, rows in index.items() if self._in_country(rows, country)]
        found: list[tuple[str, int]] = []
        for choice in _fuzzy(key, choices, limit=SUGGESTION_LIMIT):
            rows = self._in_country(index[choice], country)
            found.extend((f"{self.names[r]}, {self.country_codes[r]}", r) for r in rows)
        found.sort(key=lambda item: -int(self.populations[item[1]]))
        unique = list(dict.fromkeys(label for label, _ in found))
        return unique[:SUGGESTION_LIMIT]

    def _not_found_message(self, text: str, key: str, country: str | None) -> str:
        suggestions = self.suggest(key, country)
        where = f" in {country}" if country else ""
        message = f"no city called {text!r}{where} in the model"
        if suggestions:
            return message + "; did you mean: " + "; ".join(suggestions) + "?"
        return message + "; check the spelling or give its GeoNames id as geonames:ID"


def _fuzzy(key: str, choices: list[str], limit: int) -> list[str]:
    """The best rapidfuzz matches of `key` among `choices` above SUGGESTION_CUTOFF."""
    if not key or not choices:
        return []
    from rapidfuzz import fuzz, process

    hits = process.extract(
        key, choices, scorer=fuzz.WRatio, limit=limit, score_cutoff=SUGGESTION_CUTOFF
    )
    return [choice for choice, _score, _index in hits]


def _missing(value: object) -> bool:
    """True for None, NaN and pandas NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN
    except TypeError:  # pandas.NA refuses bool()
        return True
