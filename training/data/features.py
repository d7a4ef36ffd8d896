"""The raw per-city feature table (features.parquet) and its schema (feature_schema.json).

One row per city, typed raw columns grouped the way the mission matches cities; encoding
(one-hot, tags, scaling) is `training.model.dataset`'s job. Rules:
- performance: population as given, log10 population and a band ("unknown" when population is
  missing or 0, which GeoNames uses for "unknown"), plus every numeric user indicator.
- appetite: computed ONLY from the `partnerships` passed in, so a held-out city gets zeros.
  A partner is foreign when both countries are known and differ; foreign_partner_share is 0 for
  a city without partnerships, and has_partnerships tells those apart.
- synergies: user tags (';'-joined, normalised), categorical and binary indicators.
- context: country, continent, languages (tags, from the country table), timezone, a
  GEO_CELL_DEGREES grid cell named by its south-west corner (e.g. "30N120E"), lat, lon.
Columns named like a cities.parquet column (population, is_capital, country_code, continent,
timezone, lat, lon) carry the city table's values unchanged, so joining the two is a no-op.
Missing values: numeric NaN, categorical NaN, tags "", user binary <NA>. No city is dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from matcher.columns import Columns as C
from matcher.errors import DataError

if TYPE_CHECKING:
    from training.data.indicators import IndicatorSchema
    from training.data.opendata import OpenFeatures

from training.data.featurespec import (
    BUILTIN_FEATURE_NAMES,
    BUILTIN_FEATURES,
    FOREIGN_PARTNER_COUNT,
    FOREIGN_PARTNER_SHARE,
    GEO_CELL,
    GEO_CELL_DEGREES,
    GROUPS,
    HAS_PARTNERSHIPS,
    KINDS,
    LOG10_POPULATION,
    OPTIONAL_SPEC_KEYS,
    PARTNER_COUNTRY_COUNT,
    PARTNERSHIP_COUNT,
    PARTNERSHIP_WEIGHT,
    POPULATION_BAND,
    POPULATION_BAND_EDGES,
    POPULATION_BAND_LABELS,
    UNKNOWN_BAND,
    FeatureSpec,
)

INDICATOR_GROUP = {"numeric": "performance", "categorical": "synergies", "tags": "synergies",
                   "binary": "synergies"}

REQUIRED_CITY_COLUMNS = (C.GEONAMEID, C.COUNTRY, C.LAT, C.LON, C.POPULATION, C.TIMEZONE,
                         C.CONTINENT, C.IS_CAPITAL)


def _spec_from_dict(entry: object, source: str) -> FeatureSpec:
    required = {"name", "group", "kind"}
    if (not isinstance(entry, dict) or not required <= set(entry)
            or not set(entry) <= required | set(OPTIONAL_SPEC_KEYS)):
        raise DataError(f"{source}: bad feature entry {entry!r}; rebuild the data")
    spec = FeatureSpec(*(str(entry[key]) for key in ("name", "group", "kind")),
                       **{key: str(entry[key]) for key in OPTIONAL_SPEC_KEYS if key in entry})
    if spec.group not in GROUPS or spec.kind not in KINDS:
        raise DataError(f"{source}: feature {spec.name!r} has group {spec.group!r} / "
                        f"kind {spec.kind!r}; groups {GROUPS}, kinds {KINDS}")
    return spec


@dataclass(frozen=True)
class FeatureSchema:
    """The feature table's columns (after geonameid), in order, with group and kind.

    `features` are encoded for the model; `descriptive` columns (the name of a city's best
    airport, whether its growth is its own or its country's) are in the table for profiles and
    reasons only, after the features."""

    features: tuple[FeatureSpec, ...]
    descriptive: tuple[FeatureSpec, ...] = ()

    def names(self, group: str | None = None, kind: str | None = None) -> list[str]:
        """Feature names, optionally only one group and/or kind, in table order."""
        return [f.name for f in self.features
                if (group is None or f.group == group) and (kind is None or f.kind == kind)]

    def to_dict(self) -> dict:
        out = {"features": [f.to_dict() for f in self.features]}
        if self.descriptive:
            out["descriptive"] = [f.to_dict() for f in self.descriptive]
        return out

    @classmethod
    def from_dict(cls, data: object, source: str = "feature schema") -> FeatureSchema:
        """Validate and build; DataError naming `source` when the content is not a schema."""
        if (not isinstance(data, dict) or not isinstance(data.get("features"), list)
                or not isinstance(data.get("descriptive", []), list)):
            raise DataError(f"{source}: expected {{\"features\": [...]}}; rebuild the data")
        specs = [_spec_from_dict(entry, source) for entry in data["features"]]
        extra = [_spec_from_dict(entry, source) for entry in data.get("descriptive", [])]
        names = [s.name for s in [*specs, *extra]]
        if len(set(names)) != len(names):
            raise DataError(f"{source}: duplicate feature names; rebuild the data")
        return cls(features=tuple(specs), descriptive=tuple(extra))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "feature schema") -> FeatureSchema:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(f"{source}: not valid JSON ({error.msg}); rebuild the data") from error
        return cls.from_dict(data, source=source)

    def save(self, path: Path) -> None:
        """Write feature_schema.json (deterministic bytes)."""
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FeatureSchema:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: feature schema not found; run `twin data build`")
        return cls.from_json(path.read_text(encoding="utf-8"), source=str(path))


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what} lacks column(s) {', '.join(missing)}; rebuild the data")


def population_band(population: pd.Series) -> pd.Series:
    """Band label per city; UNKNOWN_BAND for missing or non-positive population."""
    values = pd.to_numeric(population, errors="coerce").to_numpy(dtype=np.float64)
    labels = np.asarray(POPULATION_BAND_LABELS, dtype=object)
    bands = labels[np.searchsorted(POPULATION_BAND_EDGES, np.nan_to_num(values), side="right")]
    bands[~(values > 0)] = UNKNOWN_BAND
    return pd.Series(bands, index=population.index, dtype="str")


def geo_cell(lat: pd.Series, lon: pd.Series, degrees: int = GEO_CELL_DEGREES) -> pd.Series:
    """Grid cell id named by its south-west corner, e.g. lat 36.5, lon 127.3 -> "30N120E"."""
    lat_v = np.clip(lat.to_numpy(dtype=np.float64), -90.0, 90.0 - 1e-9)
    lon_v = (lon.to_numpy(dtype=np.float64) + 180.0) % 360.0 - 180.0
    known = np.isfinite(lat_v) & np.isfinite(lon_v)
    south = (np.floor(np.nan_to_num(lat_v) / degrees) * degrees).astype(np.int64)
    west = (np.floor(np.nan_to_num(lon_v) / degrees) * degrees).astype(np.int64)
    cells = [f"{abs(s)}{'S' if s < 0 else 'N'}{abs(w)}{'W' if w < 0 else 'E'}" if ok else None
             for s, w, ok in zip(south.tolist(), west.tolist(), known.tolist(), strict=True)]
    return pd.Series(cells, index=lat.index, dtype="str")


def _performance(cities: pd.DataFrame) -> pd.DataFrame:
    population = cities[C.POPULATION]
    values = pd.to_numeric(population, errors="coerce").astype(np.float64)
    log10 = np.log10(values.where(values > 0))
    return pd.DataFrame({C.POPULATION: population, LOG10_POPULATION: log10,
                         POPULATION_BAND: population_band(population)}, index=cities.index)


def _appetite(cities: pd.DataFrame, partnerships: pd.DataFrame) -> pd.DataFrame:
    """Partnership counts per city from `partnerships` only; cities without edges get zeros."""
    _require(partnerships, (C.CITY_A, C.CITY_B), "partnerships")
    ids = cities[C.GEONAMEID].to_numpy(dtype=np.int64)
    a = partnerships[C.CITY_A].to_numpy(dtype=np.int64)
    b = partnerships[C.CITY_B].to_numpy(dtype=np.int64)
    weight = (partnerships[C.WEIGHT].to_numpy(dtype=np.float64) if C.WEIGHT in partnerships
              else np.ones(len(a)))
    unknown = np.setdiff1d(np.concatenate([a, b]), ids)
    if unknown.size:
        raise DataError(f"partnerships reference {unknown.size} geonameid(s) absent from the "
                        f"city table (e.g. {unknown[0]}); rebuild the data so both agree")
    if (a == b).any():
        raise DataError(f"partnerships contain a self-partnership (city {a[a == b][0]}); "
                        "rebuild the data")
    pairs = pd.DataFrame({"lo": np.minimum(a, b), "hi": np.maximum(a, b)})
    if pairs.duplicated().any():
        raise DataError("partnerships list the same pair twice; rebuild the data (one row a pair)")
    country = pd.Series(cities[C.COUNTRY].to_numpy(), index=ids)
    ends = pd.DataFrame({"city": np.concatenate([a, b]), "partner": np.concatenate([b, a]),
                         "weight": np.concatenate([weight, weight])})
    ends["own"] = country.reindex(ends["city"]).to_numpy()
    ends["other"] = country.reindex(ends["partner"]).to_numpy()
    ends["foreign"] = ends["own"].notna() & ends["other"].notna() & (ends["own"] != ends["other"])
    grouped = ends.groupby("city")
    stats = pd.DataFrame({
        PARTNERSHIP_COUNT: grouped.size(),
        PARTNERSHIP_WEIGHT: grouped["weight"].sum(),
        PARTNER_COUNTRY_COUNT: grouped["other"].nunique(),
        FOREIGN_PARTNER_COUNT: grouped["foreign"].sum(),
    }).reindex(ids)
    out = pd.DataFrame(index=cities.index)
    for name in (PARTNERSHIP_COUNT, PARTNER_COUNTRY_COUNT, FOREIGN_PARTNER_COUNT):
        out[name] = stats[name].fillna(0).to_numpy(dtype=np.int64)
    out[PARTNERSHIP_WEIGHT] = stats[PARTNERSHIP_WEIGHT].fillna(0.0).to_numpy(dtype=np.float64)
    count = out[PARTNERSHIP_COUNT].to_numpy()
    out[FOREIGN_PARTNER_SHARE] = out[FOREIGN_PARTNER_COUNT] / np.maximum(count, 1)
    out[HAS_PARTNERSHIPS] = count > 0
    out[C.IS_CAPITAL] = cities[C.IS_CAPITAL].fillna(False).astype(bool)
    return out[[s.name for s in BUILTIN_FEATURES if s.group == "appetite"]]


def _context(cities: pd.DataFrame, countries: pd.DataFrame) -> pd.DataFrame:
    _require(countries, (C.ISO2, C.LANGUAGES), "countries")
    languages = countries.drop_duplicates(C.ISO2).set_index(C.ISO2)[C.LANGUAGES]
    return pd.DataFrame({
        C.COUNTRY: cities[C.COUNTRY],
        C.CONTINENT: cities[C.CONTINENT],
        C.LANGUAGES: cities[C.COUNTRY].map(languages).fillna("").astype("str"),
        C.TIMEZONE: cities[C.TIMEZONE],
        GEO_CELL: geo_cell(cities[C.LAT], cities[C.LON]),
        C.LAT: cities[C.LAT],
        C.LON: cities[C.LON],
    }, index=cities.index)


def _indicators(cities: pd.DataFrame, indicators: pd.DataFrame,
                schema: IndicatorSchema) -> tuple[pd.DataFrame, list[FeatureSpec]]:
    """User indicator columns aligned to `cities`; cities without a row get NaN / "" / <NA>."""
    _require(indicators, (C.GEONAMEID, *schema.names()), "indicators")
    if indicators[C.GEONAMEID].duplicated().any():
        raise DataError("indicators have two rows for one geonameid; keep one row per city")
    clashes = BUILTIN_FEATURE_NAMES.intersection(schema.names())
    if clashes:
        raise DataError(f"indicator(s) {sorted(clashes)} shadow built-in features; rename them")
    aligned = indicators.set_index(C.GEONAMEID).reindex(cities[C.GEONAMEID].to_numpy())
    out, specs = pd.DataFrame(index=cities.index), []
    for name, kind in schema.columns:
        if kind == "ignore":
            continue
        column = aligned[name].to_numpy()
        if kind == "numeric":
            out[name] = pd.to_numeric(pd.Series(column), errors="coerce").to_numpy(np.float64)
        elif kind == "tags":
            out[name] = pd.Series(column, dtype="str").fillna("").to_numpy()
        elif kind == "binary":
            out[name] = pd.array(column, dtype="boolean")
        else:
            out[name] = pd.Series(column, dtype="str").to_numpy()
        specs.append(FeatureSpec(name, INDICATOR_GROUP[kind], kind))
    return out, specs


def open_specs(open_data: OpenFeatures) -> tuple[list[FeatureSpec], list[FeatureSpec]]:
    """The open-data columns as (encoded, descriptive) specs, with rule, source and level from
    the catalogue (matcher.profile)."""
    from matcher.profile import SOURCES
    from training.data.opendata import OPEN_FEATURES

    encoded, descriptive = [], []
    for info in OPEN_FEATURES:
        if info.name not in open_data.values.columns:
            continue
        source = SOURCES[info.source].short + (
            f" (city); {SOURCES[info.country_source].short} (country)"
            if info.country_source else "")
        spec = FeatureSpec(info.name, info.group, info.kind, info.rule, source, info.level)
        (encoded if info.encoded else descriptive).append(spec)
    return encoded, descriptive


def build_city_features(
    cities: pd.DataFrame,
    partnerships: pd.DataFrame,
    countries: pd.DataFrame,
    indicators: pd.DataFrame | None = None,
    indicator_schema: IndicatorSchema | None = None,
    open_data: OpenFeatures | None = None,
) -> tuple[pd.DataFrame, FeatureSchema]:
    """One row per row of `cities` (same order): geonameid, then the raw features by group
    (built-in, user indicators, open data), then the open data's descriptive columns."""
    _require(cities, REQUIRED_CITY_COLUMNS, "cities")
    if cities[C.GEONAMEID].duplicated().any():
        raise DataError("cities list a geonameid twice; rebuild the data")
    if indicators is not None and indicator_schema is None:
        raise DataError("indicators were given without their IndicatorSchema; pass both")
    parts = {"performance": _performance(cities), "appetite": _appetite(cities, partnerships),
             "context": _context(cities, countries)}
    specs = {g: [s for s in BUILTIN_FEATURES if s.group == g] for g in GROUPS}
    user = pd.DataFrame(index=cities.index)
    if indicators is not None and indicator_schema is not None:
        user, user_specs = _indicators(cities, indicators, indicator_schema)
        for spec in user_specs:
            specs[spec.group].append(spec)
    descriptive: list[FeatureSpec] = []
    opened = pd.DataFrame(index=cities.index)
    if open_data is not None:
        if len(open_data.values) != len(cities):
            raise DataError("open-data values do not have one row per city; rebuild the data")
        opened = open_data.values.set_axis(cities.index)
        clashes = set(opened.columns) & set(user.columns)
        if clashes:
            raise DataError(f"indicator(s) {sorted(clashes)} shadow open-data features; "
                            "rename them")
        encoded, descriptive = open_specs(open_data)
        for spec in encoded:
            specs[spec.group].append(spec)
    ordered = [spec for group in GROUPS for spec in specs[group]]
    columns = {C.GEONAMEID: cities[C.GEONAMEID]}
    for spec in [*ordered, *descriptive]:
        source = (user if spec.name in user.columns else opened if spec.name in opened.columns
                  else parts[spec.group])
        columns[spec.name] = source[spec.name]
    table = pd.DataFrame(columns, index=cities.index).reset_index(drop=True)
    return table, FeatureSchema(features=tuple(ordered), descriptive=tuple(descriptive))
