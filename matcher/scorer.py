"""Fast scores: the re-ranker's logit without materialising the sixteen signal arrays.

`signals.combine(signal_matrices(...))` is the reference: sixteen dense (q, c) float64 arrays,
then a weighted sum. Here the same sum is folded so that a block of queries costs a few passes
over one float32 (q, c) array: LightFM and every candidate-only term are one matrix product, the
country terms one gather, the graph terms one sparse scatter, and the haversine distance two
rank-2 products. Serving, batch ranking and the score quantiles all call `block_scores`; tests
hold it equal to the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from matcher.signals import EARTH_RADIUS_KM, SIGNALS, lightfm_moments

# Sums run in float64 and are rounded to float32 at the end: paths that add the same terms in
# another order (a block, one row, the reverse gathers) then give the same bits but for values
# within 1e-16 of a float32 rounding boundary, so batch and one-at-a-time lists agree.
DTYPE = np.float64
OUT_DTYPE = np.float32
_LOCAL = ("country_affinity", "region_country", "country_pair", "same_country")
_GRAPH = ("adamic_adar", "geo_cf", "partner_geo", "three_hop", "region_pair")



@dataclass(frozen=True)
class Plan:
    """One re-ranker part as raw-signal weights: logit = offset + sum(weight * signal)."""

    weights: dict[str, float]
    offset: float

    @classmethod
    def of(cls, part: dict) -> Plan:
        names = list(part["signals"])
        weights = np.asarray(part["coef"], dtype=np.float64) / np.asarray(part["scale"],
                                                                           dtype=np.float64)
        offset = float(part["intercept"]) - float(np.dot(weights, np.asarray(part["mean"],
                                                                             dtype=np.float64)))
        return cls(dict(zip(names, weights.tolist(), strict=True)), offset)

    def weight(self, name: str) -> float:
        return self.weights.get(name, 0.0)


class Prepared:
    """Per-model arrays the fast path reuses across calls, each built on first use."""

    def __init__(self, arrays) -> None:
        self.arrays = arrays
        self.right: dict[tuple[float, float], np.ndarray] = {}  # item side of the product
        self._graph_query: int | None = None
        self._graph_rows: dict[str, np.ndarray] = {}
        self._weights_for: dict | None = None
        self._weights: dict[str, np.ndarray] = {}
        self._in_country: dict[int, np.ndarray] = {}
        self._candidate_side: dict[str, np.ndarray] | None = None
        self._near_country: dict[int, np.ndarray] = {}

    @cached_property
    def candidates(self) -> np.ndarray:
        return np.flatnonzero(self.arrays.candidate_mask)

    def graph_rows(self, query: int) -> dict[str, np.ndarray]:
        """log(1 + value) of the five graph signals in the query's row, dense (n,), plus the
        query's partner counts per country ("own_countries") and its neighbours' ("near_
        countries"), raw. Sums of CSR rows with bincount (no sparse objects: one query is a
        handful of rows). The last query's rows are kept (read forward and reverse)."""
        if self._graph_query != query:
            self._graph_rows = self._single_rows(query)
            self._graph_query = query
        return self._graph_rows

    def _single_rows(self, query: int) -> dict[str, np.ndarray]:
        derived = self.arrays.derived
        binary, geo = derived["binary"], self.arrays.geo
        n, countries = self.arrays.n_cities, derived["membership"].shape[1]
        partners = _indices(binary, query)
        degree = derived["degree"]
        inverse_log = np.zeros(len(partners))
        hub = degree[partners] > 1
        inverse_log[hub] = 1.0 / np.log(degree[partners][hub])
        neighbours, closeness = _indices(geo, query), _data(geo, query)
        scale = 1.0 / np.sqrt(np.maximum(degree, 1.0))
        # S = D^-1/2 B D^-1/2, so S[i, j] = scale_i scale_j B[i, j]
        two_hop = _sum_rows(binary, partners, scale[query] * scale[partners] ** 2, n) * scale
        near_partners = _sum_rows(binary, neighbours, closeness, n)
        reached = np.flatnonzero(two_hop)
        three_hop = _sum_rows(binary, reached, two_hop[reached] * scale[reached], n) * scale
        raw = {
            "adamic_adar": _sum_rows(binary, partners, inverse_log, n),
            "geo_cf": near_partners,
            "partner_geo": _sum_rows(geo, partners, np.ones(len(partners)), n),
            "three_hop": 10.0 * three_hop,
            "region_pair": _sum_rows(geo, np.flatnonzero(near_partners),
                                     near_partners[near_partners != 0], n),
        }
        country_index = self.arrays.country_index
        reached = np.flatnonzero(near_partners)
        rows = {"own_countries": np.bincount(country_index[partners], minlength=countries),
                "near_countries": np.bincount(country_index[reached],
                                              weights=near_partners[reached],
                                              minlength=countries)}
        for name, values in raw.items():  # in place: only the non-zero cells need the log
            touched = np.flatnonzero(values)
            values[touched] = np.log1p(values[touched])
            rows[name] = values
        return rows

    def row_weights(self, rerank: dict) -> dict[str, np.ndarray]:
        """Every city's weight per signal (n,) as the asking side, its part chosen by history,
        plus the LightFM term folded: const + scale * (u . v + b). Kept per re-ranker."""
        if self._weights_for is not rerank:
            rows = np.arange(self.arrays.n_cities)
            weights, offset = _query_weights(self.arrays, rows, rerank)
            out = {name: weights.get(name, np.zeros(len(rows))) for name in SIGNALS}
            mean, spread = _user_moments(self.arrays, rows)
            out["lightfm_scale"] = out["lightfm"] / spread
            out["lightfm_const"] = offset - out["lightfm_scale"] * mean
            self._weights, self._weights_for = out, rerank
        return self._weights

    def in_country(self, country: int) -> np.ndarray:
        """log(1 + partners each city has in `country`), (n,), kept per country."""
        if country not in self._in_country:
            column = self.arrays.derived["partners_by_country"][:, country].toarray().ravel()
            self._in_country[country] = np.log1p(column)
        return self._in_country[country]

    def near_country(self, country: int) -> np.ndarray:
        """log(1 + partners each city's geographic neighbours have in `country`), (n,), kept
        per country (a product with the whole neighbour kernel)."""
        if country not in self._near_country:
            column = self.arrays.derived["partners_by_country"][:, country].toarray().ravel()
            self._near_country[country] = np.log1p(self.arrays.geo @ column)
        return self._near_country[country]

    def column_side(self, cols: np.ndarray | None) -> dict[str, np.ndarray]:
        """The column halves of the pair terms for `cols` (None: the candidates, kept)."""
        if cols is None and self._candidate_side is not None:
            return self._candidate_side
        rows = self.candidates if cols is None else cols
        _, lat_cols, _, lon_cols = self.trig
        side = {"lat": np.ascontiguousarray(lat_cols[rows].T),
                "lon": np.ascontiguousarray(lon_cols[rows].T),
                "log_population": self.arrays.derived["log_population"][rows],
                "is_capital": self.arrays.is_capital[rows]}
        if cols is None:
            self._candidate_side = side
        return side

    @cached_property
    def positions(self) -> np.ndarray:
        """Each city's position among the candidates (-1 for the others)."""
        return _positions(self.arrays.n_cities, self.candidates)

    @cached_property
    def candidate_countries(self) -> np.ndarray:
        return self.arrays.country_index[self.candidates]

    @cached_property
    def items(self) -> np.ndarray:
        """(n, d + 1) float32: item vector and item bias."""
        arrays = self.arrays
        return np.hstack([arrays.item_embeddings, arrays.item_biases[:, None]]).astype(DTYPE)

    @cached_property
    def candidate_items(self) -> np.ndarray:
        return np.ascontiguousarray(self.items[self.candidates])

    @cached_property
    def trig(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Half-angle terms for the haversine as two bilinear forms (see `_log_distance`)."""
        lat = self.arrays.derived["lat_rad"]
        lon = self.arrays.derived["lon_rad"]
        root_cos = np.sqrt(np.maximum(np.cos(lat), 0.0))
        lat_rows = np.stack([np.cos(lat / 2), -np.sin(lat / 2)], axis=1)
        lat_cols = np.stack([np.sin(lat / 2), np.cos(lat / 2)], axis=1)
        lon_rows = root_cos[:, None] * np.stack([np.cos(lon / 2), -np.sin(lon / 2)], axis=1)
        lon_cols = root_cos[:, None] * np.stack([np.sin(lon / 2), np.cos(lon / 2)], axis=1)
        return lat_rows, lat_cols, lon_rows, lon_cols

    @cached_property
    def partners_by_country_rows(self) -> sp.csr_matrix:
        return sp.csr_matrix(self.arrays.derived["partners_by_country"])

    @cached_property
    def log_degree(self) -> np.ndarray:
        return np.log1p(self.arrays.derived["degree"])

    @cached_property
    def log_country_pairs(self) -> np.ndarray:
        return np.log1p(self.arrays.derived["country_pairs"])


def _user_moments(arrays, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each row's LightFM scores over the candidates (signals._moments)."""
    if "user_moments" in arrays.derived:  # every city's, stored with the model
        mean, spread = arrays.derived["user_moments"]
        return mean[rows], spread[rows]
    return lightfm_moments(arrays, arrays.user_embeddings[rows])


def prepared(arrays) -> Prepared:
    return arrays.derived["prepared"]


def _query_weights(arrays, queries: np.ndarray,
                   rerank: dict) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each query's weight per signal and offset: the warm part for cities with history."""
    warm = arrays.has_history(queries)
    plans = {kind: Plan.of(part) for kind, part in rerank.items()}
    names = set(plans["warm"].weights) | set(plans["cold"].weights)
    weights = {name: np.where(warm, plans["warm"].weight(name), plans["cold"].weight(name))
               for name in names}
    offset = np.where(warm, plans["warm"].offset, plans["cold"].offset)
    return weights, offset


def block_scores(arrays, queries: np.ndarray, columns: np.ndarray | None = None,
                 rerank: dict | None = None) -> np.ndarray:
    """Re-ranker logits (q, c), float32, for queries against `columns` (default: the candidates,
    in row order). The query itself and non-candidates get -inf; partners are not masked."""
    queries = np.asarray(queries, dtype=np.int64)
    ready = prepared(arrays)
    default = columns is None
    cols = ready.candidates if default else np.asarray(columns, dtype=np.int64)
    weights, offset = _query_weights(arrays, queries, rerank or arrays.rerank)
    get = weights.get
    derived = arrays.derived
    zeros = np.zeros(len(queries))

    # LightFM, standardised per query, plus every term that depends on the column alone.
    mean, spread = _user_moments(arrays, queries)
    scale = get("lightfm", zeros) / spread
    users = np.hstack([arrays.user_embeddings[queries] * scale[:, None], scale[:, None],
                       np.ones((len(queries), 1)), (offset - mean * scale)[:, None]])
    items = ready.candidate_items if default else ready.items[cols]
    log_population = derived["log_population"]
    warm = arrays.has_history(queries)
    out = np.empty((len(queries), len(cols)), dtype=DTYPE)
    # The column-only weights differ between the warm and cold parts: one product for each.
    for kind_rows in (np.flatnonzero(warm), np.flatnonzero(~warm)):
        if not len(kind_rows):
            continue
        first = kind_rows[0]
        key = (float(get("log_degree", zeros)[first]), float(get("log_population", zeros)[first]))
        right = ready.right.get(key) if default else None
        if right is None:
            column_terms = np.stack([key[0] * ready.log_degree[cols]
                                     + key[1] * log_population[cols], np.ones(len(cols))],
                                    axis=1).astype(DTYPE)
            right = np.hstack([items, column_terms]).T
            if default:
                ready.right[key] = right
        left = users[kind_rows].astype(DTYPE)
        if len(kind_rows) == len(queries):
            np.matmul(left, right, out=out)
        else:
            out[kind_rows] = left @ right

    _add_country_terms(out, arrays, queries, cols, get, zeros)
    _add_pair_terms(out, arrays, ready, queries, cols if not default else None, get, zeros)
    _add_graph_terms(out, arrays, queries, cols, get, zeros)

    if not default:
        out[:, ~arrays.candidate_mask[cols]] = -np.inf
    position = (ready.positions if default else _positions(arrays.n_cities, cols))[queries]
    inside = np.flatnonzero(position >= 0)
    out[inside, position[inside]] = -np.inf
    return out.astype(OUT_DTYPE)


def _positions(n_cities: int, cols: np.ndarray) -> np.ndarray:
    """Each city's position among `cols` (-1 when absent)."""
    position = np.full(n_cities, -1, dtype=np.int64)
    position[cols] = np.arange(len(cols))
    return position


def _indices(matrix: sp.csr_matrix, row: int) -> np.ndarray:
    return matrix.indices[matrix.indptr[row]:matrix.indptr[row + 1]]


def _data(matrix: sp.csr_matrix, row: int) -> np.ndarray:
    return matrix.data[matrix.indptr[row]:matrix.indptr[row + 1]]


def _sum_rows(matrix: sp.csr_matrix, rows: np.ndarray, weights: np.ndarray,
              n: int) -> np.ndarray:
    """sum_i weights[i] * matrix[rows[i]] as a dense (n,) vector."""
    if not len(rows):
        return np.zeros(n)
    starts, stops = matrix.indptr[rows], matrix.indptr[rows + 1]
    lengths = stops - starts
    positions = np.repeat(stops - lengths.cumsum(), lengths) + np.arange(lengths.sum())
    values = matrix.data[positions] * np.repeat(weights, lengths)
    return np.bincount(matrix.indices[positions], weights=values, minlength=n)


def _add_country_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray, get,
                       zeros: np.ndarray) -> None:
    """Terms that depend on the query and the candidate's country, or the query's country and
    the candidate: one (q, countries) table gathered by column country, one row gather."""
    derived = arrays.derived
    membership = derived["membership"]
    query_countries = arrays.country_index[queries]
    single = prepared(arrays).graph_rows(int(queries[0])) if len(queries) == 1 else None
    own = single["own_countries"][None, :] if single is not None else \
        prepared(arrays).partners_by_country_rows[queries].toarray()
    table = get("country_affinity", zeros)[:, None] * np.log1p(own)
    if np.any(get("region_country", zeros)):
        neighbours = single["near_countries"][None, :] if single is not None else \
            (arrays.geo[queries] @ derived["binary"] @ membership).toarray()
        table += get("region_country", zeros)[:, None] * np.log1p(neighbours)
    table += get("country_pair", zeros)[:, None] * prepared(arrays).log_country_pairs[
        query_countries]
    table[np.arange(len(queries)), query_countries] += get("same_country", zeros)
    out += np.take(table.astype(DTYPE), arrays.country_index[cols], axis=1)
    affinity = get("candidate_affinity", zeros)
    if np.any(affinity):
        unique, inverse = np.unique(query_countries, return_inverse=True)
        ready = prepared(arrays)
        columns = np.stack([ready.in_country(int(country))[cols] for country in unique])
        scratch = np.take(columns, inverse, axis=0)
        scratch *= affinity[:, None].astype(DTYPE)
        out += scratch


def _add_pair_terms(out: np.ndarray, arrays, ready: Prepared, queries: np.ndarray,
                    cols: np.ndarray | None, get, zeros: np.ndarray) -> None:
    """Size gap, distance and capitals: functions of both cities' own attributes (`cols`
    None: the candidates, whose column arrays are kept)."""
    log_population = arrays.derived["log_population"]
    column_side = ready.column_side(cols)
    scratch = np.subtract(column_side["log_population"][None, :],
                          log_population[queries][:, None])
    np.abs(scratch, out=scratch)
    scratch *= get("size_gap", zeros).astype(DTYPE)[:, None]
    out += scratch
    weight = get("log_distance", zeros)
    if np.any(weight):
        _log_distance(ready, queries, column_side, scratch)
        scratch *= weight.astype(DTYPE)[:, None]
        out += scratch
    capital = get("both_capital", zeros)
    capital_rows = np.flatnonzero(arrays.is_capital[queries] & (capital != 0))
    if len(capital_rows):
        capital_cols = np.flatnonzero(column_side["is_capital"])
        out[np.ix_(capital_rows, capital_cols)] += capital[capital_rows, None].astype(DTYPE)


def _log_distance(ready: Prepared, queries: np.ndarray, column_side: dict[str, np.ndarray],
                  out: np.ndarray) -> None:
    """log(1 + great-circle km) into `out`, exact haversine without per-pair trigonometry:
    sin(dlat/2) and sqrt(cos lat1 cos lat2) sin(dlon/2) are both rank-2 bilinear forms, so
    two (q, 2) x (2, c) products give them with no cancellation for nearby cities."""
    lat_rows, _, lon_rows, _ = ready.trig
    np.matmul(lat_rows[queries], column_side["lat"], out=out)
    np.multiply(out, out, out=out)
    lon_part = lon_rows[queries] @ column_side["lon"]
    np.multiply(lon_part, lon_part, out=lon_part)
    out += lon_part
    np.minimum(out, 1.0, out=out)
    np.sqrt(out, out=out)
    np.arcsin(out, out=out)
    out *= DTYPE(2.0 * EARTH_RADIUS_KM)
    np.log1p(out, out=out)


def _graph_products(arrays, rows: np.ndarray, names: set[str]) -> dict[str, sp.csr_matrix]:
    """log(1 + value) of each wanted graph signal for `rows` against every city, sparse."""
    derived = arrays.derived
    binary = derived["binary"]
    binary_rows = binary[rows]
    neighbours_partners = arrays.geo[rows] @ binary if names & {"geo_cf", "region_pair"} \
        else None
    symmetric = derived["symmetric"]
    products = {
        "adamic_adar": lambda: binary_rows @ derived["weighted_binary"],
        "geo_cf": lambda: neighbours_partners,
        "partner_geo": lambda: binary_rows @ arrays.geo,
        "three_hop": lambda: 10.0 * (symmetric[rows] @ symmetric @ symmetric),
        "region_pair": lambda: neighbours_partners @ arrays.geo,
    }
    out = {}
    for name in names:
        matrix = sp.csr_matrix(products[name]())
        matrix.data = np.log1p(matrix.data)
        out[name] = matrix
    return out


# The graph signals' matrices are symmetric, except geo_cf = G B whose transpose is partner_geo
# = B G: a column's values are the other signal's row. Few columns are scored from their rows.
_TRANSPOSED = {"adamic_adar": "adamic_adar", "three_hop": "three_hop",
               "region_pair": "region_pair", "geo_cf": "partner_geo", "partner_geo": "geo_cf"}


def _add_graph_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray, get,
                     zeros: np.ndarray) -> None:
    """The sparse graph signals, summed as sparse rows, then added where they are non-zero."""
    names = {name for name in _GRAPH if np.any(get(name, zeros))}
    if not names:
        return
    if len(queries) == 1:
        rows = prepared(arrays).graph_rows(int(queries[0]))
        total = sum(float(get(name, zeros)[0]) * rows[name][cols] for name in names)
        out[0] += total.astype(DTYPE)
        return
    if len(cols) < len(queries):
        products = _graph_products(arrays, cols, {_TRANSPOSED[name] for name in names})
        for name in names:
            values = products[_TRANSPOSED[name]][:, queries].toarray().T
            out += (get(name, zeros)[:, None] * values).astype(DTYPE)
        return
    total = None
    for name, matrix in _graph_products(arrays, queries, names).items():
        matrix = sp.csr_matrix(matrix.multiply(get(name, zeros)[:, None]))
        total = matrix if total is None else total + matrix
    if total is None or not total.nnz:
        return
    position = _positions(arrays.n_cities, cols)
    total = total.tocoo()
    where = position[total.col]
    keep = where >= 0
    out[total.row[keep], where[keep]] += total.data[keep].astype(DTYPE)


def reverse_scores(arrays, query: int, among: np.ndarray, rerank: dict | None = None,
                   cache: dict | None = None) -> np.ndarray:
    """s(j -> query) for each j in `among`, float32: the same sum as block_scores(among,
    [query]), read from the query's own rows (every graph matrix is symmetric or the transpose
    of another) and per-city weights, so a shortlist costs gathers, not one sparse product per
    row. `cache` keeps the query's rows between calls for the same query."""
    among = np.asarray(among, dtype=np.int64)
    ready = prepared(arrays)
    derived = arrays.derived
    weights = ready.row_weights(rerank or arrays.rerank)
    cache = {} if cache is None else cache
    query_country = int(arrays.country_index[query])
    if "rows" not in cache:
        rows = ready.graph_rows(query)
        cache["rows"] = [(weights[name], rows[_TRANSPOSED[name]]) for name in _GRAPH
                         if np.any(weights[name])]
        cache["own_partners"] = np.log1p(rows["own_countries"])
        cache["item"] = ready.items[query].astype(np.float64)
    lat_rows, lat_cols, lon_rows, lon_cols = ready.trig
    half = (lat_rows[among] @ lat_cols[query]) ** 2 + (lon_rows[among] @ lon_cols[query]) ** 2
    distance = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(half, 1.0)))
    among_countries = arrays.country_index[among]
    log_population = derived["log_population"]

    def weight(name: str) -> np.ndarray:
        return weights[name][among]

    item = cache["item"]
    lightfm = derived["user_float64"][among] @ item[:-1] + item[-1]
    total = weights["lightfm_const"][among] + weights["lightfm_scale"][among] * lightfm
    total += weight("log_degree") * ready.log_degree[query]
    total += weight("log_population") * log_population[query]
    total += weight("country_affinity") * ready.in_country(query_country)[among]
    if np.any(weights["region_country"]):
        total += weight("region_country") * ready.near_country(query_country)[among]
    total += weight("country_pair") * ready.log_country_pairs[among_countries, query_country]
    total += weight("same_country") * (among_countries == query_country)
    total += weight("candidate_affinity") * cache["own_partners"][among_countries]
    total += weight("size_gap") * np.abs(log_population[query] - log_population[among])
    total += weight("log_distance") * np.log1p(distance)
    total += weight("both_capital") * (arrays.is_capital[among] & arrays.is_capital[query])
    for row_weights, row in cache["rows"]:
        total += row_weights[among] * row[among]
    out = total.astype(OUT_DTYPE)
    out[among == query] = -np.inf
    if not arrays.candidate_mask[query]:
        out[:] = -np.inf
    return out
