"""What every open-data table needs: reading it, joining its rows to cities, counting the joins.

A row joins a city of the processed city table (`join_rows`) by, in order:
1. `name`: a city of the row's country whose folded name, ASCII name or Latin alternate name
   equals one of the row's name variants (training.data.names: the full name, the unit without
   administrative words, each half of 'Bournemouth/Poole', the parent of 'Birmingham (West
   Midlands)', then the pieces of 'Brighton-Worthing-Littlehampton'), the nearest such city,
   within the table's `max_km` of the row's coordinates (the distance check);
2. `nearest`: else, when the table allows it (`nearest_km` > 0), the most populous city of the
   row's country within `nearest_km` (a point such as a heritage site or a port is near a city,
   not in it);
3. `name_only`: a row without coordinates (or with placeholder ones, `trust_coords` False) joins
   the most populous city of that name in its country only when the table allows it.
Anything else is unjoined with a reason code and a detail naming the nearest candidate.
Radius rules (`within_radius`) do not use the joins: a city takes the points within R km.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.neighbors import BallTree

from matcher import config
from matcher.columns import Columns as C
from matcher.errors import InputError
from matcher.scoring.signals import EARTH_RADIUS_KM, haversine_km
from training.data.ingest import read_bytes
from training.data.names import fold, is_latin, name_parts, name_variants

TABLE_SUFFIXES = ("", ".xz", ".gz")  # a table may be stored compressed
UNJOINED_COLUMNS = ["table", "file", C.ROW, "name", "country", C.LAT, C.LON, C.REASON, "detail"]


def find_table(directory: Path, file: str) -> Path:
    """The table's path in `directory` (plain, .xz or .gz); InputError naming it when absent."""
    for suffix in TABLE_SUFFIXES:
        path = Path(directory) / f"{file}{suffix}"
        if path.is_file():
            return path
    raise InputError(f"{Path(directory) / file} (or .xz/.gz): open-data table not found; restore "
                     "it, point --open-data at a folder that has it, or build without the open "
                     "data (--no-open-data)")


def read_table(directory: Path, file: str, required: tuple[str, ...]) -> tuple[Path, pd.DataFrame]:
    """The table as a DataFrame ("NA" is Namibia, not missing: only empty cells are missing);
    InputError naming the file when it cannot be read or lacks a required column."""
    path = find_table(directory, file)
    data = read_bytes(path)
    if not data.strip():
        raise InputError(f"{path}: the open-data table is empty; restore it from its source")
    try:
        frame = pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values=[""],
                            low_memory=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"{path}: not a readable CSV table ({error}); restore it from its "
                         "source") from None
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise InputError(f"{path}: lacks column(s) {', '.join(missing)}; this is not the "
                         "expected table (see data/README.md)")
    return path, frame


def numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64, unparseable cells NaN."""
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)


def truthy(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A True/False/yes/no/1/0 column as bool, by the indicator files' tokens (else False)."""
    from training.data.indicators import TRUE_TOKENS

    text = frame[column].astype(str).str.strip().str.casefold()
    return text.isin(TRUE_TOKENS).to_numpy()


@dataclass(frozen=True)
class Joined:
    """Per row of a table: the city row it joined (-1: none), how, how far, and why not."""

    rows: np.ndarray
    method: np.ndarray  # object: "name", "nearest", "name_only" or ""
    km: np.ndarray  # NaN when unknown
    reason: np.ndarray  # object: "" when joined, else a reason code
    detail: np.ndarray  # object: human-readable detail for unjoined rows

    @property
    def joined(self) -> np.ndarray:
        return self.rows >= 0


@dataclass(frozen=True)
class TableReport:
    """One table's join for the build report: counts, rate, methods and unjoined reasons."""

    table: str
    file: str
    rows_in: int
    rows_joined: int
    methods: dict[str, int] = field(default_factory=dict)
    unjoined: dict[str, int] = field(default_factory=dict)

    @property
    def join_rate(self) -> float:
        return round(self.rows_joined / self.rows_in, 6) if self.rows_in else 0.0

    def to_dict(self) -> dict:
        return {"file": self.file, "rows_in": self.rows_in, "rows_joined": self.rows_joined,
                "join_rate": self.join_rate, "methods": self.methods, "unjoined": self.unjoined}


def table_report(table: str, path: Path, joined: Joined) -> TableReport:
    """Counts of a Joined for the report."""
    methods = pd.Series(joined.method[joined.joined]).value_counts()
    reasons = pd.Series(joined.reason[~joined.joined]).value_counts()
    return TableReport(table, Path(path).name, len(joined.rows), int(joined.joined.sum()),
                       {str(k): int(v) for k, v in sorted(methods.items())},
                       {str(k): int(v) for k, v in sorted(reasons.items())})


def unjoined_rows(table: str, path: Path, joined: Joined, names, countries, lat,
                  lon) -> pd.DataFrame:
    """The table's unjoined rows (1-based data row numbers) with their reason and detail."""
    bad = np.flatnonzero(~joined.joined)
    return pd.DataFrame({
        "table": table, "file": Path(path).name, C.ROW: bad + 1,
        "name": pd.Series(names).astype(str).to_numpy()[bad],
        "country": pd.Series(countries).astype(str).to_numpy()[bad],
        C.LAT: np.asarray(lat, dtype=np.float64)[bad],
        C.LON: np.asarray(lon, dtype=np.float64)[bad],
        C.REASON: joined.reason[bad], "detail": joined.detail[bad],
    }, columns=UNJOINED_COLUMNS)


def _variants(name: str) -> list[str]:
    """Folded names to look up, most specific first (see the module docstring)."""
    variants, _ = name_variants(name)
    return variants + [part for part in name_parts(name) if part not in variants]


class CityIndex:
    """Name and coordinate indexes over the processed city table (row positions of `cities`)."""

    def __init__(self, cities: pd.DataFrame) -> None:
        self.cities = cities.reset_index(drop=True)
        self.ids = self.cities[C.GEONAMEID].to_numpy(np.int64)
        self.names = self.cities[C.NAME].astype(str).to_numpy()
        self.country = self.cities[C.COUNTRY].astype(str).to_numpy(dtype=object)
        self.countries = frozenset(self.country.tolist())
        self.population = self.cities[C.POPULATION].to_numpy(np.int64)
        self.radians = np.radians(self.cities[[C.LAT, C.LON]].to_numpy(np.float64))
        self.tree = BallTree(self.radians, metric="haversine")
        self.by_name = self._name_index()

    def _name_index(self) -> dict[tuple[str, str], np.ndarray]:
        keys: dict[tuple[str, str], list[int]] = {}
        alternates = (self.cities[C.ALT_NAMES].fillna("").astype(str)
                      if C.ALT_NAMES in self.cities else pd.Series("", index=self.cities.index))
        ascii_names = (self.cities[C.ASCII_NAME].astype(str) if C.ASCII_NAME in self.cities
                       else self.cities[C.NAME].astype(str))
        for row, (country, name, ascii_name, alts) in enumerate(zip(
                self.country, self.names, ascii_names, alternates, strict=True)):
            spellings = {name, ascii_name, *(a for a in alts.split(";") if a and is_latin(a))}
            for key in {fold(s) for s in spellings} - {""}:
                keys.setdefault((country, key), []).append(row)
        return {k: np.asarray(v, dtype=np.int64) for k, v in keys.items()}

    def km_to(self, rows: np.ndarray, lat: float, lon: float) -> np.ndarray:
        return haversine_km(np.radians(lat), np.radians(lon), self.radians[rows, 0],
                            self.radians[rows, 1])

    def most_populous(self, rows: np.ndarray) -> int:
        return int(rows[np.lexsort((self.ids[rows], -self.population[rows]))[0]])

    def near(self, lat: float, lon: float, km: float, country: str) -> tuple[np.ndarray,
                                                                               np.ndarray]:
        """City rows of `country` within km of (lat, lon), and their distances."""
        rows, dist = self.tree.query_radius(np.radians([[lat, lon]]), r=km / EARTH_RADIUS_KM,
                                            return_distance=True)
        keep = self.country[rows[0]] == country
        return rows[0][keep], dist[0][keep] * EARTH_RADIUS_KM

    def named(self, country: str, name: str) -> np.ndarray:
        """City rows of `country` bearing the first of the name's variants that any bears."""
        for variant in _variants(name):
            rows = self.by_name.get((country, variant))
            if rows is not None:
                return rows
        return np.empty(0, np.int64)


def join_rows(index: CityIndex, countries, names, lat, lon, *, max_km: float,
              nearest_km: float = 0.0, name_only: bool = False,
              trust_coords: np.ndarray | None = None,
              skip: dict[int, tuple[str, str]] | None = None) -> Joined:
    """Join each row (country code, name, coordinates) to a city by the module's rules.

    `skip`: row -> (reason, detail) for rows the table itself rules out (e.g. a group).
    `trust_coords`: False for rows whose coordinates are placeholders (treated as absent).
    """
    n = len(names)
    rows = np.full(n, -1, dtype=np.int64)
    method = np.full(n, "", dtype=object)
    km = np.full(n, np.nan)
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    skip = skip or {}
    for i, (country, name) in enumerate(zip(countries, names, strict=True)):
        if i in skip:
            reason[i], detail[i] = skip[i]
            continue
        country = "" if not isinstance(country, str) else country.strip().upper()
        name = "" if not isinstance(name, str) else name.strip()
        if country not in index.countries:
            reason[i] = "no_country"
            detail[i] = f"country '{country}' has no city in the city table"
            continue
        located = bool(np.isfinite(lat[i]) and np.isfinite(lon[i])
                       and (trust_coords is None or trust_coords[i]))
        candidates = index.named(country, name) if name else np.empty(0, np.int64)
        if located and len(candidates):
            dist = index.km_to(candidates, lat[i], lon[i])
            best = int(np.argmin(dist))
            if dist[best] <= max_km:
                rows[i], method[i], km[i] = candidates[best], "name", dist[best]
                continue
        if located and nearest_km > 0:
            near, dist = index.near(lat[i], lon[i], nearest_km, country)
            if len(near):
                chosen = index.most_populous(near)
                rows[i], method[i] = chosen, "nearest"
                km[i] = float(dist[near == chosen][0])
                continue
        if not located and name_only and len(candidates):
            rows[i], method[i] = index.most_populous(candidates), "name_only"
            continue
        if not located and np.isfinite(lat[i]) and np.isfinite(lon[i]):
            reason[i] = "placeholder_coordinates"
            detail[i] = ("coordinates shared with other rows (a placeholder), and " +
                         (f"no city named '{name}' in {country}" if not len(candidates) else
                          "name-only joins are off for this table"))
            continue
        reason[i], detail[i] = _why_not(index, country, name, candidates, located, lat[i],
                                        lon[i], max_km, nearest_km)
    return Joined(rows, method, km, reason, detail)


def _why_not(index: CityIndex, country: str, name: str, candidates: np.ndarray, located: bool,
             lat: float, lon: float, max_km: float, nearest_km: float) -> tuple[str, str]:
    """The reason code and detail of an unjoined row."""
    if not located:
        if not name:
            return "no_name_no_coordinates", "neither a name nor coordinates to join on"
        return "no_coordinates", (f"no coordinates, and no city named '{name}' in {country}"
                                  if not len(candidates) else
                                  "no coordinates to check the name against")
    if len(candidates):
        dist = index.km_to(candidates, lat, lon)
        best = int(np.argmin(dist))
        return "name_far", (f"'{index.names[candidates[best]]}' ({country}) is "
                            f"{dist[best]:.0f} km away, more than {max_km:.0f} km")
    radius = max(nearest_km, max_km)
    near, dist = index.near(lat, lon, radius, country)
    where = (f"nearest city {index.names[near[np.argmin(dist)]]} at {dist.min():.0f} km"
             if len(near) else f"no city of {country} within {radius:.0f} km")
    if nearest_km > 0:
        return "no_city_near", f"no city within {nearest_km:.0f} km; {where}"
    label = (f"no city named '{name}' in {country} (the city table holds places of "
             f"{config.CITY_TABLE_MIN_POPULATION:,}+ and every partnered place)" if name
             else "no name")
    return "no_name_match", f"{label}; {where}"


def within_radius(index: CityIndex, lat, lon, km: float) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Every (city row, point, distance km) pair closer than km: points are a table's rows
    with coordinates (NaN coordinates never match), in any country (a border airport serves
    both sides)."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    known = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    if not len(known):
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0)
    tree = BallTree(np.radians(np.column_stack([lat[known], lon[known]])), metric="haversine")
    points, dist = tree.query_radius(index.radians, r=km / EARTH_RADIUS_KM,
                                     return_distance=True)
    counts = np.array([len(p) for p in points])
    city = np.repeat(np.arange(len(points)), counts)
    point = known[np.concatenate(points).astype(np.int64)] if counts.sum() else \
        np.empty(0, np.int64)
    km_ = np.concatenate(dist) * EARTH_RADIUS_KM if counts.sum() else np.empty(0)
    return city, point, km_


def best_per_city(n_cities: int, city: np.ndarray, order: np.ndarray) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """For pairs (city, value): the pair index of each city's best pair by `order` (largest
    first; ties: the earlier pair) and a mask of cities that have any."""
    best = np.full(n_cities, -1, dtype=np.int64)
    if len(city):
        ranked = np.lexsort((np.arange(len(city)), -order, city))
        first = np.r_[True, city[ranked][1:] != city[ranked][:-1]]
        best[city[ranked][first]] = ranked[first]
    return best, best >= 0


@dataclass(frozen=True)
class SourceResult:
    """What one table gives: per-city columns and theme flags (arrays in city-table order),
    its join report and its unjoined rows."""

    key: str  # a matcher.profile.SOURCES key
    path: Path
    columns: dict[str, np.ndarray]
    themes: dict[str, np.ndarray]
    report: TableReport
    unjoined: pd.DataFrame


def source_result(key: str, path: Path, joined: Joined, frame: pd.DataFrame, name_column: str,
                  country_column: str, lat, lon, columns: dict, themes: dict | None = None
                  ) -> SourceResult:
    """Assemble a SourceResult with the join's report and unjoined rows."""
    names = frame[name_column] if name_column else pd.Series("", index=frame.index)
    return SourceResult(key, path, columns, themes or {}, table_report(key, path, joined),
                        unjoined_rows(key, path, joined, names.fillna(""),
                                      frame[country_column].fillna(""), lat, lon))
