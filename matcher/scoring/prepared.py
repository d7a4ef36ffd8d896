"""Per-model state the fast scorer reuses: re-ranker weights per city, one query's graph rows,
per-country columns and the candidates' column arrays, each built on first use.

One query's graph rows are sums of CSR rows (np.bincount), not sparse products: a query touches
a handful of rows, and scipy's per-call overhead would cost more than the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from matcher.scoring import walks
from matcher.scoring.rowsum import sum_rows, touched_cells
from matcher.scoring.signals import city_inputs, linear_weights, user_moments
from matcher.scoring.signaltable import (
    COLUMNS,
    PAIRWISE_INPUTS,
    QUERY_VALUE_SIGNALS,
    SIGNALS,
    WALKS,
)
from matcher.scoring.walks import NEIGHBOURS_PARTNERS

if TYPE_CHECKING:
    import scipy.sparse as sp



NEAR = "neighbours' partners"  # graph_rows' raw G B row, counted by country (near_countries)


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
    query_terms: dict[str, np.ndarray]  # (2,) weights of the query's COLUMN signals


class Prepared:
    """Per-model arrays the fast path reuses across calls, each built on first use."""

    def __init__(self, arrays) -> None:
        self.arrays = arrays
        self.right: dict[tuple[float, float], tuple] = {}  # item side of the product
        self._graph_cache: tuple[int, dict] | None = None
        self._reverse_cache: tuple[dict, ReverseSide] | None = None
        self._plans_cache: tuple[dict, tuple[list[str], np.ndarray, np.ndarray]] | None = None
        self._in_country: dict[int, np.ndarray] = {}
        self._in_country_candidates: dict[tuple[str, int], np.ndarray] = {}
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
        arrays = self.arrays
        n, countries = arrays.n_cities, arrays.n_countries
        partners = arrays.binary.row(query)
        raw = walks.row(arrays, query, {**WALKS, NEAR: NEIGHBOURS_PARTNERS})
        near_partners = raw.pop(NEAR)
        near_rows = near_partners.nonzero()
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
        own = {"lightfm_const": offsets[kind] - scale * mean, "lightfm_scale": scale,
               **{name: self.inputs[name] for name in PAIRWISE_INPUTS},
               "cold": kind, "mean": mean, "spread": spread,
               "country": arrays.country_index, "admin1": arrays.admin1}
        used = [name for name in SIGNALS if name in weights and np.any(weights[name])
                and name not in QUERY_VALUE_SIGNALS]  # the query's own
        by_kind = np.array([weights[name] for name in used], dtype=np.float64).reshape(-1, 2)
        return ReverseSide(used, by_kind.T.copy(),
                           {name: i for i, name in enumerate(own)},
                           np.array(list(own.values()), dtype=np.float64).T.copy(),
                           {name: weights.get(name, np.zeros(2)) for name in COLUMNS})

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
        return self.count_in_at("partners", country, cols)

    def counts_by_country(self, via: str, queries: np.ndarray, single: bool = True) -> np.ndarray:
        """The cities each query reaches `via` (kinds.COUNT_VIAS) counted per country, raw,
        (q, countries) float64; one query's from its graph rows when `single`."""
        if single and len(queries) == 1:
            counts = self.graph_rows(int(queries[0]))[
                "own_countries" if via == "partners" else "near_countries"][None, :]
        elif via == "partners":
            counts = self.partners_by_country_rows[queries].toarray()
        else:
            arrays = self.arrays
            counts = (arrays.geo.matrix[queries] @ arrays.binary.matrix
                      @ arrays.membership).toarray()
        return np.asarray(counts, dtype=np.float64)

    def count_in(self, via: str, country: int) -> np.ndarray:
        """log(1 + the cities each city reaches `via` in `country`), (n,), kept per country."""
        return self.in_country(country) if via == "partners" else self.near_country(country)

    def count_in_at(self, via: str, country: int, cols: np.ndarray) -> np.ndarray:
        """count_in(via, country)[cols], kept per (via, country) for the candidates."""
        if cols is not self.candidates:
            return self.count_in(via, country)[cols]
        if (via, country) not in self._in_country_candidates:
            self._in_country_candidates[via, country] = self.count_in(via, country)[cols]
        return self._in_country_candidates[via, country]

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

    @cached_property
    def inputs(self) -> dict[str, np.ndarray]:
        """Every city's inputs of the per-cell formulas, (n,) float64 each (kinds.INPUTS)."""
        return city_inputs(self.arrays)

    @cached_property
    def candidate_inputs(self) -> dict[str, np.ndarray]:
        """The inputs at the candidates, (candidates,) each, kept."""
        return {name: values[self.candidates] for name, values in self.inputs.items()}

    def column_inputs(self, cols: np.ndarray | None) -> dict[str, np.ndarray]:
        """The inputs at `cols` (None: the candidates, kept)."""
        if cols is None or cols is self.candidates:
            return self.candidate_inputs
        return {name: values[cols] for name, values in self.inputs.items()}

    def query_inputs(self, queries: np.ndarray) -> dict[str, np.ndarray]:
        """The inputs of each query as a column, (q, 1): they broadcast against a block."""
        return {name: values[queries][:, None] for name, values in self.inputs.items()}

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
    def partners_by_country_rows(self) -> sp.csr_matrix:
        import scipy.sparse as sp

        return sp.csr_matrix(self.arrays.partners_by_country)

    @cached_property
    def log_degree(self) -> np.ndarray:
        return self.inputs["log_degree"]

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
