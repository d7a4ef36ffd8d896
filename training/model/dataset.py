"""Turn resolved tables into what the model trains on: city index, sparse features, interactions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.columns import Columns as C
from matcher.errors import DataError

NUMERIC_BINS = 8


@dataclass(frozen=True)
class EncodedFeatures:
    """A row-per-city sparse feature matrix with a name and group per column."""

    matrix: sp.csr_matrix
    names: list[str]
    groups: list[str]


@dataclass(frozen=True)
class Dataset:
    """The model's view of the data; row i of every array is city i of `cities`."""

    cities: pd.DataFrame
    features: EncodedFeatures  # without identity columns
    interactions: sp.csr_matrix  # (n, n) symmetric partnership weights
    candidate_mask: np.ndarray  # (n,) bool

    @property
    def n_cities(self) -> int:
        return len(self.cities)

    def rows_of(self, geonameids: Iterable[int]) -> np.ndarray:
        return city_rows(self.cities, geonameids)


def city_rows(cities: pd.DataFrame, geonameids: Iterable[int]) -> np.ndarray:
    """Row of each GeoNames id in `cities`; DataError when one is missing."""
    position = pd.Index(cities[C.GEONAMEID].to_numpy())
    rows = position.get_indexer(np.asarray(list(geonameids), dtype=np.int64))
    if (rows < 0).any():
        raise DataError("partnerships name cities missing from cities.parquet; rebuild the "
                        "data with `make data`")
    return rows


def _numeric_columns(name: str, values: pd.Series) -> tuple[sp.csr_matrix, list[str]]:
    """Quantile bins of a numeric feature, one indicator column per bin; NaN gets no column."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    present = np.isfinite(numbers)
    if present.sum() == 0:
        return sp.csr_matrix((len(values), 0)), []
    edges = np.unique(np.quantile(numbers[present], np.linspace(0, 1, NUMERIC_BINS + 1))[1:-1])
    bins = np.searchsorted(edges, numbers, side="right")
    rows = np.flatnonzero(present)
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, bins[present])),
                           shape=(len(values), len(edges) + 1))
    names = [f"{name}=bin{b}" for b in range(len(edges) + 1)]
    return matrix, names


def _categorical_columns(name: str, values: pd.Series, separator: str | None):
    """One indicator column per category (tags: per ';'-separated tag); empty values get none."""
    text = values.fillna("").astype(str)
    lists = text.str.split(separator) if separator else text.map(lambda value: [value])
    exploded = lists.explode()
    exploded = exploded[exploded.str.strip() != ""].str.strip()
    categories = sorted(exploded.unique())
    codes = pd.Categorical(exploded, categories=categories).codes
    rows = exploded.index.to_numpy()
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, codes)),
                           shape=(len(values), len(categories)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix, [f"{name}={category}" for category in categories]


def encode_features(table: pd.DataFrame, schema: list[dict]) -> EncodedFeatures:
    """Encode a raw feature table by its schema: bins, one-hots and tag indicators.

    Each feature group is scaled so the groups weigh equally, then rows are L2-normalised.
    """
    table = table.reset_index(drop=True)
    blocks, names, groups = [], [], []
    for spec in schema:
        column, kind, group = spec["name"], spec["kind"], spec["group"]
        if column not in table.columns:
            raise DataError(f"feature '{column}' is in the feature schema but not in the feature "
                            "table; rebuild the data with `make data`")
        if kind == "numeric":
            block, block_names = _numeric_columns(column, table[column])
        elif kind == "categorical":
            block, block_names = _categorical_columns(column, table[column], None)
        elif kind == "tags":
            block, block_names = _categorical_columns(column, table[column], ";")
        elif kind == "binary":
            flag = table[column].fillna(False).astype(bool).to_numpy().astype(np.float64)
            block, block_names = sp.csr_matrix(flag[:, None]), [f"{column}=yes"]
        else:
            raise DataError(f"feature '{column}' has unknown kind '{kind}' in the feature schema; "
                            "expected numeric, categorical, tags or binary")
        blocks.append(block)
        names += block_names
        groups += [group] * len(block_names)
    matrix = sp.hstack(blocks, format="csr") if blocks else sp.csr_matrix((len(table), 0))
    return EncodedFeatures(_normalise_by_group(matrix, groups), names, groups)


def _l2_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (all-zero rows stay zero)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix,
                         dtype=np.float32)


def _normalise_by_group(matrix: sp.csr_matrix, groups: list[str]) -> sp.csr_matrix:
    """Scale each group's block to unit L2 norm per row (groups weigh equally), then each row."""
    coo = sp.coo_matrix(matrix, dtype=np.float64)
    group_codes, group_names = pd.factorize(np.asarray(groups, dtype=object))
    column_group = group_codes[coo.col]
    squared = sp.csr_matrix((coo.data**2, (coo.row, column_group)),
                            shape=(matrix.shape[0], max(len(group_names), 1))).toarray()
    norms = np.sqrt(squared[coo.row, column_group])
    scaled = sp.csr_matrix((coo.data / np.where(norms > 0, norms, 1.0), (coo.row, coo.col)),
                           shape=matrix.shape)
    return _l2_rows(scaled)


def interaction_matrix(partnerships: pd.DataFrame, rows_a: np.ndarray, rows_b: np.ndarray,
                       n_cities: int) -> sp.csr_matrix:
    """Symmetric (n, n) matrix of partnership weights: each undirected edge in both directions."""
    weights = partnerships[C.WEIGHT].to_numpy(dtype=np.float64)
    matrix = sp.coo_matrix(
        (np.concatenate([weights, weights]),
         (np.concatenate([rows_a, rows_b]), np.concatenate([rows_b, rows_a]))),
        shape=(n_cities, n_cities)).tocsr()
    matrix.sum_duplicates()
    return matrix


def admin1_index(cities: pd.DataFrame) -> np.ndarray:
    """Each city's first-level region, 0..regions-1: its country and admin1 code together (an
    admin1 code is only unique within its country; a missing code is one region per country)."""
    codes = cities[C.ADMIN1].fillna("").astype(str) if C.ADMIN1 in cities.columns else ""
    keys = cities[C.COUNTRY].astype(str) + "." + codes
    return pd.factorize(keys)[0].astype(np.int64)


def candidate_mask(cities: pd.DataFrame, interactions: sp.csr_matrix,
                   min_population: int) -> np.ndarray:
    """Cities that may be recommended: every city with a partnership, plus large enough ones
    that are not sections of a much larger city (training.data.sections)."""
    from training.data.sections import section_parents

    has_partner = np.diff(interactions.indptr) > 0
    large = cities[C.POPULATION].to_numpy() >= min_population
    return has_partner | (large & (section_parents(cities, has_partner) < 0))


def build_dataset(cities: pd.DataFrame, features: pd.DataFrame, schema: list[dict],
                  partnerships: pd.DataFrame, min_population: int) -> Dataset:
    """Assemble the dataset; every city keeps its row, with or without partnerships."""
    cities = cities.reset_index(drop=True)
    if len(features) != len(cities) or not np.array_equal(
            features[C.GEONAMEID].to_numpy(), cities[C.GEONAMEID].to_numpy()):
        raise DataError("features.parquet rows do not match cities.parquet; rebuild the data "
                        "with `make data`")
    interactions = partnership_graph(cities, partnerships)
    return Dataset(cities, encode_features(features, schema), interactions,
                   candidate_mask(cities, interactions, min_population))


def partnership_graph(cities: pd.DataFrame, partnerships: pd.DataFrame) -> sp.csr_matrix:
    """The symmetric (n, n) weight matrix of `partnerships`, rows in `cities` order."""
    cities = cities.reset_index(drop=True)
    return interaction_matrix(partnerships, city_rows(cities, partnerships[C.CITY_A]),
                              city_rows(cities, partnerships[C.CITY_B]), len(cities))


def with_identity(features: sp.csr_matrix, interactions: sp.csr_matrix,
                  identity_weight: float) -> sp.csr_matrix:
    """Append an identity column for every city with partnerships in `interactions`.

    Cities without partnerships (cold ones, like Sejong) are represented by features alone.
    """
    n = features.shape[0]
    has_partner = np.diff(interactions.indptr) > 0
    rows = np.flatnonzero(has_partner)
    identity = sp.csr_matrix((np.full(len(rows), identity_weight), (rows, np.arange(len(rows)))),
                             shape=(n, len(rows)))
    return _l2_rows(sp.hstack([features, identity], format="csr"))


def geo_kernel(lat: np.ndarray, lon: np.ndarray, radius_km: float,
               scale_km: float) -> sp.csr_matrix:
    """Symmetric kernel exp(-km / scale) between distinct cities closer than radius_km."""
    from sklearn.neighbors import BallTree

    from matcher.places.outside import neighbour_weights
    from matcher.scoring.signals import EARTH_RADIUS_KM

    points = np.radians(np.column_stack([lat, lon]).astype(np.float64))
    tree = BallTree(points, metric="haversine")
    neighbours, distances = tree.query_radius(points, r=radius_km / EARTH_RADIUS_KM,
                                              return_distance=True)
    counts = np.array([len(n) for n in neighbours])
    rows = np.repeat(np.arange(len(points)), counts)
    columns = np.concatenate(neighbours) if len(neighbours) else np.array([], dtype=int)
    km = np.concatenate(distances) * EARTH_RADIUS_KM if len(distances) else np.array([])
    keep = rows != columns
    kernel = sp.csr_matrix((neighbour_weights(km[keep], scale_km), (rows[keep], columns[keep])),
                           shape=(len(points), len(points)), dtype=np.float32)
    kernel.sort_indices()
    return kernel


@dataclass(frozen=True)
class TrainingData:
    """The processed tables a model is trained on (see docs/CONTRACTS.md)."""

    cities: pd.DataFrame
    countries: pd.DataFrame
    partnerships: pd.DataFrame
    features: pd.DataFrame
    schema: list[dict]
    manifest: dict
    _geo_kernels: dict = field(default_factory=dict, compare=False, repr=False)

    def geo_kernel(self, radius_km: float, scale_km: float) -> sp.csr_matrix:
        """The neighbour kernel of the cities, built once per radius and scale (a training run
        fits three models on the same cities)."""
        key = (radius_km, scale_km)
        if key not in self._geo_kernels:
            self._geo_kernels[key] = geo_kernel(self.cities[C.LAT].to_numpy(),
                                                self.cities[C.LON].to_numpy(), radius_km, scale_km)
        return self._geo_kernels[key]

    def candidate_floor(self, requested: int) -> int:
        """The population above which a city without partnerships is a candidate: `requested`,
        but never below the city table's own floor (from the manifest). Below it a city is in
        the table only because of its partnerships, so with a lower floor a holdout fit would
        keep exactly the small towns whose hidden partnerships put them there (a leak)."""
        table_floor = self.manifest.get("gazetteer", {}).get("city_table_min_population", 0)
        return max(int(requested), int(table_floor))

    def features_for(self, partnerships: pd.DataFrame) -> pd.DataFrame:
        """The feature table with the appetite group recomputed from `partnerships` only.

        Evaluation hides partnerships; a held-out city must look as it would with no history.
        """
        from training.data.features import build_city_features

        recomputed, recomputed_schema = build_city_features(self.cities, partnerships,
                                                            self.countries)
        table = self.features.copy()
        for spec in recomputed_schema.to_dict()["features"]:
            if spec["group"] == "appetite" and spec["name"] in table.columns:
                table[spec["name"]] = recomputed[spec["name"]].to_numpy()
        return table


def load_training_data(processed_dir) -> TrainingData:
    """Read data/processed/; DataError naming the missing file and the command that builds it."""
    import json
    from pathlib import Path

    from matcher import config

    processed_dir = Path(processed_dir)
    names = (config.CITIES_FILE, config.COUNTRIES_FILE, config.PARTNERSHIPS_FILE,
             config.FEATURES_FILE, config.FEATURE_SCHEMA_FILE, config.MANIFEST_FILE)
    missing = [name for name in names if not (processed_dir / name).is_file()]
    if missing:
        raise DataError(f"no processed data in {processed_dir} (missing {', '.join(missing)}); "
                        "run `make data`")
    schema = json.loads((processed_dir / config.FEATURE_SCHEMA_FILE).read_text(encoding="utf-8"))
    partnerships = pd.read_parquet(processed_dir / config.PARTNERSHIPS_FILE)
    if partnerships.empty:
        raise DataError(f"{processed_dir / config.PARTNERSHIPS_FILE} has no partnerships; "
                        "check the sources and rerun `make data`")
    return TrainingData(
        cities=pd.read_parquet(processed_dir / config.CITIES_FILE),
        countries=pd.read_parquet(processed_dir / config.COUNTRIES_FILE),
        partnerships=partnerships,
        features=pd.read_parquet(processed_dir / config.FEATURES_FILE),
        schema=schema["features"],
        manifest=json.loads((processed_dir / config.MANIFEST_FILE).read_text(encoding="utf-8")),
    )
