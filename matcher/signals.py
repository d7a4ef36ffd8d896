"""The one ranking contract: per-pair signals and the re-ranker that combines them into a score.

Training (evaluation, re-ranker fitting) and serving call these same functions, so the scores a
model was evaluated with are the scores the CLI shows. Pure numpy/scipy: no lightfm, no sklearn.
Every signal is computed from the query's own sparse rows, so one query costs O(n), not O(n^2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from matcher.csr import CSR

# Every name list is derived from the one table of signals (matcher.signaltable); re-exported
# here for the modules that read them beside the arrays.
from matcher.signaltable import (
    GRAPH_SIGNALS,
    INTERACTION_SIGNALS,
    SIGNALS,
    SYMMETRIC_SIGNALS,
    with_products,
)

if TYPE_CHECKING:  # scipy.sparse is imported where whole blocks are multiplied (see matcher.csr)
    import scipy.sparse as sp

EARTH_RADIUS_KM = 6371.0088

__all__ = ["GRAPH_SIGNALS", "INTERACTION_SIGNALS", "SIGNALS", "SYMMETRIC_SIGNALS"]


class _Derived(dict):
    """Derived arrays, each computed on first use (a fresh CLI process needs only a few)."""

    def __init__(self, arrays: ScoringArrays) -> None:
        super().__init__()
        self._arrays = arrays

    def __missing__(self, key: str):
        value = getattr(self._arrays, f"_derive_{key}")()
        self[key] = value
        return value


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
    derived: _Derived = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.graph = CSR.of(self.graph)
        self.geo = CSR.of(self.geo)
        self.derived = _Derived(self)

    @property
    def n_cities(self) -> int:
        return len(self.lat)

    def has_history(self, rows: np.ndarray) -> np.ndarray:
        return self.derived["degree"][rows] > 0

    def partners(self, row: int) -> np.ndarray:
        """Rows of a city's partners in the graph (a view; copy before changing it)."""
        return self.graph.row(row)

    # -- derived arrays, computed on first use through `derived[name]` ----------------------
    def _derive_binary(self) -> CSR:
        return self.graph.with_values(np.ones(self.graph.nnz))

    def _derive_degree(self) -> np.ndarray:
        return np.diff(self.graph.indptr).astype(np.float64)

    def _derive_weighted_binary(self) -> sp.csr_matrix:
        """Partnerships scaled by 1 / log(degree) of the shared partner (Adamic-Adar)."""
        degree = self.derived["degree"]
        inverse_log = np.zeros_like(degree)
        inverse_log[degree > 1] = 1.0 / np.log(degree[degree > 1])
        import scipy.sparse as sp

        return sp.csr_matrix(self.derived["binary"].matrix.multiply(inverse_log[:, None]))

    def _derive_symmetric(self) -> sp.csr_matrix:
        """D^-1/2 A D^-1/2: walks normalised so that hubs do not dominate."""
        import scipy.sparse as sp

        scale = 1.0 / np.sqrt(np.maximum(self.derived["degree"], 1.0))
        return sp.csr_matrix(self.derived["binary"].matrix.multiply(scale[:, None])
                             .multiply(scale[None, :]))

    def _derive_admin1(self) -> np.ndarray:
        return self.country_index if self.admin1_index is None else \
            np.asarray(self.admin1_index, dtype=np.int64)

    def _derive_n_admin1(self) -> int:
        admin1 = self.derived["admin1"]
        return int(admin1.max()) + 1 if len(admin1) else 0

    def _derive_admin1_pairs(self) -> sp.csr_matrix:
        """(regions, regions): partnerships between each two first-level regions."""
        import scipy.sparse as sp

        admin1, count = self.derived["admin1"], self.derived["n_admin1"]
        graph = self.derived["binary"]
        return sp.csr_matrix((graph.data, (admin1[graph.row_of_entry], admin1[graph.indices])),
                             shape=(count, count))

    def _derive_n_countries(self) -> int:
        return int(self.country_index.max()) + 1 if len(self.country_index) else 0

    def _derive_membership(self) -> sp.csr_matrix:
        import scipy.sparse as sp

        n = len(self.country_index)
        return sp.csr_matrix((np.ones(n), (np.arange(n), self.country_index)),
                             shape=(n, self.derived["n_countries"]))

    def _derive_partners_by_country(self) -> sp.csc_matrix:
        """(n, countries), column-major: how many partners each city has in each country."""
        import scipy.sparse as sp

        return sp.csc_matrix(self.derived["binary"].matrix @ self.derived["membership"])

    def _derive_country_pairs(self) -> np.ndarray:
        """(countries, countries): partnerships between each two countries (both directions)."""
        countries = self.derived["n_countries"]
        return self.derived["binary"].count_by(self.country_index, self.country_index,
                                               countries, countries)

    def _derive_lat_rad(self) -> np.ndarray:
        return np.radians(self.lat.astype(np.float64))

    def _derive_lon_rad(self) -> np.ndarray:
        return np.radians(self.lon.astype(np.float64))

    def _derive_log_population(self) -> np.ndarray:
        return np.log10(np.maximum(self.population.astype(np.float64), 1.0))

    def _derive_item_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of candidates' [item vector, bias], to standardise in O(d^2)."""
        items = np.hstack([self.item_embeddings[self.candidate_mask],
                           self.item_biases[self.candidate_mask, None]]).astype(np.float64)
        mean = items.mean(axis=0) if len(items) else np.zeros(items.shape[1])
        covariance = (np.cov(items, rowvar=False) if len(items) > 1
                      else np.zeros((len(mean), len(mean))))
        return mean, np.atleast_2d(covariance)

    def _derive_user_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Every city's LightFM score mean and spread over the candidates, as a querying city."""
        return lightfm_moments(self, self.user_embeddings)

    def _derive_prepared(self):
        from matcher.prepared import Prepared

        return Prepared(self)

    def _derive_user_float64(self) -> np.ndarray:
        return self.user_embeddings.astype(np.float64)

    def _derive_item_float64(self) -> np.ndarray:
        return self.item_embeddings.astype(np.float64)


def lightfm_moments(arrays: ScoringArrays, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each user's LightFM scores over all candidates."""
    mean, covariance = arrays.derived["item_moments"]
    augmented = np.hstack([users.astype(np.float64), np.ones((len(users), 1))])
    variance = ((augmented @ covariance) * augmented).sum(axis=1)
    return augmented @ mean, np.sqrt(np.maximum(variance, 1e-12))


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
    derived = arrays.derived
    binary = derived["binary"].matrix
    geo = arrays.geo.matrix
    binary_rows = binary[queries]
    neighbours_partners = geo[queries] @ binary
    membership = derived["membership"]
    symmetric = derived["symmetric"]
    distance = haversine_km(derived["lat_rad"][queries, None], derived["lon_rad"][queries, None],
                            derived["lat_rad"][None, cols], derived["lon_rad"][None, cols])
    query_countries = arrays.country_index[queries]
    column_countries = arrays.country_index[cols]
    log_population = derived["log_population"]
    users = derived["user_float64"][queries]
    user_mean, user_spread = lightfm_moments(arrays, users)
    lightfm = users @ derived["item_float64"][cols].T + arrays.item_biases[cols][None, :]
    shape = distance.shape
    return with_products({
        "lightfm": (lightfm - user_mean[:, None]) / user_spread[:, None],
        "adamic_adar": np.log1p(_dense(binary_rows @ derived["weighted_binary"], cols)),
        "geo_cf": np.log1p(_dense(neighbours_partners, cols)),
        "partner_geo": np.log1p(_dense(binary_rows @ geo, cols)),
        "three_hop": np.log1p(10.0 * _dense(symmetric[queries] @ symmetric @ symmetric, cols)),
        "region_pair": np.log1p(_dense(neighbours_partners @ geo, cols)),
        "country_affinity": np.log1p((binary_rows @ membership).toarray()[:, column_countries]),
        "region_country": np.log1p(
            (neighbours_partners @ membership).toarray()[:, column_countries]),
        "candidate_affinity": np.log1p(
            derived["partners_by_country"][:, query_countries].toarray()[cols].T),
        "country_pair": np.log1p(derived["country_pairs"][query_countries][:, column_countries]),
        "log_distance": np.log1p(distance),
        "log_degree": np.broadcast_to(np.log1p(derived["degree"][cols]), shape).copy(),
        "log_population": np.broadcast_to(log_population[cols], shape).copy(),
        "size_gap": np.abs(log_population[queries, None] - log_population[None, cols]),
        "both_capital": (arrays.is_capital[queries, None] & arrays.is_capital[None, cols])
        .astype(float),
        "same_country": (query_countries[:, None] == column_countries[None, :]).astype(float),
        "admin1_pair": np.log1p(derived["admin1_pairs"][derived["admin1"][queries]].toarray()[
            :, derived["admin1"][cols]]),
    })


def user_moments(arrays: ScoringArrays, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lightfm_moments of `rows`, read from every city's when the model stored them."""
    if "user_moments" in arrays.derived:
        mean, spread = arrays.derived["user_moments"]
        return mean[rows], spread[rows]
    return lightfm_moments(arrays, arrays.user_embeddings[rows])


def subscore_signals(arrays: ScoringArrays, query: int, reference: np.ndarray,
                     picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The query's "lightfm" and "geo_cf" signals at the `reference` rows (a fixed sample, its
    item rows kept between calls) and the picks, as (n,) arrays (zero elsewhere)."""
    derived = arrays.derived
    user = arrays.user_embeddings[query].astype(np.float64)
    mean, spread = user_moments(arrays, np.array([query]))
    cached = derived.get("reference_items")
    if cached is None or cached[0] is not reference:
        cached = (reference, arrays.item_embeddings[reference].astype(np.float64),
                  arrays.item_biases[reference].astype(np.float64))
        derived["reference_items"] = cached
    picks = np.asarray(picks, dtype=np.int64)
    lightfm = np.zeros(arrays.n_cities)
    lightfm[reference] = (cached[1] @ user + cached[2] - mean[0]) / spread[0]
    lightfm[picks] = (arrays.item_embeddings[picks].astype(np.float64) @ user
                      + arrays.item_biases[picks]
                      - mean[0]) / spread[0]
    return lightfm, derived["prepared"].graph_rows(query)["geo_cf"]


def reverse_signals(arrays: ScoringArrays, query: int,
                    among: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every signal for each city j (all, or `among`) as the query and `query` as the candidate.

    Symmetric signals reuse the forward values; the others are read from the other side.
    """
    derived = arrays.derived
    rows = slice(None) if among is None else np.asarray(among, dtype=np.int64)
    forward = signal_matrices(arrays, np.array([query]), None if among is None else rows)
    binary = derived["binary"].matrix
    geo = arrays.geo.matrix
    binary_column = binary[query].toarray().ravel()
    geo_column = geo[query].toarray().ravel()
    in_query_country = (arrays.country_index == arrays.country_index[query]).astype(np.float64)
    partners_in_country = binary @ in_query_country
    users = derived["user_float64"][rows]
    user_mean, user_spread = (derived["user_moments"] if among is None
                              else lightfm_moments(arrays, users))
    lightfm = users @ derived["item_float64"][query] + arrays.item_biases[query]
    size = len(users)
    return with_products({
        **{name: forward[name][0] for name in SYMMETRIC_SIGNALS},
        "lightfm": (lightfm - user_mean) / user_spread,
        "geo_cf": np.log1p(geo[rows] @ binary_column),
        "partner_geo": np.log1p(binary[rows] @ geo_column),
        "country_affinity": np.log1p(partners_in_country[rows]),
        "candidate_affinity": np.log1p(
            (binary[query] @ derived["membership"]).toarray().ravel()[arrays.country_index[rows]]),
        "region_country": np.log1p(geo[rows] @ partners_in_country),
        "log_degree": np.full(size, np.log1p(derived["degree"][query])),
        "log_population": np.full(size, derived["log_population"][query]),
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


def _combine_by_history(arrays: ScoringArrays, warm: np.ndarray,
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


def score_matrix(arrays: ScoringArrays, queries: np.ndarray,
                 signals: dict[str, np.ndarray] | None = None,
                 columns: np.ndarray | None = None) -> np.ndarray:
    """Final scores (q, n), or (q, c) for `columns`: from `signals` (the reference sum, as
    evaluation uses it), else from matcher.scorer (the same sum folded; equal within 1e-4).

    Whole rows get stage two (matcher.refine); `columns` gives stage one's scores there (what
    the score quantiles sample: stage two does not change a row's values, only their order).
    The query itself and non-candidates get -inf; existing partners are not masked here.
    """
    from matcher import refine

    queries = np.asarray(queries, dtype=np.int64)
    if signals is None:  # the folded float32 path (matcher.scorer), scattered to the columns
        from matcher import scorer

        if columns is not None:
            return scorer.block_scores(arrays, queries, columns).astype(np.float64)
        out = np.full((len(queries), arrays.n_cities), -np.inf)
        candidates = arrays.derived["prepared"].candidates
        out[:, candidates] = refine.refine_block(arrays, queries,
                                                 scorer.block_scores(arrays, queries))
        return out
    cols = np.arange(arrays.n_cities) if columns is None else np.asarray(columns, dtype=np.int64)
    scores = _combine_by_history(arrays, arrays.has_history(queries), signals)
    scores[:, ~arrays.candidate_mask[cols]] = -np.inf
    scores[queries[:, None] == cols[None, :]] = -np.inf
    if columns is None:  # stage two needs whole rows
        for i, query in enumerate(queries.tolist()):
            part = refine.part_for(arrays, query)
            if part is not None:
                refine.refine_from_signals(part, scores[i],
                                           {name: values[i] for name, values in signals.items()},
                                           arrays.partners(query))
    return scores


def reverse_score_vector(arrays: ScoringArrays, query: int,
                         among: np.ndarray | None = None) -> np.ndarray:
    """s(j -> query) for every city j, or for `among`: how strongly each would want `query`."""
    rows = np.arange(arrays.n_cities) if among is None else np.asarray(among, dtype=np.int64)
    signals = reverse_signals(arrays, query, among)
    scores = _combine_by_history(arrays, arrays.has_history(rows), signals)
    scores[rows == query] = -np.inf
    if not arrays.candidate_mask[query]:
        scores[:] = -np.inf
    return scores


def sigmoid(values: np.ndarray) -> np.ndarray:
    """The logistic link, safe for large magnitudes and -inf."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(values, dtype=np.float64)))
