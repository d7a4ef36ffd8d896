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
- mutual: the picks of the whole row are worth at least the shortlist's k-th value (greedy
  capped picks over more cells never fill below it), so only cells that could reach it are
  ranked: outside cells whose forward and reverse scores both reach the row's and the
  candidate's quantile at a level below (k-th value)^2, then whose forward side and value do.
  When the cap leaves the shortlist short of k picks, it first grows by forward score until
  they fill. Reverse scores s(j -> q) are column q of the kept stage-one row of j, copied into
  rows for a tile of query positions at a time (`columns_as_rows`); a row that needs a city
  the batch did not keep is left to the Python path (-2).
"""

from __future__ import annotations

import numba
import numpy as np

from matcher.fused import _OPTIONS, _best, _select, ranked
from matcher.rank import PERCENTILE_FLOOR

DEFERRED = -2  # a row these kernels leave to the caller
_MARGIN = 1e-9  # relative: levels this far below (k-th value)^2 cannot round up to it


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


@numba.njit(**_OPTIONS)
def _mutual(own_side, flat, candidate_row, levels, steps, reverse):  # pragma: no cover
    """sqrt(clip(f) * clip(r)): `own_side` is clip(f), r the percentile of the reverse score
    in the candidate's row of the quantile table."""
    start = candidate_row * levels.shape[0]
    return np.sqrt(own_side * _clipped(_percentile(flat, start, levels, steps,
                                                   np.float64(reverse))))


@numba.njit(**_OPTIONS)
def _widen(row, back, member, subset, value_at, kept, width, start, flat, candidate_rows,
           slot_of, levels, steps, country, k, cap, seen, out):  # pragma: no cover - compiled
    """Grow a mutual row's ranked cells past its shortlist (`member`; `subset[:kept]` with
    their values in `value_at`) with the next best cells by forward score, four times as
    many each round, until the capped picks fill k or every finite cell is in. Returns the
    cells now ranked (subset[:grown], marked in `member`), the picks (into `out`), the k-th
    value (0 while short) and whether a needed reverse row was not kept."""
    columns = row.shape[0]
    wide = np.empty(columns, dtype=row.dtype)
    heap = np.empty(columns + 16, dtype=np.int64)
    found = np.empty(columns, dtype=np.int64)
    ordered = np.empty(columns, dtype=np.int64)
    ordered_values = np.empty(columns, dtype=np.float64)
    grown, picked, lowest = kept, 0, 0.0
    for cell in range(columns):
        wide[cell] = -np.inf if member[cell] else row[cell]
    while picked < k:
        width = min(4 * width, columns)
        taken = _select(wide, width, True, heap, found)
        grown = kept
        for index in range(taken):
            cell = heap[index]
            slot = slot_of[cell]
            if slot < 0:
                return grown, 0, 0.0, True
            value_at[cell] = _mutual(
                _clipped(_percentile(flat, start, levels, steps, np.float64(row[cell]))),
                flat, candidate_rows[cell], levels, steps, back[slot])
            subset[grown] = cell
            grown += 1
        for index in range(grown):
            ordered[index] = subset[index]
        ordered[:grown].sort()
        for index in range(grown):
            ordered_values[index] = value_at[ordered[index]]
        out[:] = -1
        picked = _pick(ordered, ordered_values, grown, country, k, cap, seen, out)
        if picked == k:
            lowest = _lowest(ordered_values, ordered, out, grown, picked)
        if taken < width or width == columns:
            break
    for index in range(kept, grown):
        member[subset[index]] = True
    return grown, picked, lowest, False


@numba.njit(**_OPTIONS)
def rank_mutual(stored, tile, first, query_slots, query_positions, rows, positions, scores,
                outside, flat, candidate_rows, slot_of, by_level, levels, steps, country, k,
                cap):  # pragma: no cover - compiled
    """Mutual picks for queries that are candidates: each final row is its kept stage-one row
    (stored[query_slots[i]]) with the shortlist's final scores in place of its cells, r of
    candidate j is stored[slot_of[j], query_positions[i]] (j's own stage-one row), read from
    `tile` (columns_as_rows of the query positions first, first + 1, ...),
    `by_level[l, j]`: candidate j's l-th quantile. Counts DEFERRED where a needed candidate's
    row was not kept."""
    size = levels.shape[0]
    queries, columns = positions.shape[0], stored.shape[1]
    picks = np.full((queries, k), -1, dtype=np.int64)
    counts = np.full(queries, DEFERRED, dtype=np.int64)
    cells = np.empty(columns, dtype=np.int64)
    values = np.empty(columns, dtype=np.float64)
    value_at = np.empty(columns, dtype=np.float64)
    final_at = np.empty(columns, dtype=stored.dtype)
    forward = np.empty(positions.shape[1], dtype=np.float64)
    order = np.empty(positions.shape[1], dtype=np.int64)
    heap = np.empty(positions.shape[1] + 16, dtype=np.int64)
    subset = np.empty(columns, dtype=np.int64)
    subset_values = np.empty(columns, dtype=np.float64)
    member = np.zeros(columns, dtype=np.bool_)
    seen = np.zeros(country.max() + 1, dtype=np.int64)
    for i in range(queries):
        row, back = stored[query_slots[i]], tile[query_positions[i] - first]
        start = rows[i] * size
        count, missing = 0, False
        for index in range(positions.shape[1]):
            if np.isfinite(scores[i, index]):
                cells[count] = positions[i, index]
                final_at[cells[count]] = scores[i, index]
                count += 1
        cells[:count].sort()
        # A cell's mutual value is at most sqrt(its forward side): reverse sides are read best
        # forward first, until no cell left could reach the k-th pick.
        for index in range(count):
            forward[index] = _clipped(_percentile(flat, start, levels, steps,
                                                  np.float64(final_at[cells[index]])))
        ranked(forward, count, heap, order)
        done, width, picked, lowest = 0, min(count, 4 * k), 0, 0.0
        while True:
            for place in range(done, width):
                index = order[place]
                slot = slot_of[cells[index]]
                if slot < 0:
                    missing = True
                    break
                values[index] = _mutual(forward[index], flat, candidate_rows[cells[index]],
                                        levels, steps, back[slot])
            if missing:
                break
            done = width
            chosen = np.sort(order[:done])  # ascending positions, as _pick reads them
            for place in range(done):
                subset[place] = cells[chosen[place]]
                subset_values[place] = values[chosen[place]]
            picked = _pick(subset, subset_values, done, country, k, cap, seen, picks[i])
            lowest = _lowest(subset_values, subset, picks[i], done, picked) \
                if picked == k else 0.0
            if done == count or (picked == k and lowest > np.sqrt(forward[order[done]])):
                break
            width = min(count, 2 * width)
        if missing:
            picks[i, :] = -1
            continue
        bound = outside[i]
        if not np.isfinite(bound) or (picked == k and lowest > np.sqrt(max(_percentile(
                flat, start, levels, steps, np.float64(bound)), PERCENTILE_FLOOR))):
            counts[i] = picked
            continue
        # Every pick of the whole row is worth at least `lowest` (greedy capped picks over
        # more cells never fill below the k-th value of picks from fewer), so a cell below it
        # is left out: the shortlist's cells not read yet, whose value is below sqrt(forward)
        # (`order` is by forward side), then cells outside it.
        kept_cells = 0
        for place in range(count):
            index = order[place]
            if place >= done:
                if np.sqrt(forward[index]) < lowest:
                    break
                slot = slot_of[cells[index]]
                if slot < 0:
                    missing = True
                    break
                values[index] = _mutual(forward[index], flat, candidate_rows[cells[index]],
                                        levels, steps, back[slot])
            if values[index] >= lowest:
                value_at[cells[index]] = values[index]
                subset[kept_cells] = cells[index]
                kept_cells += 1
        if missing:
            picks[i, :] = -1
            continue
        for index in range(count):
            member[cells[index]] = True
        grown = kept_cells
        if picked < k:  # the cap left the shortlist short: widen it until the picks fill
            grown, picked, lowest, missing = _widen(
                row, back, member, subset, value_at, kept_cells, count, start, flat,
                candidate_rows, slot_of, levels, steps, country, k, cap, seen, picks[i])
            if missing:
                for index in range(kept_cells, grown):
                    member[subset[index]] = False
                for index in range(positions.shape[1]):
                    member[positions[i, index]] = False
                picks[i, :] = -1
                continue
        # Cells outside the shortlist that could still enter: both scores at or above the
        # quantiles at the last level below lowest^2 (none: every finite cell), then a forward
        # side of at least lowest^2 and a value of at least lowest. Their final score is the
        # stage-one score in the kept row.
        target = lowest * lowest * (1.0 - _MARGIN)
        level = -1
        if target > 10 * PERCENTILE_FLOOR:
            while level + 1 < size and levels[level + 1] < target:
                level += 1
        forward_floor = np.float32(-np.inf) if level < 0 else flat[start + level]
        for index in range(grown):
            cells[index] = subset[index]
        extra = grown
        for cell in range(columns):
            value = row[cell]
            if member[cell] or not np.isfinite(value) or value < forward_floor:
                continue
            slot = slot_of[cell]
            if slot < 0:
                missing = True
                break
            reverse = back[slot]
            if level >= 0 and reverse < by_level[level, cell]:
                continue
            own_side = _clipped(_percentile(flat, start, levels, steps, np.float64(value)))
            if own_side < target:  # f * r <= f, below lowest^2
                continue
            mutual = _mutual(own_side, flat, candidate_rows[cell], levels, steps, reverse)
            if mutual < lowest:
                continue
            value_at[cell] = mutual
            cells[extra] = cell
            extra += 1
        for index in range(kept_cells, grown):
            member[subset[index]] = False
        for index in range(positions.shape[1]):
            member[positions[i, index]] = False
        if missing:
            picks[i, :] = -1
            continue
        cells[:extra].sort()
        for index in range(extra):
            values[index] = value_at[cells[index]]
        picks[i, :] = -1
        counts[i] = _pick(cells, values, extra, country, k, cap, seen, picks[i])
    return picks, counts


@numba.njit(**_OPTIONS)
def columns_as_rows(stored, first, width, out):  # pragma: no cover - compiled
    """out[c, s] = stored[s, first + c] for c < width: the reverse scores of `width`
    consecutive query positions, a row each, copied 64 kept rows at a time (the lines read
    and written stay in cache, and each row of `stored` is entered once per 64 columns)."""
    kept = stored.shape[0]
    for begin in range(0, kept, 64):
        end = min(begin + 64, kept)
        for offset in range(width):
            column = first + offset
            for slot in range(begin, end):
                out[offset, slot] = stored[slot, column]
