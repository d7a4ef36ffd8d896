"""A gazetteer place outside the model's city index, scored as one more city of it.

The index holds the cities with partnerships and those of 15,000 people or more; a town below
that (Tenby, 4,696) has no row. `with_place` appends the place as row n of a copy of the model,
never a candidate, scored the way a cold city is: its own coordinates, population, country and
first-level region, and its own geographic neighbours (the training kernel, `neighbour_row`),
so the distance, size, country and region signals and what its neighbours twin with are the
place's. LightFM never saw the place, so its LightFM vectors and encoded features are those of
its stand-in: the nearest city of the index in its country without partnerships (a town of the
same kind), named in every answer. No list holds the place, so its ranking is one-sided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matcher.ranking.rank import haversine_km
from matcher.scoring.csr import CSR
from matcher.scoring.signals import ScoringArrays

if TYPE_CHECKING:
    from matcher.store.model import Model

GEO_RADIUS_KM, GEO_SCALE_KM = 60.0, 25.0  # TrainConfig's defaults, for models without them


def neighbour_weights(km: np.ndarray, scale_km: float) -> np.ndarray:
    """The neighbour kernel exp(-km / scale), float32: the one definition, which training's
    geo_kernel applies to every pair of cities and `neighbour_row` to one new place."""
    return np.exp(-np.asarray(km, dtype=np.float64) / scale_km).astype(np.float32)


def neighbour_row(arrays: ScoringArrays, lat: float, lon: float, radius_km: float,
                  scale_km: float, skip: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(columns, weights) of a point's row of the neighbour kernel over the index cities closer
    than radius_km (`skip`: a row left out, the point's own when it is a city of the index)."""
    km = haversine_km(lat, lon, arrays.lat.astype(float), arrays.lon.astype(float))
    columns = np.flatnonzero(km < radius_km)
    if skip is not None:
        columns = columns[columns != skip]
    return columns, neighbour_weights(km[columns], scale_km)


def stand_in(arrays: ScoringArrays, country: int, lat: float, lon: float) -> int:
    """The nearest index city of `country` without partnerships (with partnerships when the
    country has none without): whose LightFM view and encoded features the new place borrows."""
    pool = np.flatnonzero((arrays.country_index == country) & (arrays.degree == 0))
    if not len(pool):
        pool = np.flatnonzero(arrays.country_index == country)
    if not len(pool):
        pool = np.arange(arrays.n_cities)
    km = haversine_km(lat, lon, arrays.lat[pool].astype(float), arrays.lon[pool].astype(float))
    return int(pool[int(np.argmin(km))])


@dataclass(frozen=True)
class Extension:
    """The extended arrays, the new place's row (n) and its stand-in's row."""

    arrays: ScoringArrays
    row: int
    stand_in: int


def _append_row(matrix: CSR, columns: np.ndarray, values: np.ndarray,
                square: bool = True) -> CSR:
    """`matrix` with one more row holding `values` at `columns` (and one more column when
    `square`, so a city-by-city matrix stays square)."""
    rows, width = matrix.shape
    indptr = np.append(matrix.indptr, matrix.indptr[-1] + len(columns))
    indices = np.concatenate([matrix.indices, columns.astype(matrix.indices.dtype)])
    data = np.concatenate([matrix.data, values.astype(matrix.data.dtype)])
    return CSR(indptr, indices, data, (rows + 1, width + 1 if square else width))


def extend(arrays: ScoringArrays, lat: float, lon: float, population: int, country: int,
           admin1: int | None, config: dict) -> Extension:
    """`arrays` with the place appended as row n: not a candidate, no partnerships, its own
    neighbours; LightFM's vectors those of its stand-in."""
    n = arrays.n_cities
    proxy = stand_in(arrays, country, lat, lon)
    radius = float(config.get("geo_radius_km", GEO_RADIUS_KM))
    scale = float(config.get("geo_scale_km", GEO_SCALE_KM))
    columns, weights = neighbour_row(arrays, lat, lon, radius, scale)
    own_admin1 = arrays.admin1
    if admin1 is None:  # a region no index city lies in: one of its own
        admin1 = int(own_admin1.max()) + 1 if len(own_admin1) else 0
    extended = ScoringArrays(
        user_embeddings=np.vstack([arrays.user_embeddings, arrays.user_embeddings[proxy]]),
        item_embeddings=np.vstack([arrays.item_embeddings, arrays.item_embeddings[proxy]]),
        user_biases=np.append(arrays.user_biases, arrays.user_biases[proxy]),
        item_biases=np.append(arrays.item_biases, arrays.item_biases[proxy]),
        graph=_append_row(arrays.graph, np.empty(0, dtype=np.int64), np.empty(0)),
        geo=_append_row(arrays.geo, columns, weights),
        lat=np.append(arrays.lat, lat), lon=np.append(arrays.lon, lon),
        population=np.append(arrays.population, population),
        country_index=np.append(arrays.country_index, country),
        candidate_mask=np.append(arrays.candidate_mask, False),
        is_capital=np.append(arrays.is_capital, False),
        rerank=arrays.rerank,
        admin1_index=np.append(own_admin1, admin1),
    )
    return Extension(extended, n, proxy)


class ExtendedTable:
    """The model's city index with the place as one more row (text "" and numbers NaN where
    the place has no value: an open-data column it was never joined to)."""

    def __init__(self, base, values: dict[str, object]) -> None:
        self.base = base
        self.values = values
        self._columns: dict[str, np.ndarray] = {}

    def has(self, name: str) -> bool:
        return self.base.has(name)

    def column(self, name: str) -> np.ndarray:
        if name not in self._columns:
            column = self.base.column(name)
            value = self.values.get(name)
            if column.dtype.kind in "OUS":  # text
                extra = np.array(["" if value is None else str(value)], dtype=object)
                column = column.astype(object)
            elif column.dtype == bool and value is not None:
                extra = np.array([bool(value)])
            elif value is None:  # a number or a flag the place has none of: unknown
                column = column.astype(np.float64)
                extra = np.array([np.nan])
            else:
                extra = np.array([value], dtype=column.dtype)
            self._columns[name] = np.concatenate([column, extra])
        return self._columns[name]

    def to_pandas(self):
        import pandas as pd

        frame = self.base.to_pandas()
        row = {name: self.column(name)[-1] for name in frame.columns if self.has(name)}
        return pd.concat([frame, pd.DataFrame([row])], ignore_index=True)


def extended_model(model, place) -> tuple[Model, Extension] | None:
    """A copy of `model` with the gazetteer `place` (matcher.places.gazetteer.GazetteerPlace) as
    row n, its score quantiles taken over every candidate; None when no index city shares its
    country (nothing to score it by)."""
    from matcher.ranking import percentiles
    from matcher.scoring.prepared import prepared
    from matcher.store.model import Model

    codes = model.column("country_code").astype(str)
    same_country = np.flatnonzero(codes == place.country_code)
    if not len(same_country):
        return None
    arrays = model.arrays
    country = int(arrays.country_index[same_country[0]])
    admin1 = None
    if model.has_column("admin1_code"):
        regions = model.column("admin1_code").astype(str)[same_country]
        same_region = same_country[regions == str(place.admin1)]
        admin1 = int(arrays.admin1[same_region[0]]) if len(same_region) else None
    ext = extend(arrays, place.lat, place.lon, place.population, country, admin1, model.config)
    values = {"geonameid": place.geonameid, "name": place.name, "asciiname": place.name,
              "country_code": place.country_code, "admin1_code": place.admin1,
              "lat": place.lat, "lon": place.lon, "population": place.population,
              "timezone": place.timezone, "is_capital": False, "is_candidate": False,
              "degree": 0, "partner_countries": 0, "partnership_count": 0,
              "admin1_index": int(ext.arrays.admin1[-1])}
    if model.has_column("country_name"):
        values["country_name"] = model.column("country_name")[same_country[0]]
    values.update(country_values(model, same_country))
    features = model.features  # the stand-in's encoded features, as its LightFM view
    features = _append_row(features, features.row(ext.stand_in),
                           features.row_values(ext.stand_in), square=False)
    levels = model.quantile_levels
    own = percentiles.score_quantiles(ext.arrays, prepared(ext.arrays).candidates, levels,
                                      rows=np.array([ext.row]))
    quantiles = np.vstack([model.quantiles, own.astype(model.quantiles.dtype)])
    documents = {"rerank": model.rerank, "schema": model.schema, "config": model.config,
                 "metrics": model.metrics, "manifest": model.manifest}
    extended = Model(model.path, ExtendedTable(model.table, values), ext.arrays, features,
                     quantiles, documents)
    extended.borrowed_rows = (ext.row,)  # its features are the stand-in's: no themes of its own
    return extended, ext


def country_values(model, same_country: np.ndarray) -> dict[str, object]:
    """The open-data values a place outside the index shares with its country (World Bank
    figures, and the growth fallback of a city of that country without a UN WUP join); its
    city-level values (airports, ports, missions...) stay unknown."""
    from matcher.columns import LEVEL_COUNTRY
    from matcher.profile import CATALOGUE, LEVEL_VARIES

    out: dict[str, object] = {}
    for info in CATALOGUE:
        if not model.has_column(info.name):
            continue
        rows = same_country
        if info.level == LEVEL_VARIES and model.has_column(info.level_column):
            rows = same_country[model.column(info.level_column)[same_country] == LEVEL_COUNTRY]
            if len(rows):
                out[info.level_column] = LEVEL_COUNTRY
        if info.level in (LEVEL_COUNTRY, LEVEL_VARIES) and len(rows):
            value = model.column(info.name)[rows[0]]
            out[info.name] = None if value is None or value != value else value
    return out
