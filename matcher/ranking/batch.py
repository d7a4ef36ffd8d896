"""Top-k lists for many cities at once, the same lists `Matcher.recommend` gives one at a time.

Blocks of query rows are scored with `scorer.block_scores` (two threads; numpy and the compiled
kernels release the GIL; dense terms matcher.ranking.fused, the graph walks' sparse products), stage
two reorders each row's best candidates (refine.refine_block, from the block's walk products,
before the domestic filter, as the one-query path does), and each row keeps a shortlist of its
best final scores. matcher.ranking.fusedrank (matcher.ranking.fusedmutual for mutual rows of
candidate queries) ranks each row exactly as the one-query path would, expanding past the shortlist
where its bound fails: one-sided rows and queries no list holds in the worker that scored them,
mutual rows of candidate queries once every block is done, by query position (`_rank_mutual`). Their
reverse scores s(j -> q) are read from the stage-one forward rows of the candidate cities (the
reverse side reads stage one everywhere), which the batch keeps (float32, candidates asked x
candidates: 2 GB for every city of the snapshot), so a full batch scores every pair once. A row
that needs a city the batch did not keep (a partial batch) is ranked from its shortlist in
numpy (`_rank_block`), or by the one-query path (`Matcher.pick`) where the shortlist's bound
fails."""

from __future__ import annotations

import ctypes
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from matcher.ranking import rank
from matcher.scoring import refine, reverse, scorer
from matcher.scoring.prepared import prepared

BLOCK = 64
SHORTLIST = 256


@dataclass
class _Shortlist:
    """One block's best candidates: (rows, SHORTLIST) candidate positions and forward scores,
    and the best forward score left outside (the bound)."""

    queries: np.ndarray
    positions: np.ndarray
    scores: np.ndarray
    outside: np.ndarray


def supported(spec: rank.Filters) -> bool:
    """Filters the batch path handles itself (the others go through the one-query path)."""
    return not (spec.countries or spec.exclude_countries or spec.min_population is not None
                or spec.max_population is not None or spec.max_km is not None)


def _scored_block(arrays, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stage one's and the final scores (q, candidates), the query and its partners -inf, with
    the compiled kernels (imported here: the one-query path never loads numba)."""
    from matcher.ranking import fused

    ready = prepared(arrays)
    products: dict = {}
    block = scorer.block_scores(arrays, queries, graph_out=products,
                                terms=(fused.add_dense_terms, scorer.add_graph_terms))
    position = ready.positions
    graph = arrays.graph
    counts = np.diff(graph.indptr)[queries]
    partner_rows = np.repeat(np.arange(len(queries)), counts)
    partners = np.concatenate([arrays.partners(q) for q in queries]) if counts.sum() else \
        np.empty(0, dtype=np.int64)
    where = position[partners]
    keep = where >= 0
    block[partner_rows[keep], where[keep]] = -np.inf
    # stage two before the domestic filter, as the one-query path
    return block, refine.refine_block(arrays, queries, block.copy(), graph=products)


def _shortlist(final: np.ndarray, queries: np.ndarray, size: int, block: np.ndarray | None = None,
               countries: tuple[np.ndarray, np.ndarray] | None = None) -> _Shortlist:
    """Each row's `size` best cells (fewer columns: all but one) and the best score left
    outside, the bound, after setting each query's own country's cells to -inf in `final` and
    `block` when `countries` (the queries', the columns') are given."""
    from matcher.ranking import fused

    none = np.zeros(max(len(queries), final.shape[1]), dtype=np.int64)
    query_countries, column_countries = countries or (none[:len(queries)],
                                                      none[:final.shape[1]])
    return _Shortlist(queries, *fused.mask_and_shortlist(
        final if block is None else block, final, query_countries, column_countries,
        countries is not None, min(size, final.shape[1] - 1)))


def _small_pages(shape: tuple[int, int]) -> np.ndarray:
    """np.empty(shape, float32) in 4 KB pages: numpy advises transparent huge pages for large
    arrays, and the kernel may compact memory for each 2 MB page on first touch (on the
    bench machine 2 GB took 5.0 s to fill that way, 0.9 s in small pages)."""
    import mmap

    size = shape[0] * shape[1] * np.dtype(scorer.OUT_DTYPE).itemsize
    if not size:
        return np.empty(shape, dtype=scorer.OUT_DTYPE)
    return np.frombuffer(mmap.mmap(-1, size), dtype=scorer.OUT_DTYPE).reshape(shape)


@contextmanager
def _reused_blocks():
    """glibc malloc serves the blocks' (64, candidates) temporaries (6-12 MB) from its heap,
    not fresh mappings: each fresh one is page-faulted again (3.5 s of system time in a
    one-sided batch on the snapshot, 1.7 s this way). Thresholds back to glibc's defaults
    afterwards, and the kept memory released; elsewhere (no glibc) nothing changes."""
    try:
        libc = ctypes.CDLL(None)
        mallopt, trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        yield
        return
    mallopt(_M_MMAP_THRESHOLD, 64 << 20)
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        mallopt(_M_MMAP_THRESHOLD, 128 << 10)
        mallopt(_M_TRIM_THRESHOLD, 128 << 10)
        trim(0)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


@dataclass
class _Ranking:
    """What the compiled ranking reads of the model (matcher.ranking.fusedrank)."""

    flat: np.ndarray  # the quantile table, one row per city, flattened
    levels: np.ndarray
    steps: np.ndarray  # np.diff(levels)
    country: np.ndarray  # each candidate's country id
    k: int
    cap: int

    @classmethod
    def of(cls, matcher, spec: rank.Filters) -> _Ranking:
        model, candidates = matcher.model, prepared(matcher.model.arrays).candidates
        levels = np.asarray(model.quantile_levels, dtype=np.float64)
        return cls(np.ascontiguousarray(model.quantiles).reshape(-1), levels, np.diff(levels),
                   matcher.evidence.country_ids[candidates].astype(np.int64), int(spec.k),
                   int(spec.cap if spec.cap is not None else spec.k))


def top_lists(matcher, rows: np.ndarray, spec: rank.Filters,
              threads: int = 2) -> list[np.ndarray]:
    """Ranked candidate rows for each query row, equal to the one-query path's picks."""
    from matcher.ranking import fusedrank

    arrays = matcher.model.arrays
    ready = prepared(arrays)
    asked = np.asarray(rows, dtype=np.int64)
    # Cities with partnerships first: a block of one re-ranker part is one product and no
    # scatter (blocks that mix the parts cost a quarter more on the snapshot).
    order = np.argsort(~arrays.has_history(asked), kind="stable")
    rows = asked[order]
    query_position = ready.positions[rows]
    candidates = ready.candidates
    # Forward rows of queries that are candidates: a row to rank, and the reverse scores
    # s(j -> q) of everyone else (column q of candidate j's row).
    stored_rows = np.flatnonzero(query_position >= 0) if spec.mutual else np.empty(0, int)
    stored = _small_pages((len(stored_rows), len(candidates)))
    store_index = np.full(arrays.n_cities, -1, dtype=np.int64)
    store_index[rows[stored_rows]] = np.arange(len(stored_rows))
    # At least stage two's depth: a kept row plus the shortlist's final scores is the final row.
    size = max(SHORTLIST, 4 * spec.k, refine.deepest(arrays.rerank))
    countries = arrays.country_index.astype(np.int64), ready.candidate_countries.astype(np.int64)
    how = _Ranking.of(matcher, spec)

    def work(start: int) -> tuple[_Shortlist, np.ndarray, np.ndarray]:
        chunk = rows[start:start + BLOCK]
        block, final = _scored_block(arrays, chunk)
        part = _shortlist(final, chunk, size, block, None if spec.include_domestic else
                          (countries[0][chunk], countries[1]))
        slots = store_index[chunk]
        if len(stored_rows) and (slots >= 0).any():
            keep = np.flatnonzero(slots >= 0)
            stored[slots[keep]] = block[keep]
        picks, counts = fusedrank.rank_forward(
            final, chunk, slots >= 0, part.positions, part.outside, how.flat, how.levels,
            how.steps, how.country, how.k, how.cap, spec.mutual)
        return part, picks, counts

    with ThreadPoolExecutor(max_workers=threads) as pool, _reused_blocks():
        blocks = list(pool.map(work, range(0, len(rows), BLOCK)))
        if spec.mutual:
            _rank_mutual(pool, blocks, stored, store_index, ready,
                         np.ascontiguousarray(matcher.model.quantiles[candidates].T), how)
    kept = _Kept(stored, store_index)
    results: list[np.ndarray] = []
    for part, picks, counts in blocks:
        lists = [candidates[picks[i, :count]] for i, count in enumerate(counts.tolist())]
        left = np.flatnonzero(counts == fusedrank.DEFERRED)  # a row needs a city not kept
        if len(left):
            rest = _Shortlist(part.queries[left], part.positions[left], part.scores[left],
                              part.outside[left])
            values = _reverse_scores(arrays, ready, rest, kept) if spec.mutual else None
            for i, picked in zip(left.tolist(), _rank_block(matcher, rest, spec, values, kept),
                                 strict=True):
                lists[i] = picked
        results.extend(lists)
    answers: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(asked)
    for position, picked in zip(order.tolist(), results, strict=True):
        answers[position] = picked
    return answers


TILE = 256  # query positions whose reverse scores are copied into rows at once


def _rank_mutual(pool, blocks: list, stored: np.ndarray, store_index: np.ndarray, ready,
                 by_level: np.ndarray, how: _Ranking) -> None:
    """Mutual picks of every row the forward pass left (candidate queries), written into the
    blocks' picks and counts. Rows go by query position, TILE positions at a time: the kept
    rows' columns for those positions are copied into rows once (fusedmutual.columns_as_rows),
    so each query reads its reverse scores s(j -> q) from one contiguous row."""
    from matcher.ranking import fusedmutual, fusedrank

    todo = [np.flatnonzero(counts == fusedrank.DEFERRED) for _, _, counts in blocks]
    if not sum(len(rows) for rows in todo):
        return
    parts = [(part, rows) for (part, _, _), rows in zip(blocks, todo, strict=True)]
    queries = np.concatenate([part.queries[rows] for part, rows in parts])
    order = np.argsort(ready.positions[queries], kind="stable")
    queries = queries[order]
    positions = np.concatenate([part.positions[rows] for part, rows in parts])[order]
    scores = np.concatenate([part.scores[rows] for part, rows in parts])[order]
    outside = np.concatenate([part.outside[rows] for part, rows in parts])[order]
    query_positions = ready.positions[queries]
    tiles = query_positions // TILE
    bounds = np.flatnonzero(np.diff(tiles)) + 1
    spans = list(zip(np.r_[0, bounds].tolist(), np.r_[bounds, len(queries)].tolist(),
                     strict=True))
    slot_of = store_index[ready.candidates]
    local = threading.local()

    def run(span: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        low, high = span
        first = int(tiles[low]) * TILE
        width = min(TILE, stored.shape[1] - first)
        if getattr(local, "tile", None) is None:
            local.tile = np.empty((TILE, len(stored)), dtype=stored.dtype)
        fusedmutual.columns_as_rows(stored, first, width, local.tile)
        chunk = queries[low:high]
        return fusedmutual.rank_mutual(
            stored, local.tile, first, store_index[chunk], query_positions[low:high], chunk,
            positions[low:high], scores[low:high], outside[low:high], how.flat,
            ready.candidates, slot_of, by_level, how.levels, how.steps, how.country, how.k,
            how.cap)

    picks = np.empty((len(queries), how.k), dtype=np.int64)
    counts = np.empty(len(queries), dtype=np.int64)
    for (low, high), (tile_picks, tile_counts) in zip(spans, pool.map(run, spans),
                                                       strict=True):
        picks[low:high], counts[low:high] = tile_picks, tile_counts
    picks[order], counts[order] = picks.copy(), counts.copy()  # back to the blocks' order
    start = 0
    for (_, block_picks, block_counts), rows in zip(blocks, todo, strict=True):
        block_picks[rows] = picks[start:start + len(rows)]
        block_counts[rows] = counts[start:start + len(rows)]
        start += len(rows)


@dataclass
class _Kept:
    """The stage-one forward rows the batch keeps (candidate queries), by city row."""

    stored: np.ndarray
    store_index: np.ndarray

    def row(self, query: int) -> np.ndarray | None:
        slot = self.store_index[query]
        return self.stored[slot] if slot >= 0 else None

    def reverse_of(self, matcher, query: int):
        """reverse_of(rows, cache) for Matcher.pick: each row's percentile of `query`, read
        from the kept rows (the same values `Matcher._reverse` computes)."""
        arrays = matcher.model.arrays
        position = prepared(arrays).positions[query]

        def read(rows: np.ndarray, cache: dict | None = None) -> np.ndarray:
            rows = np.asarray(rows, dtype=np.int64)
            if position < 0:
                return np.zeros(len(rows))  # nobody's list holds it
            slots = self.store_index[rows]
            values = np.empty(len(rows), dtype=scorer.OUT_DTYPE)
            kept = slots >= 0
            values[kept] = self.stored[slots[kept], position]
            if not kept.all():
                values[~kept] = reverse.reverse_scores(arrays, query, rows[~kept])
            return matcher.model.percentile_of(rows, values.astype(np.float64))

        return read


def _reverse_scores(arrays, ready, part: _Shortlist, kept: _Kept) -> np.ndarray:
    """s(j -> q) for every shortlisted j of every query q in the block, (q, SHORTLIST): read
    from j's stored forward row, else computed from q's rows (reverse.reverse_scores)."""
    out = np.full(part.positions.shape, -np.inf, dtype=np.float64)
    query_position = ready.positions[part.queries]
    partner_rows = ready.candidates[part.positions]
    slots = kept.store_index[partner_rows]
    readable = (slots >= 0) & (query_position[:, None] >= 0)
    which = np.nonzero(readable)
    out[which] = kept.stored[slots[which], query_position[which[0]]]
    for i in np.flatnonzero(~readable.all(axis=1) & (query_position >= 0)).tolist():
        missing = ~readable[i]
        out[i, missing] = reverse.reverse_scores(arrays, int(part.queries[i]),
                                                partner_rows[i, missing])
    return out


def _rank_block(matcher, part: _Shortlist, spec: rank.Filters,
                reverse_values: np.ndarray | None, kept: _Kept) -> list[np.ndarray]:
    """Rank each query of a block from its shortlist; where the bound fails, the one-query
    path ranks it (from its kept forward row when there is one)."""
    model = matcher.model
    ready = prepared(model.arrays)
    shape = part.positions.shape
    query_repeat = np.repeat(part.queries, shape[1])
    forward = model.percentile_of(query_repeat, part.scores.ravel()).reshape(shape)
    bound = np.maximum(model.percentile_of(part.queries, part.outside), rank.PERCENTILE_FLOOR)
    if spec.mutual:
        partner_rows = ready.candidates[part.positions].ravel()
        reverse = model.percentile_of(partner_rows, reverse_values.ravel()).reshape(shape)
        ranking = rank.combine_sides(forward, reverse, True)
        ceiling = np.where(ready.positions[part.queries] >= 0, 1.0, rank.PERCENTILE_FLOOR)
        bound = np.sqrt(bound * ceiling)
    else:
        ranking = rank.combine_sides(forward, None, False)
    country_ids = matcher.evidence.country_ids
    out = []
    for i, query in enumerate(part.queries.tolist()):
        finite = np.isfinite(part.scores[i])
        rows_i = ready.candidates[part.positions[i][finite]]
        values = ranking[i][finite]
        order_index = np.lexsort((rows_i, -values))
        order = rows_i[order_index]
        picks = order[:spec.k] if spec.cap is None else \
            rank.greedy_cap(order, country_ids, spec.k, spec.cap)
        value_of = dict(zip(order.tolist(), values[order_index].tolist(), strict=True))
        exact = not np.isfinite(part.outside[i]) or (
            len(picks) == spec.k and min(value_of[p] for p in picks.tolist()) > bound[i])
        out.append(picks if exact else _one_query(matcher, query, spec, kept,
                                                  part.positions[i], part.scores[i]))
    return out


def _one_query(matcher, query: int, spec: rank.Filters, kept: _Kept,
               positions: np.ndarray, final: np.ndarray) -> np.ndarray:
    """The one-query path's picks, from the query's kept stage-one row when there is one (its
    masked cells are ineligible there too) with the shortlist's final scores written back:
    stage two only reorders cells inside the shortlist, so that is the final row."""
    row = kept.row(query)
    if row is None:
        return matcher.top_rows(np.array([query]), spec)[0]
    arrays = matcher.model.arrays
    candidates = prepared(arrays).candidates
    scores = np.full(arrays.n_cities, -np.inf)
    scores[candidates] = row
    scores[candidates[positions]] = final
    return matcher.pick(query, scores, spec, kept.reverse_of(matcher, query))[0]
