"""Per-model state the fast scorer reuses: re-ranker weights per city, one query's graph rows,
per-country columns and the candidates' column arrays, each built on first use.

One query's graph rows are sums of CSR rows (np.bincount), not sparse products: a query touches
a handful of rows, and scipy's per-call overhead would cost more than the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import numpy as np

from matcher.csr import CSR
from matcher.signals import linear_weights, user_moments
from matcher.signaltable import QUERY_VALUE_SIGNALS, SIGNALS

if TYPE_CHECKING:
    import scipy.sparse as sp



@dataclass(frozen=True)
class Plan:
    """One re-ranker part as raw-signal weights: logit = offset + sum(weight * signal)."""

    weights: dict[str, float]
    offset: float

    @classmethod
    def of(cls, part: dict) -> Plan:
        names, weights, offset = linear_weights(part)
        return cls(dict(zip(names, weights.tolist(), strict=True)), offset)

    def weight(self, name: str) -> float:
        return self.weights.get(name, 0.0)


@dataclass(frozen=True)
class ReverseSide:
    """s(j -> query) = const_j + scale_j * (u_j . v_query + b_query) + sum over `names` of
    weights[kind_j] * signal: each city j's own numbers are a row of `table` (columns named by
    `row`), so a shortlist's are one gather; the signal weights depend on j's kind only (0 warm,
    1 cold)."""

    names: list[str]  # the signals either kind weighs, LightFM and the query's own aside
    weights: np.ndarray  # (2, len(names))
    row: dict[str, int]
    table: np.ndarray  # (n, len(row)) float64
    query_terms: dict[str, np.ndarray]  # (2,) weights of the query's log degree, population


class Prepared:
    """Per-model arrays the fast path reuses across calls, each built on first use."""

    def __init__(self, arrays) -> None:
        self.arrays = arrays
        self.right: dict[tuple[float, float], tuple] = {}  # item side of the product
        self._graph_cache: tuple[int, dict] | None = None
        self._reverse_cache: tuple[dict, ReverseSide] | None = None
        self._plans_cache: tuple[dict, tuple[list[str], np.ndarray, np.ndarray]] | None = None
        self._in_country: dict[int, np.ndarray] = {}
        self._in_country_candidates: dict[int, np.ndarray] = {}
        self._candidate_side: dict[str, np.ndarray] | None = None
        self._near_country: dict[int, np.ndarray] = {}
        self._admin1_rows: dict[int, np.ndarray] = {}

    @cached_property
    def candidates(self) -> np.ndarray:
        return np.flatnonzero(self.arrays.candidate_mask)

    def graph_rows(self, query: int) -> dict:
        """log(1 + value) of the five graph signals in the query's row, dense (n,), plus the
        query's partner counts per country ("own_countries") and its neighbours' ("near_
        countries"), raw, the cells any of the five may be non-zero at ("cells", None when
        they are many) and the names of the rows that are zero ("empty"). Sums of CSR rows
        with bincount (no sparse objects: one query is a handful of rows). The last query's
        rows are kept (read forward and reverse)."""
        cached = self._graph_cache  # one (query, rows) tuple: threads never see a mixed pair
        if cached is None or cached[0] != query:
            cached = (query, self._single_rows(query))
            self._graph_cache = cached
        return cached[1]

    def _single_rows(self, query: int) -> dict:
        binary, geo = self.arrays.binary, self.arrays.geo
        n, countries = self.arrays.n_cities, self.arrays.n_countries
        partners = binary.row(query)
        degree = self.arrays.degree
        inverse_log = np.zeros(len(partners))
        hub = degree[partners] > 1
        inverse_log[hub] = 1.0 / np.log(degree[partners][hub])
        neighbours, closeness = geo.row(query), geo.row_values(query)
        scale = self.degree_scale
        # S = D^-1/2 B D^-1/2, so S[i, j] = scale_i scale_j B[i, j]
        two_hop = sum_rows(binary, partners, scale[query] * scale[partners] ** 2, n)
        two_hop.scale(scale)
        near_partners = sum_rows(binary, neighbours, closeness, n)
        reached = two_hop.nonzero()
        three_hop = sum_rows(binary, reached, two_hop.values[reached] * scale[reached], n)
        three_hop.scale(scale)
        three_hop.scale(10.0)
        near_rows = near_partners.nonzero()
        raw = {
            "adamic_adar": sum_rows(binary, partners, inverse_log, n),
            "geo_cf": near_partners,
            "partner_geo": sum_rows(geo, partners, np.ones(len(partners)), n),
            "three_hop": three_hop,
            "region_pair": sum_rows(geo, near_rows, near_partners.values[near_rows], n),
        }
        country_index = self.arrays.country_index
        rows = {"own_countries": np.bincount(country_index[partners], minlength=countries),
                "near_countries": np.bincount(country_index[near_rows],
                                              weights=near_partners.values[near_rows],
                                              minlength=countries)}
        for name, summed in raw.items():  # in place: log1p(0) is 0
            rows[name] = summed.log1p()
        rows["empty"] = {name for name, summed in raw.items() if not len(summed.touched)}
        touched = [summed.touched for summed in raw.values()]
        rows["cells"] = touched_cells(n, *touched) \
            if sum(map(len, touched)) * 8 <= n else None  # where any row may be non-zero
        return rows

    def reverse_side(self, rerank: dict) -> ReverseSide:
        """Every city's part of the reverse sum as the asking side (see ReverseSide), kept per
        re-ranker."""
        cached = self._reverse_cache  # one (re-ranker, side) tuple, as above
        if cached is None or cached[0] is not rerank:
            cached = (rerank, self._reverse_side(rerank))
            self._reverse_cache = cached
        return cached[1]

    def _reverse_side(self, rerank: dict) -> ReverseSide:
        arrays = self.arrays
        names, table, offsets = self.plans(rerank)
        weights = dict(zip(names, table.T, strict=True))
        kind = np.where(arrays.has_history(np.arange(arrays.n_cities)), 0, 1)
        mean, spread = user_moments(arrays, np.arange(arrays.n_cities))
        scale = weights.get("lightfm", np.zeros(2))[kind] / spread
        lat_rows, _, lon_rows, _ = self.trig
        own = {"lightfm_const": offsets[kind] - scale * mean, "lightfm_scale": scale,
               "lat_0": lat_rows[:, 0], "lat_1": lat_rows[:, 1], "lon_0": lon_rows[:, 0],
               "lon_1": lon_rows[:, 1], "log_population": arrays.log_population,
               "is_capital": arrays.is_capital, "cold": kind, "mean": mean, "spread": spread,
               "country": arrays.country_index, "admin1": arrays.admin1}
        used = [name for name in SIGNALS if name in weights and np.any(weights[name])
                and name not in QUERY_VALUE_SIGNALS]  # the query's own
        by_kind = np.array([weights[name] for name in used], dtype=np.float64).reshape(-1, 2)
        return ReverseSide(used, by_kind.T.copy(),
                           {name: i for i, name in enumerate(own)},
                           np.array(list(own.values()), dtype=np.float64).T.copy(),
                           {name: weights.get(name, np.zeros(2))
                            for name in ("log_degree", "log_population")})

    def plans(self, rerank: dict) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(signal names, (2, names) weights, (2,) offsets), row 0 warm, row 1 cold: the
        re-ranker's parts folded once per re-ranker, not on every query."""
        cached = self._plans_cache  # one (re-ranker, plans) tuple, as above
        if cached is None or cached[0] is not rerank:
            plans = [Plan.of(rerank[kind]) for kind in ("warm", "cold")]
            names = sorted(set(plans[0].weights) | set(plans[1].weights))
            table = np.array([[plan.weight(name) for name in names] for plan in plans])
            cached = (rerank, (names, table, np.array([plan.offset for plan in plans])))
            self._plans_cache = cached
        return cached[1]

    def partners_in(self, country: int) -> np.ndarray:
        """How many partners each city has in `country`, (n,) float64 (a count over the graph's
        entries, not a sparse product: a fresh process needs one country)."""
        binary = self.arrays.binary
        in_country = self.partner_countries == country
        return np.bincount(binary.row_of_entry[in_country], minlength=binary.shape[0]) \
            .astype(np.float64)

    @cached_property
    def partner_countries(self) -> np.ndarray:
        """The country of each entry's partner in the graph, (nnz,)."""
        return self.arrays.country_index[self.arrays.graph.indices]

    def admin1_row(self, region: int) -> np.ndarray:
        """log(1 + partnerships between `region` and each first-level region), (regions,),
        kept per region: the admin1_pair signal of a query in `region` (a count over the
        graph's entries, as partners_in)."""
        if region not in self._admin1_rows:
            from_admin1, to_admin1 = self.entry_admin1
            counts = np.bincount(to_admin1[from_admin1 == region],
                                 minlength=self.arrays.n_admin1)
            self._admin1_rows[region] = np.log1p(counts.astype(np.float64))
        return self._admin1_rows[region]

    @cached_property
    def entry_admin1(self) -> tuple[np.ndarray, np.ndarray]:
        """The first-level regions of each graph entry's two cities, (nnz,) each (as
        partner_countries, once per model rather than per region)."""
        admin1, graph = self.arrays.admin1, self.arrays.graph
        return admin1[graph.row_of_entry], admin1[graph.indices]

    def admin1_rows(self, queries: np.ndarray) -> np.ndarray:
        """(q, regions): admin1_row of each query's region."""
        regions = self.arrays.admin1[queries]
        return np.stack([self.admin1_row(int(region)) for region in regions.tolist()]) \
            if len(regions) else np.zeros((0, self.arrays.n_admin1))

    @cached_property
    def admin1_country(self) -> np.ndarray:
        """The country of each first-level region, (regions,)."""
        out = np.zeros(self.arrays.n_admin1, dtype=np.int64)
        out[self.arrays.admin1] = self.arrays.country_index
        return out

    @cached_property
    def candidate_admin1(self) -> np.ndarray:
        return self.arrays.admin1[self.candidates]

    def admin1_at(self, cols: np.ndarray) -> np.ndarray:
        """The first-level region of each of `cols` (the candidates' kept)."""
        return self.candidate_admin1 if cols is self.candidates else \
            self.arrays.admin1[cols]

    def in_country(self, country: int) -> np.ndarray:
        """log(1 + partners each city has in `country`), (n,), kept per country."""
        if country not in self._in_country:
            self._in_country[country] = np.log1p(self.partners_in(country))
        return self._in_country[country]

    def in_country_at(self, country: int, cols: np.ndarray) -> np.ndarray:
        """in_country(country)[cols], kept per country for the candidates."""
        if cols is not self.candidates:
            return self.in_country(country)[cols]
        if country not in self._in_country_candidates:
            self._in_country_candidates[country] = self.in_country(country)[cols]
        return self._in_country_candidates[country]

    def countries_at(self, cols: np.ndarray) -> np.ndarray:
        """The country of each of `cols` (the candidates' kept)."""
        return self.candidate_countries if cols is self.candidates else \
            self.arrays.country_index[cols]

    def near_country(self, country: int) -> np.ndarray:
        """log(1 + partners each city's geographic neighbours have in `country`), (n,), kept
        per country (a product with the whole neighbour kernel)."""
        if country not in self._near_country:
            counts = self.partners_in(country)
            holders = np.flatnonzero(counts)
            # geo is symmetric, so geo @ counts is the sum of the holders' rows: a few hundred
            # rows, not all 1.7M entries, added in the order a row-wise product adds them
            near = sum_rows(self.arrays.geo, holders, counts[holders], self.arrays.n_cities)
            self._near_country[country] = np.log1p(near.values)
        return self._near_country[country]

    def column_side(self, cols: np.ndarray | None) -> dict[str, np.ndarray]:
        """The column halves of the pair terms for `cols` (None: the candidates, kept)."""
        if cols is None and self._candidate_side is not None:
            return self._candidate_side
        rows = self.candidates if cols is None else cols
        _, lat_cols, _, lon_cols = self.trig
        side = {"lat": np.ascontiguousarray(lat_cols[rows].T),
                "lon": np.ascontiguousarray(lon_cols[rows].T),
                "log_population": self.arrays.log_population[rows],
                "is_capital": self.arrays.is_capital[rows]}
        if cols is None:
            self._candidate_side = side
        return side

    @cached_property
    def positions(self) -> np.ndarray:
        """Each city's position among the candidates (-1 for the others)."""
        return positions_in(self.arrays.n_cities, self.candidates)

    @cached_property
    def candidate_countries(self) -> np.ndarray:
        return self.arrays.country_index[self.candidates]

    def items_at(self, rows: np.ndarray | int) -> np.ndarray:
        """(len(rows), d + 1) float64 item vectors and biases (one row: (d + 1,))."""
        arrays = self.arrays
        if np.ndim(rows) == 0:
            return np.append(arrays.item_embeddings[rows], arrays.item_biases[rows]) \
                .astype(np.float64)
        return np.hstack([arrays.item_embeddings[rows], arrays.item_biases[rows, None]]) \
            .astype(np.float64)

    @cached_property
    def candidate_items(self) -> np.ndarray:
        return self.items_at(self.candidates)

    @cached_property
    def trig(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Half-angle terms for the haversine as two bilinear forms (see `_log_distance`)."""
        lat = self.arrays.lat_rad
        lon = self.arrays.lon_rad
        root_cos = np.sqrt(np.maximum(np.cos(lat), 0.0))
        lat_rows = np.stack([np.cos(lat / 2), -np.sin(lat / 2)], axis=1)
        lat_cols = np.stack([np.sin(lat / 2), np.cos(lat / 2)], axis=1)
        lon_rows = root_cos[:, None] * np.stack([np.cos(lon / 2), -np.sin(lon / 2)], axis=1)
        lon_cols = root_cos[:, None] * np.stack([np.sin(lon / 2), np.cos(lon / 2)], axis=1)
        return lat_rows, lat_cols, lon_rows, lon_cols

    @cached_property
    def partners_by_country_rows(self) -> sp.csr_matrix:
        import scipy.sparse as sp

        return sp.csr_matrix(self.arrays.partners_by_country)

    @cached_property
    def kernel_graphs(self) -> tuple[np.ndarray, ...]:
        """(indptr, indices, data) of B, B scaled by 1 / log(degree), S and G, int64 and
        float64: what the compiled graph kernels read (matcher.fusedgraph)."""
        arrays = self.arrays
        return tuple(part for matrix in (arrays.binary, arrays.weighted_binary, arrays.symmetric,
                                         arrays.geo)
                     for part in (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64),
                                  matrix.data.astype(np.float64)))

    @cached_property
    def degree_scale(self) -> np.ndarray:
        """1 / sqrt(degree), 1 for cities without partners: the walks' normalisation."""
        return 1.0 / np.sqrt(np.maximum(self.arrays.degree, 1.0))

    @cached_property
    def log_degree(self) -> np.ndarray:
        return np.log1p(self.arrays.degree)

    @cached_property
    def log_country_pairs(self) -> np.ndarray:
        return np.log1p(self.arrays.country_pairs)


def prepared(arrays) -> Prepared:
    if arrays.fast is None:
        arrays.fast = Prepared(arrays)
    return arrays.fast


def query_weights(arrays, queries: np.ndarray,
                   rerank: dict) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each query's weight per signal and offset: the warm part for cities with history."""
    names, table, offsets = prepared(arrays).plans(rerank)
    kind = np.where(arrays.has_history(queries), 0, 1)
    columns = np.ascontiguousarray(table[kind].T)  # one row per signal, one value per query
    return dict(zip(names, columns, strict=True)), offsets[kind]


def positions_in(n_cities: int, cols: np.ndarray) -> np.ndarray:
    """Each city's position among `cols` (-1 when absent)."""
    position = np.full(n_cities, -1, dtype=np.int64)
    position[cols] = np.arange(len(cols))
    return position


@dataclass
class RowSum:
    """A dense (n,) sum of sparse rows and the cells it touched (with repeats): the non-zero
    cells are among them, so a short list of touched cells spares scans of all n."""

    values: np.ndarray
    touched: np.ndarray

    def nonzero(self) -> np.ndarray:
        """Ascending rows of the non-zero values (np.flatnonzero's, from the touched cells:
        untouched ones stay 0)."""
        cells = touched_cells(len(self.values), self.touched)
        return cells[self.values[cells] != 0]

    def scale(self, by: np.ndarray | float) -> None:
        """values *= by, in place (nothing to do when no cell was touched)."""
        if len(self.touched):
            self.values *= by

    def log1p(self) -> np.ndarray:
        """log(1 + values) in place; untouched cells stay 0."""
        if not len(self.touched):
            return self.values
        if len(self.touched) * 8 > len(self.values):
            return np.log1p(self.values, out=self.values)
        self.values[self.touched] = np.log1p(self.values[self.touched])
        return self.values


def touched_cells(n: int, *touched: np.ndarray) -> np.ndarray:
    """The distinct cells of the `touched` lists, ascending (np.unique's answer): marked in an
    (n,) mask and read back, which beats unique's sort or hash from a few hundred cells on."""
    mark = np.zeros(n, dtype=bool)
    for cells in touched:
        mark[cells] = True
    return np.flatnonzero(mark)


@lru_cache(maxsize=4)
def _zeros(n: int) -> np.ndarray:
    """One read-only (n,) zero row shared by every empty sum (a fresh one costs page faults)."""
    zeros = np.zeros(n)
    zeros.flags.writeable = False
    return zeros


def sum_rows(matrix: CSR, rows: np.ndarray, weights: np.ndarray, n: int) -> RowSum:
    """sum_i weights[i] * matrix[rows[i]] as a dense (n,) vector, with the cells touched."""
    if not len(rows):
        return RowSum(_zeros(n), np.empty(0, dtype=np.int64))
    positions, lengths = matrix.entries(rows)
    values = matrix.data[positions] * np.repeat(weights, lengths)
    touched = matrix.indices[positions]
    summed = np.bincount(touched, weights=values, minlength=n).astype(np.float64, copy=False)
    return RowSum(summed, touched)  # float even when no cell was touched (bincount: int)
