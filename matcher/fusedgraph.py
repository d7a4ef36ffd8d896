"""The five graph signals of a block of queries, compiled: scorer.graph_products' sparse rows
without scipy's per-product overhead.

For each query the products are summed into dense accumulators over every city, in the order
scipy's CSR product visits them (the query's row, then each row it reaches), and only the
cells they touched are read back: log(1 + value) of each signal at the union of those cells,
one CSR structure for the block with a data row per signal. The weighted sum is added to the
block's logits where it is non-zero (scorer's `_add_graph_terms`), and stage two reads the
same rows (`graph_out`, as csr matrices). The query's own scores differ from the one-query
path's (sums of CSR rows, `prepared.graph_rows`) only by float64 summation order, which the
rounding of the logits to float32 absorbs.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp

from matcher.fused import _OPTIONS
from matcher.prepared import prepared
from matcher.signaltable import GRAPH

# Rows of the values returned by `_block_rows`, in GRAPH's order.
_ORDER = ("adamic_adar", "geo_cf", "partner_geo", "three_hop", "region_pair")
assert _ORDER == GRAPH
ROWS = "rows"  # graph_out's key for the block's (indptr, indices, values (5, nnz))


def to_csr(rows: tuple, n_cities: int) -> dict[str, sp.csr_matrix]:
    """The block's graph rows as scorer.graph_products' matrices, one per signal."""
    indptr, indices, values = rows
    shape = (len(indptr) - 1, n_cities)
    return {name: sp.csr_matrix((values[i], indices, indptr), shape=shape)
            for i, name in enumerate(_ORDER)}


def add_graph_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray, get,
                    zeros: np.ndarray, graph_out: dict | None = None) -> None:
    """scorer._add_graph_terms for a block against the candidates; other cases go to it."""
    from matcher import scorer

    ready = prepared(arrays)
    if len(queries) < 2 or cols is not ready.candidates:
        scorer._add_graph_terms(out, arrays, queries, cols, get, zeros, graph_out)
        return
    indptr, indices, values = _block_rows(np.asarray(queries, dtype=np.int64),
                                          *_matrices(arrays), arrays.n_cities)
    if graph_out is not None:
        graph_out[ROWS] = (indptr, indices, values)
    weights = np.stack([get(name, zeros) for name in _ORDER]).astype(np.float64)
    if np.any(weights):
        _add_weighted(out, indptr, indices, values, weights, ready.positions)


def _matrices(arrays) -> tuple[np.ndarray, ...]:
    """(indptr, indices, data) of B, B scaled by 1 / log(degree), S and G, int64 and float64,
    converted once per model (kept by the fast scorer's state)."""
    return prepared(arrays).kernel_graphs


@numba.njit(**_OPTIONS)
def _spread(accumulator, row, scale, ptr, idx, val, seen, touched, count):  # pragma: no cover
    """accumulator += scale * matrix[row], marking the cells it touches; returns the count."""
    for entry in range(ptr[row], ptr[row + 1]):
        cell = idx[entry]
        accumulator[cell] += scale * val[entry]
        if not seen[cell]:
            seen[cell] = True
            touched[count] = cell
            count += 1
    return count


@numba.njit(**_OPTIONS)
def _block_rows(queries, b_ptr, b_idx, b_val, w_ptr, w_idx, w_val, s_ptr, s_idx, s_val, g_ptr,
                g_idx, g_val, n):  # pragma: no cover - compiled
    """(indptr, indices, values (5, nnz)): log(1 + signal) of each query's row of each graph
    signal (_ORDER) at the cells any of them touched."""
    signals = np.zeros((5, n))
    two_hop, near = np.zeros(n), np.zeros(n)
    seen = np.zeros(n, dtype=np.bool_)
    seen_two, seen_near = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
    touched = np.empty(n, dtype=np.int64)
    touched_two, touched_near = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    indptr = np.zeros(queries.shape[0] + 1, dtype=np.int64)
    indices = np.empty(max(16, 64 * queries.shape[0]), dtype=np.int64)
    values = np.empty((5, indices.shape[0]))
    for i in range(queries.shape[0]):
        query = queries[i]
        count = count_two = count_near = 0
        for entry in range(b_ptr[query], b_ptr[query + 1]):  # the query's partners p
            partner, weight = b_idx[entry], b_val[entry]
            count = _spread(signals[0], partner, weight, w_ptr, w_idx, w_val, seen, touched,
                            count)  # adamic_adar: B W
            count = _spread(signals[2], partner, weight, g_ptr, g_idx, g_val, seen, touched,
                            count)  # partner_geo: B G
        for entry in range(g_ptr[query], g_ptr[query + 1]):  # geo_cf: G B, kept for G B G
            count_near = _spread(near, g_idx[entry], g_val[entry], b_ptr, b_idx, b_val,
                                 seen_near, touched_near, count_near)
        for entry in range(s_ptr[query], s_ptr[query + 1]):  # S S, then (S S) S
            count_two = _spread(two_hop, s_idx[entry], s_val[entry], s_ptr, s_idx, s_val,
                                seen_two, touched_two, count_two)
        for index in range(count_two):
            cell = touched_two[index]
            count = _spread(signals[3], cell, two_hop[cell], s_ptr, s_idx, s_val, seen,
                            touched, count)
            two_hop[cell], seen_two[cell] = 0.0, False
        for index in range(count_near):
            cell = touched_near[index]
            count = _spread(signals[4], cell, near[cell], g_ptr, g_idx, g_val, seen, touched,
                            count)  # region_pair: (G B) G
            signals[1, cell] = near[cell]
            if not seen[cell]:
                seen[cell] = True
                touched[count] = cell
                count += 1
            near[cell], seen_near[cell] = 0.0, False
        start = indptr[i]
        if start + count > indices.shape[0]:  # grow the block's buffers
            size = max(2 * indices.shape[0], start + count)
            grown, grown_values = np.empty(size, dtype=np.int64), np.empty((5, size))
            grown[:start] = indices[:start]
            grown_values[:, :start] = values[:, :start]
            indices, values = grown, grown_values
        cells = touched[:count]  # first touched first: the sampling below needs no order
        for index in range(count):
            cell = cells[index]
            indices[start + index] = cell
            for signal in range(5):  # log1p(0) is 0: most cells are zero in most signals
                value = signals[signal, cell]
                if signal == 3:
                    value *= 10.0
                values[signal, start + index] = np.log1p(value) if value != 0.0 else 0.0
                signals[signal, cell] = 0.0
            seen[cell] = False
        indptr[i + 1] = start + count
    size = indptr[-1]
    return indptr, indices[:size].copy(), values[:, :size].copy()


@numba.njit(**_OPTIONS)
def _add_weighted(out, indptr, indices, values, weights, positions):  # pragma: no cover
    """out[i, position of cell] += sum over signals of weight * value, for candidate cells."""
    for i in range(indptr.shape[0] - 1):
        for entry in range(indptr[i], indptr[i + 1]):
            where = positions[indices[entry]]
            if where >= 0:
                total = 0.0
                for signal in range(values.shape[0]):
                    total += weights[signal, i] * values[signal, entry]
                out[i, where] += total


@numba.njit(**_OPTIONS)
def sample(indptr, indices, values, rows, cells, n):  # pragma: no cover - compiled
    """(5, len(rows), cells.shape[1]): each signal of block row rows[r] at cells[r] (city rows),
    zero where the row did not touch the cell; one dense scratch row at a time."""
    out = np.zeros((values.shape[0], rows.shape[0], cells.shape[1]))
    scratch = np.zeros((values.shape[0], n))
    for slot in range(rows.shape[0]):
        row = rows[slot]
        for entry in range(indptr[row], indptr[row + 1]):
            for signal in range(values.shape[0]):
                scratch[signal, indices[entry]] = values[signal, entry]
        for index in range(cells.shape[1]):
            for signal in range(values.shape[0]):
                out[signal, slot, index] = scratch[signal, cells[slot, index]]
        for entry in range(indptr[row], indptr[row + 1]):
            for signal in range(values.shape[0]):
                scratch[signal, indices[entry]] = 0.0
    return out
