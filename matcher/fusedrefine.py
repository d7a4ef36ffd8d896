"""Stage two for a block of queries, compiled: refine.refine_block's signals, hinge design and
reordering per shortlisted cell, without a (queries, depth) numpy array per signal.

Each cell's signals are refine._pair_values' formulas (the haversine of signals.haversine_km,
LightFM as a float64 dot, the country counts of the query's partners and its neighbours'), the
graph signals are read from the block's graph rows, and the logit is the stage-two sum
rounded to float32 as refine.stage_two rounds it, so that a block and a single query tie
alike; the sums run in another order than numpy's (float64 noise, absorbed by the rounding).
Equal logits keep stage one's order (refine.reorder).
"""

from __future__ import annotations

import numba
import numpy as np

from matcher import fusedgraph
from matcher.fused import _OPTIONS, ranked, top_positions
from matcher.prepared import prepared
from matcher.refine import part_for
from matcher.signals import EARTH_RADIUS_KM, user_moments
from matcher.signaltable import CODE as _CODE
from matcher.signaltable import GRAPH, SIGNALS


def refine_block(arrays, queries: np.ndarray, block: np.ndarray, graph: dict) -> np.ndarray:
    """refine.refine_block(arrays, queries, block, graph=graph) for a block whose partners
    are already -inf (`graph`: block_scores' graph rows), in place."""
    ready = prepared(arrays)
    parts = [part_for(arrays, query) for query in queries.tolist()]
    todo = np.array([i for i, part in enumerate(parts) if part is not None], dtype=np.int64)
    if not len(todo):
        return block
    unique = list({id(parts[i]): parts[i] for i in todo.tolist()}.values())
    part_of = np.array([next(p for p, part in enumerate(unique) if part is parts[i])
                        for i in todo.tolist()], dtype=np.int64)
    depths = np.array([int(part["depth"]) for part in unique], dtype=np.int64)
    found, counts = top_positions(block, todo, int(depths.max()))
    counts = np.minimum(counts, depths[part_of])
    rows = queries[todo]
    cells = ready.candidates[np.maximum(found, 0)]
    graph_values = _graph_at(arrays, queries, graph, todo, cells)
    own = ready.partners_by_country_rows[rows].toarray().astype(np.float64)
    near = (arrays.geo.matrix[rows] @ arrays.binary.matrix
            @ arrays.membership).toarray()
    by_country = arrays.partners_by_country
    mean, spread = user_moments(arrays, rows)
    table = _Parts.of(unique)
    _refine_rows(block, todo, found, counts, cells, part_of, *table, graph_values, own, near,
                 by_country.indptr.astype(np.int64), by_country.indices.astype(np.int64),
                 by_country.data.astype(np.float64),
                 arrays.user_embeddings[rows].astype(np.float64), mean, spread, rows,
                 arrays.item_embeddings, arrays.item_biases, arrays.lat_rad,
                 arrays.lon_rad, arrays.log_population, ready.log_degree,
                 arrays.is_capital, arrays.country_index.astype(np.int64),
                 ready.log_country_pairs, ready.admin1_rows(rows),
                 arrays.admin1.astype(np.int64))
    return block


def _graph_at(arrays, queries: np.ndarray, graph: dict, todo: np.ndarray,
              cells: np.ndarray) -> np.ndarray:
    """(5, len(todo), depth): the graph signals of block rows `todo` at their `cells`, from
    matcher.fusedgraph's rows or scipy's matrices (the missing ones computed here)."""
    if fusedgraph.ROWS in graph:
        return fusedgraph.sample(*graph[fusedgraph.ROWS], todo, cells, arrays.n_cities)
    missing = {name for name in GRAPH if name not in graph}
    if missing:
        from matcher.scorer import graph_products

        graph = {**graph, **graph_products(arrays, queries, missing)}
    values = np.zeros((len(GRAPH), len(todo), cells.shape[1]))
    take = np.repeat(todo, cells.shape[1])
    for code, name in enumerate(GRAPH):
        values[code] = np.asarray(graph[name][take, cells.ravel()]).reshape(cells.shape)
    return values


class _Parts:
    """Stage-two parameters of several parts as padded arrays (a row per part)."""

    @staticmethod
    def of(parts: list[dict]) -> tuple:
        width = max(len(part["signals"]) for part in parts)
        knots = max(sum(len(k) for k in part["knots"]) for part in parts)
        codes = np.zeros((len(parts), width), dtype=np.int64)
        sizes = np.zeros((len(parts), 2), dtype=np.int64)  # signals, knots
        mean, scale, coef = (np.zeros((len(parts), width)) for _ in range(3))
        scale[:] = 1.0
        knot_of = np.zeros((len(parts), max(knots, 1)), dtype=np.int64)
        knot_at, knot_coef = np.zeros((len(parts), max(knots, 1))), np.zeros_like(knot_of,
                                                                                   float)
        intercept = np.zeros(len(parts))
        for p, part in enumerate(parts):
            names = part["signals"]
            sizes[p] = len(names), sum(len(k) for k in part["knots"])
            codes[p, :len(names)] = [_CODE[name] for name in names]
            mean[p, :len(names)], scale[p, :len(names)] = part["mean"], part["scale"]
            coef[p, :len(names)] = part["coef"][:len(names)]
            where = 0
            for position, signal_knots in enumerate(part["knots"]):
                for knot in signal_knots:
                    knot_of[p, where], knot_at[p, where] = position, knot
                    knot_coef[p, where] = part["coef"][len(names) + where]
                    where += 1
            intercept[p] = float(part["intercept"])
        return codes, sizes, mean, scale, coef, knot_of, knot_at, knot_coef, intercept


_GRAPH_CODES = np.array([_CODE[name] for name in GRAPH], dtype=np.int64)
(_LIGHTFM, _OWN, _NEAR, _THEIRS, _PAIR, _DISTANCE, _DEGREE, _POPULATION, _GAP, _CAPITAL,
 _SAME, _LIGHTFM_DISTANCE, _LIGHTFM_PAIR, _GAP_SQUARED, _DISTANCE_SQUARED, _ADMIN1) = (
    _CODE[name] for name in (
        "lightfm", "country_affinity", "region_country", "candidate_affinity", "country_pair",
        "log_distance", "log_degree", "log_population", "size_gap", "both_capital",
        "same_country", "lightfm_distance", "lightfm_country_pair", "size_gap_squared",
        "log_distance_squared", "admin1_pair"))


@numba.njit(**_OPTIONS)
def _in_column(indptr, indices, data, column, row):  # pragma: no cover - compiled
    """A CSC matrix's value at (row, column) (sorted row indices)."""
    start, stop = indptr[column], indptr[column + 1]
    at = start + np.searchsorted(indices[start:stop], row)
    return data[at] if at < stop and indices[at] == row else 0.0


@numba.njit(**_OPTIONS)
def _refine_rows(block, todo, found, counts, cells, part_of, codes, sizes, mean, scale, coef,
                 knot_of, knot_at, knot_coef, intercept, graph_values, own, near, csc_ptr,
                 csc_idx, csc_val, users, user_mean, user_spread, rows, items, item_biases,
                 lat, lon, log_population, log_degree, is_capital, country,
                 pairs, admin1_rows, admin1):  # pragma: no cover - compiled
    """Stage two on each `todo` row of `block`: logits of its shortlist `found[slot,
    :counts[slot]]` (candidate rows `cells`), then the shortlist's scores handed out in their
    order (refine.reorder)."""
    signal = np.zeros(len(SIGNALS))
    z = np.zeros(codes.shape[1])
    logits = np.empty(found.shape[1], dtype=np.float32)
    order, heap = np.empty(found.shape[1], dtype=np.int64), np.empty(found.shape[1], np.int64)
    scores = np.empty(found.shape[1], dtype=block.dtype)
    for slot in range(todo.shape[0]):
        size, part = counts[slot], part_of[slot]
        if size < 2:
            continue
        query = rows[slot]
        own_country = country[query]
        for index in range(size):
            cell = cells[slot, index]
            other = country[cell]
            dot = 0.0
            for dim in range(users.shape[1]):
                dot += np.float64(items[cell, dim]) * users[slot, dim]
            standard = (dot + np.float64(item_biases[cell]) - user_mean[slot]) \
                / user_spread[slot]
            half_lat = (lat[cell] - lat[query]) / 2.0
            half_lon = (lon[cell] - lon[query]) / 2.0
            sin_lat, sin_lon = np.sin(half_lat), np.sin(half_lon)
            chord = sin_lat * sin_lat + np.cos(lat[query]) * np.cos(lat[cell]) \
                * (sin_lon * sin_lon)
            km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(min(max(chord, 0.0), 1.0)))
            gap = abs(log_population[query] - log_population[cell])
            for code in range(_GRAPH_CODES.shape[0]):
                signal[_GRAPH_CODES[code]] = graph_values[code, slot, index]
            signal[_LIGHTFM] = standard
            signal[_OWN] = np.log1p(own[slot, other])
            signal[_NEAR] = np.log1p(near[slot, other])
            signal[_THEIRS] = np.log1p(_in_column(csc_ptr, csc_idx, csc_val, own_country, cell))
            signal[_PAIR] = pairs[own_country, other]
            signal[_DISTANCE] = np.log1p(km)
            signal[_DEGREE] = log_degree[cell]
            signal[_POPULATION] = log_population[cell]
            signal[_GAP] = gap
            signal[_CAPITAL] = 1.0 if is_capital[query] and is_capital[cell] else 0.0
            signal[_SAME] = 1.0 if other == own_country else 0.0
            signal[_ADMIN1] = admin1_rows[slot, admin1[cell]]
            signal[_LIGHTFM_DISTANCE] = standard * signal[_DISTANCE]
            signal[_LIGHTFM_PAIR] = standard * signal[_PAIR]
            signal[_GAP_SQUARED] = gap * gap
            signal[_DISTANCE_SQUARED] = signal[_DISTANCE] * signal[_DISTANCE]
            total = 0.0
            for position in range(sizes[part, 0]):
                z[position] = (signal[codes[part, position]] - mean[part, position]) \
                    / scale[part, position]
                total += z[position] * coef[part, position]
            for knot in range(sizes[part, 1]):
                total += max(z[knot_of[part, knot]] - knot_at[part, knot], 0.0) \
                    * knot_coef[part, knot]
            logits[index] = np.float32(total + intercept[part])
        ranked(logits, size, heap, order)  # ties: stage one's order
        row = block[todo[slot]]
        for index in range(size):
            scores[index] = row[found[slot, index]]
        for index in range(size):
            row[found[slot, order[index]]] = scores[index]
    return block
