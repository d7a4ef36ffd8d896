"""The one ranking contract: per-pair signals and the re-ranker that combines them into a score.

Training (evaluation, re-ranker fitting) and serving call these same functions, so the scores a
model was evaluated with are the scores the CLI shows. Pure numpy/scipy: no lightfm, no sklearn.
Every signal is computed from the query's own sparse rows, so one query costs O(n), not O(n^2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from matcher.scoring import kinds, walks
from matcher.scoring.csr import CSR
from matcher.scoring.kinds import EARTH_RADIUS_KM

# Every name list is derived from the one table of signals (matcher.scoring.signaltable);
# re-exported here for the modules that read them beside the arrays.
from matcher.scoring.signaltable import (
    BY_NAME,
    COLUMNS,
    GRAPH_SIGNALS,
    INTERACTION_SIGNALS,
    PAIRWISE,
    SIGNALS,
    SYMMETRIC_SIGNALS,
    WALKS,
    with_products,
)
from matcher.scoring.walks import NEIGHBOURS_PARTNERS

if TYPE_CHECKING:  # scipy.sparse is imported where whole blocks are multiplied (see scoring.csr)
    import scipy.sparse as sp

__all__ = ["EARTH_RADIUS_KM", "GRAPH_SIGNALS", "INTERACTION_SIGNALS", "SIGNALS",
           "SYMMETRIC_SIGNALS"]


@dataclass
class ScoringArrays:
    """Everything scoring needs, as arrays indexed by model city row."""

    user_embeddings: np.ndarray  # (n, d) float32
    item_embeddings: np.ndarray  # (n, d) float32
    user_biases: np.ndarray  # (n,)
    item_biases: np.ndarray  # (n,)
    graph: CSR  # (n, n) symmetric partnership weights (a scipy matrix is converted)
    geo: CSR  # (n, n) symmetric kernel of geographic neighbours, no diagonal (as graph)
    lat: np.ndarray  # (n,) degrees
    lon: np.ndarray  # (n,) degrees
    population: np.ndarray  # (n,)
    country_index: np.ndarray  # (n,) int: the city's country, 0..countries-1
    candidate_mask: np.ndarray  # (n,) bool: may be recommended
    is_capital: np.ndarray  # (n,) bool
    rerank: dict  # {"warm": {...}, "cold": {...}}: signals, mean, scale, coef, intercept
    # (n,) int: the city's first-level region (country and admin1 code), 0..regions-1; None
    # (models before 0.3.1): each country is one region
    admin1_index: np.ndarray | None = None
    # Each city's LightFM score moments as the model stored them (None: computed when needed).
    stored_user_moments: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    # The fast scorer's state (matcher.scoring.prepared.prepared builds it on first use).
    fast: object | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.graph = CSR.of(self.graph)
        self.geo = CSR.of(self.geo)

    @property
    def n_cities(self) -> int:
        return len(self.lat)

    def has_history(self, rows: np.ndarray) -> np.ndarray:
        return self.degree[rows] > 0

    def partners(self, row: int) -> np.ndarray:
        """Rows of a city's partners in the graph (a view; copy before changing it)."""
        return self.graph.row(row)

    # -- derived arrays, computed on first use through `derived[name]` ----------------------
    @cached_property
    def binary(self) -> CSR:
        return self.graph.with_values(np.ones(self.graph.nnz))

    @cached_property
    def degree(self) -> np.ndarray:
        return np.diff(self.graph.indptr).astype(np.float64)

    @cached_property
    def inv_log_degree(self) -> np.ndarray:
        """1 / log(degree), 0 for a city with one partner or none (Adamic-Adar's weight)."""
        degree = self.degree
        out = np.zeros_like(degree)
        out[degree > 1] = 1.0 / np.log(degree[degree > 1])
        return out

    @cached_property
    def inv_degree(self) -> np.ndarray:
        """1 / degree, 1 for a city without partners."""
        return 1.0 / np.maximum(self.degree, 1.0)

    @cached_property
    def inv_sqrt_degree(self) -> np.ndarray:
        """1 / sqrt(degree), 1 for a city without partners: the walks' normalisation."""
        return 1.0 / np.sqrt(np.maximum(self.degree, 1.0))

    @cached_property
    def admin1(self) -> np.ndarray:
        return self.country_index if self.admin1_index is None else \
            np.asarray(self.admin1_index, dtype=np.int64)

    @cached_property
    def n_admin1(self) -> int:
        admin1 = self.admin1
        return int(admin1.max()) + 1 if len(admin1) else 0

    @cached_property
    def admin1_pairs(self) -> sp.csr_matrix:
        """(regions, regions): partnerships between each two first-level regions."""
        import scipy.sparse as sp

        admin1, count = self.admin1, self.n_admin1
        graph = self.binary
        return sp.csr_matrix((graph.data, (admin1[graph.row_of_entry], admin1[graph.indices])),
                             shape=(count, count))

    @cached_property
    def n_countries(self) -> int:
        return int(self.country_index.max()) + 1 if len(self.country_index) else 0

    @cached_property
    def membership(self) -> sp.csr_matrix:
        import scipy.sparse as sp

        n = len(self.country_index)
        return sp.csr_matrix((np.ones(n), (np.arange(n), self.country_index)),
                             shape=(n, self.n_countries))

    @cached_property
    def partners_by_country(self) -> sp.csc_matrix:
        """(n, countries), column-major: how many partners each city has in each country."""
        import scipy.sparse as sp

        return sp.csc_matrix(self.binary.matrix @ self.membership)

    @cached_property
    def country_pairs(self) -> np.ndarray:
        """(countries, countries): partnerships between each two countries (both directions)."""
        countries = self.n_countries
        return self.binary.count_by(self.country_index, self.country_index,
                                               countries, countries)

    @cached_property
    def lat_rad(self) -> np.ndarray:
        return np.radians(self.lat.astype(np.float64))

    @cached_property
    def lon_rad(self) -> np.ndarray:
        return np.radians(self.lon.astype(np.float64))

    @cached_property
    def log_population(self) -> np.ndarray:
        return np.log10(np.maximum(self.population.astype(np.float64), 1.0))

    @cached_property
    def item_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of candidates' [item vector, bias], to standardise in O(d^2)."""
        items = np.hstack([self.item_embeddings[self.candidate_mask],
                           self.item_biases[self.candidate_mask, None]]).astype(np.float64)
        mean = items.mean(axis=0) if len(items) else np.zeros(items.shape[1])
        covariance = (np.cov(items, rowvar=False) if len(items) > 1
                      else np.zeros((len(mean), len(mean))))
        return mean, np.atleast_2d(covariance)

    @cached_property
    def user_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Every city's LightFM score mean and spread over the candidates, as a querying city."""
        if self.stored_user_moments is not None:
            return self.stored_user_moments
        return lightfm_moments(self, self.user_embeddings)

    @cached_property
    def user_float64(self) -> np.ndarray:
        return self.user_embeddings.astype(np.float64)

    @cached_property
    def item_float64(self) -> np.ndarray:
        return self.item_embeddings.astype(np.float64)


def lightfm_moments(arrays: ScoringArrays, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each user's LightFM scores over all candidates."""
    mean, covariance = arrays.item_moments
    augmented = np.hstack([users.astype(np.float64), np.ones((len(users), 1))])
    variance = ((augmented @ covariance) * augmented).sum(axis=1)
    return augmented @ mean, np.sqrt(np.maximum(variance, 1e-12))


def city_inputs(arrays: ScoringArrays) -> dict[str, np.ndarray]:
    """Every city's inputs of the per-cell formulas (kinds.INPUTS), (n,) each."""
    return kinds.city_inputs(arrays.lat_rad, arrays.lon_rad, arrays.log_population,
                             arrays.degree, arrays.is_capital)


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                 lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between points given in radians (broadcasts)."""
    half_dlat = (lat2 - lat1) / 2.0
    half_dlon = (lon2 - lon1) / 2.0
    a = np.sin(half_dlat) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(half_dlon) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _dense(matrix: sp.spmatrix, columns: np.ndarray | slice) -> np.ndarray:
    """The (q, c) dense block of a sparse result, restricted to `columns`."""
    return matrix.toarray()[:, columns]


def signal_matrices(arrays: ScoringArrays, queries: np.ndarray,
                    columns: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every signal for each query (rows) against every city, or only `columns`: (q, c) float64."""
    queries = np.asarray(queries, dtype=np.int64)
    cols = slice(None) if columns is None else np.asarray(columns, dtype=np.int64)
    binary_rows = arrays.binary.matrix[queries]
    walked = walks.block(arrays, queries, WALKS)
    neighbours_partners = walks.block(arrays, queries, {"near": NEIGHBOURS_PARTNERS},
                                      log=False)["near"]
    membership = arrays.membership
    query_countries = arrays.country_index[queries]
    column_countries = arrays.country_index[cols]
    users = arrays.user_float64[queries]
    user_mean, user_spread = lightfm_moments(arrays, users)
    lightfm = users @ arrays.item_float64[cols].T + arrays.item_biases[cols][None, :]
    shape = lightfm.shape
    inputs = city_inputs(arrays)
    query_side = {name: values[queries][:, None] for name, values in inputs.items()}
    column_side = {name: values[None, cols] for name, values in inputs.items()}
    return with_products({
        **{name: BY_NAME[name].pairwise(query_side, column_side) for name in PAIRWISE},
        **{name: np.broadcast_to(inputs[BY_NAME[name].inputs[0]][cols], shape).copy()
           for name in COLUMNS},
        "lightfm": (lightfm - user_mean[:, None]) / user_spread[:, None],
        **{name: _dense(values, cols) for name, values in walked.items()},
        "country_affinity": np.log1p((binary_rows @ membership).toarray()[:, column_countries]),
        "region_country": np.log1p(
            (neighbours_partners @ membership).toarray()[:, column_countries]),
        "candidate_affinity": np.log1p(
            arrays.partners_by_country[:, query_countries].toarray()[cols].T),
        "country_pair": np.log1p(arrays.country_pairs[query_countries][:, column_countries]),
        "same_country": (query_countries[:, None] == column_countries[None, :]).astype(float),
        "admin1_pair": np.log1p(arrays.admin1_pairs[arrays.admin1[queries]].toarray()[
            :, arrays.admin1[cols]]),
    })


def user_moments(arrays: ScoringArrays, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lightfm_moments of `rows`, read from every city's when the model stored them."""
    if arrays.stored_user_moments is not None or "user_moments" in vars(arrays):
        mean, spread = arrays.user_moments
        return mean[rows], spread[rows]
    return lightfm_moments(arrays, arrays.user_embeddings[rows])


def reverse_signals(arrays: ScoringArrays, query: int,
                    among: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every signal for each city j (all, or `among`) as the query and `query` as the candidate.

    Symmetric signals reuse the forward values; the others are read from the other side.
    """
    rows = slice(None) if among is None else np.asarray(among, dtype=np.int64)
    forward = signal_matrices(arrays, np.array([query]), None if among is None else rows)
    binary = arrays.binary.matrix
    geo = arrays.geo.matrix
    binary_column = binary[query].toarray().ravel()
    geo_column = geo[query].toarray().ravel()
    in_query_country = (arrays.country_index == arrays.country_index[query]).astype(np.float64)
    partners_in_country = binary @ in_query_country
    users = arrays.user_float64[rows]
    user_mean, user_spread = (arrays.user_moments if among is None
                              else lightfm_moments(arrays, users))
    lightfm = users @ arrays.item_float64[query] + arrays.item_biases[query]
    size = len(users)
    inputs = city_inputs(arrays)
    return with_products({
        **{name: forward[name][0] for name in SYMMETRIC_SIGNALS},
        "lightfm": (lightfm - user_mean) / user_spread,
        "geo_cf": np.log1p(geo[rows] @ binary_column),
        "partner_geo": np.log1p(binary[rows] @ geo_column),
        "country_affinity": np.log1p(partners_in_country[rows]),
        "candidate_affinity": np.log1p(
            (binary[query] @ arrays.membership).toarray().ravel()[arrays.country_index[rows]]),
        "region_country": np.log1p(geo[rows] @ partners_in_country),
        **{name: np.full(size, inputs[BY_NAME[name].inputs[0]][query]) for name in COLUMNS},
    })


def linear_weights(rerank_part: dict) -> tuple[list[str], np.ndarray, float]:
    """(signal names, weights, offset) with logit = offset + sum(weight * raw signal): the
    standardisation folded into the coefficients."""
    names = list(rerank_part["signals"])
    weights = np.asarray(rerank_part["coef"], dtype=np.float64) / np.asarray(
        rerank_part["scale"], dtype=np.float64)
    offset = float(rerank_part["intercept"]) - float(
        np.dot(weights, np.asarray(rerank_part["mean"], dtype=np.float64)))
    return names, weights, offset


def combine(rerank_part: dict, signals: dict[str, np.ndarray]) -> np.ndarray:
    """The re-ranker's logit: intercept + sum of coef * standardised signal."""
    names, weights, offset = linear_weights(rerank_part)
    logit = np.full(np.shape(signals[names[0]]), offset)
    scratch = np.empty_like(logit)
    for name, weight in zip(names, weights, strict=True):
        if weight:  # one multiply and one add per signal, in place (this is the hot loop)
            np.multiply(signals[name], weight, out=scratch)
            logit += scratch
    return logit


def combine_by_history(arrays: ScoringArrays, warm: np.ndarray,
                        signals: dict[str, np.ndarray]) -> np.ndarray:
    """The warm re-ranker where `warm` (the asking city has partnerships), else the cold one."""
    if warm.all() or not warm.any():  # one kind: no per-row copy of every signal
        return combine(arrays.rerank["warm" if warm.all() else "cold"], signals)
    scores = np.empty(np.shape(signals["lightfm"]))
    for kind, part in (("warm", warm), ("cold", ~warm)):
        if part.any():
            scores[part] = combine(arrays.rerank[kind],
                                   {name: values[part] for name, values in signals.items()})
    return scores


def sigmoid(values: np.ndarray) -> np.ndarray:
    """The logistic link, safe for large magnitudes and -inf."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(values, dtype=np.float64)))
