"""Compiled exact top-k for the batch: each row's picks from its scores, read the way the
one-query path reads them (`Matcher.pick`), without a Python loop per row.

The picks are those of ranking every eligible cell (finite score) by its ranking value, ties
to the lower row, under the per-country cap. The value is the forward percentile (one-sided),
or sqrt(clip(f) * clip(r)) (mutual; r = 0 for a query that is not a candidate, as nobody's
list holds it). Percentiles are `percentiles.interpolate`'s arithmetic cell by cell (a count
of the row's quantiles <= the score, then the same float64 operations), so the values and
their ties are the numpy path's bits.

Only a few cells are ranked. A row starts from its batch shortlist, and is done when its k-th
pick beats the best value anything outside could reach (the one-query path's bound); else:
- forward only (one-sided, or a query no list holds): a shortlist four times larger, again;
- mutual rows of queries that are candidates: matcher.ranking.fusedmutual.
"""

from __future__ import annotations

import numba
import numpy as np

from matcher.ranking.fused import _OPTIONS, _best, _select, ranked
from matcher.ranking.rank import PERCENTILE_FLOOR

DEFERRED = -2  # a row these kernels leave to the caller


@numba.njit(**_OPTIONS)
def _percentile(flat, start, levels, steps, value):  # pragma: no cover - compiled
    """percentiles.interpolate for one value in the row flat[start:start + len(levels)]."""
    size = levels.shape[0]
    if not np.isfinite(value):
        return 0.0
    low_index, high_index = 0, size  # how many quantiles are <= value (a sorted row)
    while low_index < high_index:
        middle = (low_index + high_index) // 2
        if flat[start + middle] <= value:
            low_index = middle + 1
        else:
            high_index = middle
    above = low_index
    if above == 0:
        return 0.0
    if above >= size:  # percentiles.beyond_top
        top = np.float64(flat[start + size - 1])
        spread = max(top - np.float64(flat[start + size - 2]), 1e-9)
        excess = max(value - top, 0.0) / spread
        return levels[size - 1] + (1.0 - levels[size - 1]) * excess / (1.0 + excess)
    high = np.float64(flat[start + above])
    low = np.float64(flat[start + above - 1])
    span = high - low
    if not high > low:
        span = 1.0
    fraction = min(max((value - low) / span, 0.0), 1.0)
    return levels[above - 1] + fraction * steps[above - 1]


@numba.njit(**_OPTIONS)
def _clipped(value):  # pragma: no cover - compiled
    return min(max(value, PERCENTILE_FLOOR), 1.0)


@numba.njit(**_OPTIONS)
def _pick(cells, values, count, country, k, cap, seen, out):  # pragma: no cover - compiled
    """Greedy capped top-k of the first `count` cells (ascending positions) by value, ties to
    the lower position (rank.top_k); picks into `out`, returns how many. `seen`: zeros."""
    order, heap = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    ranked(values, count, heap, order)
    picked = 0
    for index in order:
        cell = cells[index]
        if seen[country[cell]] < cap:
            seen[country[cell]] += 1
            out[picked] = cell
            picked += 1
            if picked == k:
                break
    for index in range(picked):
        seen[country[out[index]]] = 0
    return picked


@numba.njit(**_OPTIONS)
def _forward_value(score, flat, start, levels, steps, mutual):  # pragma: no cover - compiled
    """The ranking value of a cell from its forward side alone: f, or sqrt(clip(f) * floor)
    when mutual (a query no list holds: r = 0)."""
    f = _percentile(flat, start, levels, steps, np.float64(score))
    return np.sqrt(_clipped(f) * PERCENTILE_FLOOR) if mutual else f


@numba.njit(**_OPTIONS)
def _lowest(values, cells, picked_cells, count, picked):  # pragma: no cover - compiled
    """The smallest value among the picked cells (cells[:count] ascending, values aligned)."""
    lowest = np.inf
    for index in range(picked):
        lowest = min(lowest, values[np.searchsorted(cells[:count], picked_cells[index])])
    return lowest


@numba.njit(**_OPTIONS)
def _pick_forward(row, cells, count, flat, start, levels, steps, mutual, country, k, cap, seen,
                  out, heap, top, values):  # pragma: no cover - compiled
    """_pick of cells[:count] (finite, any order) by forward value, into `out`; returns the
    count and the k-th value. The value never falls as the score rises, so the best `depth`
    cells by score decide when the next one's value is below their k-th pick (4k cells,
    then four times as many): most rows read 40 of their shortlist's 256."""
    depth = 4 * k
    while depth < count:
        _best(row, cells, count, depth + 1, True, heap)  # heap[0]: the next best cell
        for index in range(depth):
            top[index] = heap[index + 1]
        top[:depth].sort()
        for index in range(depth):
            values[index] = _forward_value(row[top[index]], flat, start, levels, steps, mutual)
        picked = _pick(top, values, depth, country, k, cap, seen, out)
        if picked == k:
            lowest = _lowest(values, top, out, depth, picked)
            if lowest > _forward_value(row[heap[0]], flat, start, levels, steps, mutual):
                return picked, lowest
        out[:] = -1
        depth *= 4
    cells[:count].sort()
    for index in range(count):
        values[index] = _forward_value(row[cells[index]], flat, start, levels, steps, mutual)
    picked = _pick(cells, values, count, country, k, cap, seen, out)
    return picked, _lowest(values, cells, out, count, picked) if picked == k else 0.0


@numba.njit(**_OPTIONS)
def rank_forward(final, rows, skip, positions, outside, flat, levels, steps, country, k, cap,
                 mutual):  # pragma: no cover - compiled
    """Picks (candidate positions, -1 padded) and their counts for each row of `final` whose
    value follows its forward side (one-sided, or mutual for a query that is not a
    candidate); rows with `skip` get DEFERRED. `positions`, `outside`: the batch shortlist
    and the best score outside it; `rows`: each query's row of the quantile table."""
    size = levels.shape[0]
    picks = np.full((final.shape[0], k), -1, dtype=np.int64)
    counts = np.full(final.shape[0], DEFERRED, dtype=np.int64)
    columns = final.shape[1]
    cells = np.empty(columns, dtype=np.int64)
    scratch = np.empty(columns, dtype=np.int64)
    heap = np.empty(columns + 16, dtype=np.int64)
    values = np.empty(columns, dtype=np.float64)
    seen = np.zeros(country.max() + 1, dtype=np.int64)
    for i in range(final.shape[0]):
        if skip[i]:
            continue
        row, start = final[i], rows[i] * size
        width, bound = positions.shape[1], outside[i]
        count = 0
        for cell in positions[i]:
            if np.isfinite(row[cell]):
                cells[count] = cell
                count += 1
        while True:
            picked, lowest = _pick_forward(row, cells, count, flat, start, levels, steps,
                                           mutual, country, k, cap, seen, picks[i], heap,
                                           scratch, values)
            if not np.isfinite(bound) or (
                    picked == k and lowest > _forward_value(bound, flat, start, levels, steps,
                                                            mutual)):
                counts[i] = picked
                break
            picks[i, :] = -1
            count = 0
            if width >= columns - 1:  # every cell: nothing left outside
                for cell in range(columns):
                    if np.isfinite(row[cell]):
                        cells[count] = cell
                        count += 1
                bound = -np.inf
                continue
            width = min(4 * width, columns - 1)  # a larger shortlist, and its bound
            _select(row, width + 1, False, heap, scratch)
            bound = row[heap[0]]
            for index in range(1, width + 1):
                if np.isfinite(row[heap[index]]):
                    cells[count] = heap[index]
                    count += 1
    return picks, counts
