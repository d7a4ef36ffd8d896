"""Compiled kernels for the batch path: the dense per-cell terms of a block in one pass, and
the best cells of each row without sorting it.

`scorer.add_dense_terms` adds the country, pair and interaction terms to a (q, c) block in
about ten full-width numpy passes (temporaries, gathers, scatters back); on the snapshot they
cost more than the LightFM product itself. `add_dense_terms` here adds the same terms in the
same order, cell by cell, in one numba loop (no fastmath, so no reassociation or fused
multiply-adds). The LightFM product stays with BLAS, and arcsin and log1p with numpy's
vectorised functions, which a scalar compiled loop would not beat; the haversine's two
bilinear forms are one compiled pass, without BLAS's fused multiply-adds, so about 5% of the
float64 log distances differ from scorer._log_distance's in the last bit. After rounding to
float32 no logit differed on 23 million snapshot cells, and the tests hold the float32 block
equal to the numpy path's.

Only the batch imports this module (numba costs ~0.5 s to import; `twin with` never pays it).
Kernels are compiled on first use and cached on disk (`cache=True`); they release the GIL, so
the batch's two threads run them side by side.
"""

from __future__ import annotations

import numba
import numpy as np

from matcher import scorer
from matcher.prepared import prepared
from matcher.signals import EARTH_RADIUS_KM

_OPTIONS = {"nogil": True, "cache": True, "fastmath": False, "error_model": "numpy"}
COLUMN_TILE = 2048  # columns of a block whose log distances are made at once (1 MB for 64 rows)


def add_dense_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray | None,
                    lightfm: np.ndarray | None, interacting: np.ndarray, get,
                    zeros: np.ndarray) -> None:
    """scorer.add_dense_terms for a block against the candidates (`cols` None), compiled; other
    columns and single queries go to the numpy version (the one-query path's own)."""
    if cols is not None or len(queries) < 2:
        scorer.add_dense_terms(out, arrays, queries, cols, lightfm, interacting, get, zeros)
        return
    ready = prepared(arrays)
    candidates = ready.candidates
    query_countries = arrays.country_index[queries].astype(np.int64)
    table, by_admin1 = scorer.country_table(arrays, queries, get, zeros)
    column_group = ready.candidate_admin1 if by_admin1 else ready.candidate_countries
    affinity = get("candidate_affinity", zeros).astype(np.float64)
    unique, inverse = np.unique(query_countries, return_inverse=True)
    if np.any(affinity):
        in_country = np.stack([ready.in_country_at(int(country), candidates)
                               for country in unique])
    else:
        in_country, inverse = np.zeros((1, len(candidates))), np.zeros(len(queries), np.int64)
    column_side = ready.column_side(None)
    weights = np.stack([get(name, zeros) for name in _ROW_WEIGHTS]).astype(np.float64)
    capital = get("both_capital", zeros) * arrays.is_capital[queries]
    weights[_ROW_WEIGHTS.index("both_capital")] = capital
    lightfm_row = np.full(len(queries), -1, dtype=np.int64)
    if lightfm is None:
        lightfm = np.empty((0, 0))
    else:
        lightfm_row[np.flatnonzero(interacting)] = np.arange(len(lightfm))
    lightfm = np.ascontiguousarray(lightfm)
    needs_distance = bool(np.any(weights[3:5]) or np.any(get("lightfm_distance", zeros)))
    lat_rows, _, lon_rows, _ = ready.trig
    lat_rows, lon_rows = lat_rows[queries], lon_rows[queries]
    scratch = np.empty(len(queries) * COLUMN_TILE if needs_distance else 0)
    empty = np.empty((0, 0))
    group, countries = column_group.astype(np.int64), ready.candidate_countries.astype(np.int64)
    query_population = arrays.log_population[queries].astype(np.float64)
    column_population = column_side["log_population"].astype(np.float64)
    column_capital = column_side["is_capital"].astype(np.bool_)
    pairs = ready.log_country_pairs.astype(np.float64)
    inverse = inverse.astype(np.int64)
    # Column tiles of about 1 MB: the log distances are made and read while in cache.
    for begin in range(0, len(candidates), COLUMN_TILE):
        end = min(begin + COLUMN_TILE, len(candidates))
        distance = empty
        if needs_distance:
            distance = scratch[:len(queries) * (end - begin)].reshape(len(queries), end - begin)
            _half_chord(distance, lat_rows, column_side["lat"], lon_rows, column_side["lon"],
                        begin)
            np.arcsin(distance, out=distance)  # the rest of scorer._log_distance, vectorised
            distance *= scorer.DTYPE(2.0 * EARTH_RADIUS_KM)
            np.log1p(distance, out=distance)
        _dense_kernel(out, begin, end, distance, lightfm, lightfm_row, table, group, countries,
                      in_country, inverse, weights, query_population, column_population,
                      column_capital, pairs, query_countries)


@numba.njit(**_OPTIONS)
def _half_chord(out, lat_rows, lat_columns, lon_rows, lon_columns, begin):  # pragma: no cover
    """sqrt(min(sin^2(dlat/2) + cos cos sin^2(dlon/2), 1)) per cell of columns begin, begin +
    1, ..., from the bilinear forms of scorer._log_distance in one pass (its two products,
    squares, sum, clip and root)."""
    for i in range(out.shape[0]):
        lat_0, lat_1 = lat_rows[i, 0], lat_rows[i, 1]
        lon_0, lon_1 = lon_rows[i, 0], lon_rows[i, 1]
        for j in range(out.shape[1]):
            column = begin + j
            north = lat_0 * lat_columns[0, column] + lat_1 * lat_columns[1, column]
            east = lon_0 * lon_columns[0, column] + lon_1 * lon_columns[1, column]
            out[i, j] = np.sqrt(min(north * north + east * east, 1.0))


# Rows of the per-query weight table the kernel reads (both_capital: zero unless the query
# is a capital itself).
_ROW_WEIGHTS = ("candidate_affinity", "size_gap_squared", "size_gap", "log_distance_squared",
                "log_distance", "both_capital", "lightfm_country_pair", "lightfm_distance")


@numba.njit(**_OPTIONS)
def _dense_kernel(out, begin, end, distance, lightfm, lightfm_row, table, column_group,
                  column_country, in_country, in_country_row, weights, query_population,
                  column_population, column_capital, pairs,
                  query_country):  # pragma: no cover - compiled
    """out[:, begin:end] += the terms of scorer.add_dense_terms (`distance`: the log distances
    of those columns), cell by cell, in its order: country table
    (read at `column_group`: each column's country, or its region for a region table),
    candidate affinity, size gap squared, size gap, log distance squared, log distance, both
    capital, then lightfm * (pair weight * country pair + distance weight * log distance)."""
    rows = out.shape[0]
    has_distance = distance.shape[0] > 0
    for i in range(rows):
        affinity = weights[0, i]
        gap_squared, gap = weights[1, i], weights[2, i]
        far_squared, far = weights[3, i], weights[4, i]
        capital = weights[5, i]
        by_pair, by_distance = weights[6, i], weights[7, i]
        own = query_population[i]
        interaction = lightfm_row[i]
        affinity_row = in_country[in_country_row[i]]
        country_of_query = query_country[i]
        for j in range(begin, end):
            country = column_country[j]
            value = out[i, j] + table[i, column_group[j]]
            value += affinity * affinity_row[j]
            size = abs(column_population[j] - own)
            if gap_squared != 0.0:
                value += gap_squared * (size * size)
            value += size * gap
            log_km = 0.0
            if has_distance:
                log_km = distance[i, j - begin]
                if far_squared != 0.0:
                    value += far_squared * (log_km * log_km)
                value += log_km * far
            if capital != 0.0 and column_capital[j]:
                value += capital
            if interaction >= 0:
                factor = by_pair * pairs[country_of_query, country]
                if by_distance != 0.0:
                    factor += by_distance * log_km
                value += lightfm[interaction, j] * factor
            out[i, j] = value


@numba.njit(**_OPTIONS)
def _worse(values, a, b):  # pragma: no cover - compiled
    """Cell a ranks below cell b: a lower value, or an equal value at a higher position."""
    return values[a] < values[b] or (values[a] == values[b] and a > b)


@numba.njit(**_OPTIONS)
def _sift_down(heap, size, at, values):  # pragma: no cover - compiled
    """Restore the heap (worst cell on top) below `at`."""
    while True:
        child = 2 * at + 1
        if child >= size:
            return
        if child + 1 < size and _worse(values, heap[child + 1], heap[child]):
            child += 1
        if not _worse(values, heap[child], heap[at]):
            return
        heap[at], heap[child] = heap[child], heap[at]
        at = child


@numba.njit(**_OPTIONS)
def _best(values, cells, count, depth, finite_only, heap):  # pragma: no cover - compiled
    """Fill `heap` with the `depth` best of the first `count` `cells` of `values` (ascending
    positions; worst on top); returns how many. With `finite_only`, -inf is never taken."""
    size = 0
    floor = -np.inf  # the worst kept value once the heap is full: most cells stop here
    for index in range(count):
        cell = cells[index]
        value = values[cell]
        if value < floor or (finite_only and not np.isfinite(value)):
            continue
        if size < depth:
            heap[size] = cell
            at = size
            size += 1
            while at > 0:  # sift up
                parent = (at - 1) // 2
                if not _worse(values, heap[at], heap[parent]):
                    break
                heap[at], heap[parent] = heap[parent], heap[at]
                at = parent
            if size == depth:
                floor = values[heap[0]]
        elif _worse(values, heap[0], cell):
            heap[0] = cell
            _sift_down(heap, size, 0, values)
            floor = values[heap[0]]
    return size


@numba.njit(**_OPTIONS)
def ranked(values, count, heap, order):  # pragma: no cover - compiled
    """order[:count] = the indices 0..count-1 best first: higher value, ties to the lower index
    (a stable argsort of -values; a heap sort, which compiles far faster than numba's)."""
    for index in range(count):
        order[index] = index
    _best(values, order, count, count, False, heap)
    for place in range(count - 1, -1, -1):  # pop the worst into the last place
        order[place] = heap[0]
        heap[0] = heap[place]
        _sift_down(heap, place, 0, values)


_STRIDE = 16  # one cell in this many estimates the threshold


@numba.njit(**_OPTIONS)
def _select(values, depth, finite_only, heap, cells):  # pragma: no cover - compiled
    """_best over the whole row, in two passes: a threshold from every _STRIDE-th cell that
    keeps about twice `depth` cells, the cells at or above it, then the heap over those (all
    cells again when too few were kept and the threshold was finite)."""
    sampled = 0
    for cell in range(0, values.shape[0], _STRIDE):
        cells[sampled] = cell
        sampled += 1
    rank = min(sampled, 2 * (depth // _STRIDE) + 8)
    _best(values, cells, sampled, rank, False, heap)  # heap: len >= depth >= rank
    threshold = values[heap[0]]
    count = 0
    for cell in range(values.shape[0]):
        if values[cell] >= threshold:
            cells[count] = cell
            count += 1
    if count < depth and threshold > -np.inf:
        for cell in range(values.shape[0]):
            cells[cell] = cell
        count = values.shape[0]
    return _best(values, cells, count, depth, finite_only, heap)


@numba.njit(**_OPTIONS)
def mask_and_shortlist(block, final, query_country, column_country, mask_domestic,
                       size):  # pragma: no cover - compiled
    """Set each query's own country's cells to -inf in `block` and `final` (unless not
    `mask_domestic`), then each final row's `size` best cells (in no order; ties at the edge
    go either way), their scores, and the best score left outside (the bound; -inf when
    nothing is left): batch._shortlist without a partition of the whole row."""
    rows, columns = final.shape
    positions = np.empty((rows, size), dtype=np.int64)
    scores = np.empty((rows, size), dtype=final.dtype)
    outside = np.empty(rows, dtype=final.dtype)
    heap = np.empty(size + 9, dtype=np.int64)
    cells = np.empty(columns, dtype=np.int64)
    for i in range(rows):
        if mask_domestic:
            own = query_country[i]
            for j in range(columns):
                if column_country[j] == own:
                    block[i, j] = -np.inf
                    final[i, j] = -np.inf
        values = final[i]
        _select(values, size + 1, False, heap, cells)
        outside[i] = values[heap[0]]
        for place in range(size):
            positions[i, place] = heap[place + 1]
            scores[i, place] = values[heap[place + 1]]
    return positions, scores, outside

