"""Compiled exact mutual picks for the batch's queries that are candidates (the forward side
and the shared pieces: matcher.ranking.fusedrank).

A row's value is sqrt(clip(f) * clip(r)); s(j -> q), whose percentile in j's row is r, is
column q of the kept stage-one row of j, copied into rows for a tile of query positions at a
time (`columns_as_rows`). A row starts from its batch shortlist, reading reverse sides best
forward first until no cell left could reach the k-th pick (a value is at most sqrt(f)), and
is done when its k-th pick beats the best value anything outside could reach (the one-query
path's bound). Else the picks of the whole row are worth at least the shortlist's k-th value
(greedy capped picks over more cells never fill below it), so only cells that could reach it
are ranked: outside cells whose forward and reverse scores both reach the row's and the
candidate's quantile at a level below (k-th value)^2, then whose forward side and value do.
When the cap leaves the shortlist short of k picks, it first grows by forward score until they
fill. A row that needs a city the batch did not keep is left to the Python path (DEFERRED).
"""

from __future__ import annotations

import numba
import numpy as np

from matcher.ranking.fused import _OPTIONS, _select, ranked
from matcher.ranking.fusedrank import DEFERRED, _clipped, _lowest, _percentile, _pick
from matcher.ranking.rank import PERCENTILE_FLOOR

_MARGIN = 1e-9  # relative: levels this far below (k-th value)^2 cannot round up to it


@numba.njit(**_OPTIONS)
def _mutual(own_side, flat, candidate_row, levels, steps, reverse):  # pragma: no cover
    """sqrt(clip(f) * clip(r)): `own_side` is clip(f), r the percentile of the reverse score
    in the candidate's row of the quantile table."""
    start = candidate_row * levels.shape[0]
    return np.sqrt(own_side * _clipped(_percentile(flat, start, levels, steps,
                                                   np.float64(reverse))))


@numba.njit(**_OPTIONS)
def _read_reverse(order, begin, end, lowest, cells, forward, value_at, slot_of, flat,
                  candidate_rows, levels, steps, back):  # pragma: no cover - compiled
    """value_at[cell] = the mutual value of cell = cells[order[p]] for p in begin..end-1
    (`order`: by forward side, best first), stopping where sqrt(forward) < `lowest` (no value
    after it can reach it). Returns where it stopped, or -1 where a needed reverse row was not
    kept."""
    for place in range(begin, end):
        index = order[place]
        if np.sqrt(forward[index]) < lowest:
            return place
        cell = cells[index]
        slot = slot_of[cell]
        if slot < 0:
            return -1
        value_at[cell] = _mutual(forward[index], flat, candidate_rows[cell], levels, steps,
                                 back[slot])
    return end


@numba.njit(**_OPTIONS)
def _pick_cells(cells, count, value_at, ordered, ordered_values, country, k, cap, seen,
                out):  # pragma: no cover - compiled
    """_pick of cells[:count] (any order) by their values in `value_at`, into `out` (cleared
    first); `ordered`, `ordered_values`: scratch. Returns the count and the k-th value (0
    while short of k)."""
    for index in range(count):
        ordered[index] = cells[index]
    ordered[:count].sort()  # ascending positions, as _pick reads them
    for index in range(count):
        ordered_values[index] = value_at[ordered[index]]
    out[:] = -1
    picked = _pick(ordered, ordered_values, count, country, k, cap, seen, out)
    lowest = _lowest(ordered_values, ordered, out, count, picked) if picked == k else 0.0
    return picked, lowest


@numba.njit(**_OPTIONS)
def _widen(row, back, member, subset, value_at, kept, width, start, flat, candidate_rows,
           slot_of, levels, steps, country, k, cap, seen, out, ordered,
           ordered_values):  # pragma: no cover - compiled
    """Grow a mutual row's ranked cells past its shortlist (`member`; `subset[:kept]` with
    their values in `value_at`) with the next best cells by forward score, four times as
    many each round, until the capped picks fill k or every finite cell is in. Returns the
    cells now ranked (subset[:grown], marked in `member`), the picks (into `out`), the k-th
    value (0 while short) and whether a needed reverse row was not kept."""
    columns = row.shape[0]
    wide = np.empty(columns, dtype=row.dtype)
    heap = np.empty(columns + 16, dtype=np.int64)
    found = np.empty(columns, dtype=np.int64)
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
        picked, lowest = _pick_cells(subset, grown, value_at, ordered, ordered_values, country,
                                     k, cap, seen, out)
        if taken < width or width == columns:
            break
    for index in range(kept, grown):
        member[subset[index]] = True
    return grown, picked, lowest, False


@numba.njit(**_OPTIONS)
def _scan_outside(row, back, member, cells, count, value_at, lowest, start, flat,
                  candidate_rows, slot_of, by_level, levels, steps):  # pragma: no cover
    """Append to cells[:count] every cell outside `member` that could still enter a mutual
    row's picks, with its value in `value_at`: both scores at or above the quantiles at the
    last level below lowest^2 (none: every finite cell), then a forward side of at least
    lowest^2 and a value of at least lowest. Their final score is the stage-one score in the
    kept row. Returns the new count, or -1 where a needed reverse row was not kept."""
    size = levels.shape[0]
    target = lowest * lowest * (1.0 - _MARGIN)
    level = -1
    if target > 10 * PERCENTILE_FLOOR:
        while level + 1 < size and levels[level + 1] < target:
            level += 1
    forward_floor = np.float32(-np.inf) if level < 0 else flat[start + level]
    for cell in range(row.shape[0]):
        value = row[cell]
        if member[cell] or not np.isfinite(value) or value < forward_floor:
            continue
        slot = slot_of[cell]
        if slot < 0:
            return -1
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
        cells[count] = cell
        count += 1
    return count


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
    value_at = np.empty(columns, dtype=np.float64)
    final_at = np.empty(columns, dtype=stored.dtype)
    forward = np.empty(positions.shape[1], dtype=np.float64)
    order = np.empty(positions.shape[1], dtype=np.int64)
    heap = np.empty(positions.shape[1] + 16, dtype=np.int64)
    subset = np.empty(columns, dtype=np.int64)
    ordered = np.empty(columns, dtype=np.int64)
    ordered_values = np.empty(columns, dtype=np.float64)
    member = np.zeros(columns, dtype=np.bool_)
    seen = np.zeros(country.max() + 1, dtype=np.int64)
    for i in range(queries):
        row, back = stored[query_slots[i]], tile[query_positions[i] - first]
        start = rows[i] * size
        count = 0
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
            if _read_reverse(order, done, width, -1.0, cells, forward, value_at, slot_of,
                             flat, candidate_rows, levels, steps, back) < 0:
                break
            done = width
            for place in range(done):
                subset[place] = cells[order[place]]
            picked, lowest = _pick_cells(subset, done, value_at, ordered, ordered_values,
                                         country, k, cap, seen, picks[i])
            if done == count or (picked == k and lowest > np.sqrt(forward[order[done]])):
                break
            width = min(count, 2 * width)
        if done < width:  # a needed reverse row was not kept
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
        read = _read_reverse(order, done, count, lowest, cells, forward, value_at, slot_of,
                             flat, candidate_rows, levels, steps, back)
        if read < 0:
            picks[i, :] = -1
            continue
        kept_cells = 0
        for place in range(read):
            cell = cells[order[place]]
            if value_at[cell] >= lowest:
                subset[kept_cells] = cell
                kept_cells += 1
        for index in range(count):
            member[cells[index]] = True
        grown, missing = kept_cells, False
        if picked < k:  # the cap left the shortlist short: widen it until the picks fill
            grown, picked, lowest, missing = _widen(
                row, back, member, subset, value_at, kept_cells, count, start, flat,
                candidate_rows, slot_of, levels, steps, country, k, cap, seen, picks[i],
                ordered, ordered_values)
        for index in range(grown):
            cells[index] = subset[index]
        extra = -1 if missing else _scan_outside(
            row, back, member, cells, grown, value_at, lowest, start, flat, candidate_rows,
            slot_of, by_level, levels, steps)
        for index in range(kept_cells, grown):
            member[subset[index]] = False
        for index in range(positions.shape[1]):
            member[positions[i, index]] = False
        if extra < 0:
            picks[i, :] = -1
            continue
        counts[i] = _pick_cells(cells, extra, value_at, ordered, ordered_values, country, k,
                                cap, seen, picks[i])[0]
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
