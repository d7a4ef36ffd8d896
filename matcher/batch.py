"""Top-k lists for many cities at once, the same lists `Matcher.recommend` gives one at a time.

Blocks of query rows are scored with `scorer.block_scores` (two threads; numpy releases the
GIL), stage two reorders each row's best candidates (`refine.refine_block`, before the domestic
filter, as the one-query path does), and each row keeps a shortlist of its best forward scores.
The reverse scores s(j -> q) for the shortlisted pairs are read from the stage-one forward rows
of the candidate cities (the reverse side reads stage one everywhere), which the batch keeps
(float32, candidates asked x candidates: 2 GB for every city of the snapshot), so a full batch
scores every pair once. The shortlist is exact under the one-query path's bound: the mutual
score sqrt(f * r) is at most sqrt(f * ceiling) (ceiling 1, or the floor for a city no list
holds), so when the k picks all beat sqrt(best f outside the shortlist * ceiling) nobody outside
could enter; a row where that fails is ranked by the one-query path (`Matcher.pick`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from matcher import rank, refine, scorer
from matcher.prepared import prepared

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


def masked_block(arrays, queries: np.ndarray,
                 include_domestic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Scores (q, candidates) with the query, its partners and (unless allowed) its own
    country's cities set to -inf (the masks that hold both ways, so reverse reads stay right):
    stage one's (what reverse reads) and the final ones (stage two applied, matcher.refine)."""
    block, final = _scored_block(arrays, queries)
    if not include_domestic:
        ready = prepared(arrays)
        same = arrays.country_index[queries][:, None] == ready.candidate_countries[None, :]
        block[same] = -np.inf
        final[same] = -np.inf
    return block, final


def _scored_block(arrays, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stage one's and the final scores (q, candidates), the query and its partners -inf, with
    the compiled kernels of matcher.fused (imported here: the one-query path never loads
    numba)."""
    from matcher import fused

    ready = prepared(arrays)
    products: dict = {}
    block = scorer.block_scores(arrays, queries, graph_out=products,
                                dense_terms=fused.add_dense_terms)
    position = ready.positions
    graph = arrays.graph
    counts = np.diff(graph.indptr)[queries]
    partner_rows = np.repeat(np.arange(len(queries)), counts)
    partners = np.concatenate([arrays.partners(q) for q in queries]) if counts.sum() else \
        np.empty(0, dtype=np.int64)
    where = position[partners]
    keep = where >= 0
    block[partner_rows[keep], where[keep]] = -np.inf
    final = refine.refine_block(arrays, queries, block.copy(), graph=products,
                                top=fused.top_positions)  # before the domestic filter, as
    # the one-query path
    return block, final


def _shortlist(block: np.ndarray, queries: np.ndarray, size: int) -> _Shortlist:
    """Each row's `size` best cells (fewer columns: all but one) and the best score left
    outside, the bound (matcher.fused.mask_and_shortlist with no domestic mask)."""
    from matcher import fused

    none = np.zeros(max(len(queries), block.shape[1]), dtype=np.int64)
    return _Shortlist(queries, *fused.mask_and_shortlist(
        block, block, none[:len(queries)], none[:block.shape[1]], False,
        min(size, block.shape[1] - 1)))


def top_lists(matcher, rows: np.ndarray, spec: rank.Filters,
              threads: int = 2) -> list[np.ndarray]:
    """Ranked candidate rows for each query row, equal to the one-query path's picks."""
    arrays = matcher.model.arrays
    ready = prepared(arrays)
    rows = np.asarray(rows, dtype=np.int64)
    query_position = ready.positions[rows]
    # Forward rows of queries that are candidates are the reverse rows of everyone else.
    stored_rows = np.flatnonzero(query_position >= 0) if spec.mutual else np.empty(0, int)
    stored = np.empty((len(stored_rows), len(ready.candidates)), dtype=scorer.OUT_DTYPE)
    store_index = np.full(arrays.n_cities, -1, dtype=np.int64)
    store_index[rows[stored_rows]] = np.arange(len(stored_rows))

    # At least stage two's depth: a kept row plus the shortlist's final scores is the final row.
    size = max(SHORTLIST, 4 * spec.k, refine.deepest(arrays.rerank))

    width = min(size, len(ready.candidates) - 1)
    query_countries = arrays.country_index.astype(np.int64)
    column_countries = ready.candidate_countries.astype(np.int64)

    def work(start: int) -> _Shortlist:
        from matcher import fused

        chunk = rows[start:start + BLOCK]
        block, final = _scored_block(arrays, chunk)
        part = _Shortlist(chunk, *fused.mask_and_shortlist(
            block, final, query_countries[chunk], column_countries, not spec.include_domestic,
            width))
        if len(stored_rows):
            slots = store_index[chunk]
            keep = slots >= 0
            stored[slots[keep]] = block[keep]
        return part

    with ThreadPoolExecutor(max_workers=threads) as pool:
        shortlists = list(pool.map(work, range(0, len(rows), BLOCK)))
    kept = _Kept(stored, store_index)
    results: list[np.ndarray] = []
    for part in shortlists:
        reverse = _reverse_scores(arrays, ready, part, kept) if spec.mutual else None
        results.extend(_rank_block(matcher, part, spec, reverse, kept))
    return results


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
                values[~kept] = scorer.reverse_scores(arrays, query, rows[~kept])
            return matcher.model.percentile_of(rows, values.astype(np.float64))

        return read


def _reverse_scores(arrays, ready, part: _Shortlist, kept: _Kept) -> np.ndarray:
    """s(j -> q) for every shortlisted j of every query q in the block, (q, SHORTLIST): read
    from j's stored forward row, else computed from q's rows (scorer.reverse_scores)."""
    out = np.full(part.positions.shape, -np.inf, dtype=np.float64)
    query_position = ready.positions[part.queries]
    partner_rows = ready.candidates[part.positions]
    slots = kept.store_index[partner_rows]
    readable = (slots >= 0) & (query_position[:, None] >= 0)
    which = np.nonzero(readable)
    out[which] = kept.stored[slots[which], query_position[which[0]]]
    for i in np.flatnonzero(~readable.all(axis=1) & (query_position >= 0)).tolist():
        missing = ~readable[i]
        out[i, missing] = scorer.reverse_scores(arrays, int(part.queries[i]),
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
