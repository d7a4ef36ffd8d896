"""The compiled mutual ranking of the batch against ranking every eligible cell with numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from topk_factories import LEVELS, STEPS, quantile_table, random_scores, ranked_every_cell

from matcher.ranking import batch, fusedmutual, percentiles, rank


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 8), cap=st.integers(1, 4),
       width=st.integers(1, 12), kept_share=st.sampled_from([1.0, 1.0, 0.7]))
def test_rank_mutual_equals_ranking_every_cell(seed, k, cap, width, kept_share):
    """Candidates ask candidates: stage-one rows kept (s(j -> q) is column q of row j), final
    rows differing inside the shortlist; a row that needs a city not kept is DEFERRED."""
    rng = np.random.default_rng(seed)
    n = 30
    stage_one = random_scores(rng, n, n)
    np.fill_diagonal(stage_one, -np.inf)
    table = quantile_table(rng, n)
    country = rng.integers(0, 5, n)
    final = stage_one.copy()
    part = batch._shortlist(final, np.arange(n), width)
    part.scores[:] = rng.permuted(part.scores, axis=1)  # stage two: a permutation
    for i in range(n):
        final[i, part.positions[i]] = part.scores[i]
    slot_of = np.where(rng.random(n) < kept_share, np.arange(n), -1)
    by_level = np.ascontiguousarray(table.T)
    picks, counts = np.empty((n, k), dtype=np.int64), np.empty(n, dtype=np.int64)
    tile = np.full((16, n), np.nan, dtype=np.float32)
    for first in (0, 16):  # two tiles of query positions, the second one short
        width = min(16, n - first)
        fusedmutual.columns_as_rows(stage_one, first, width, tile)
        span = np.arange(first, first + width)
        picks[span], counts[span] = fusedmutual.rank_mutual(
            stage_one, tile, first, span, span, span, part.positions[span], part.scores[span],
            part.outside[span], table.reshape(-1), np.arange(n), slot_of, by_level, LEVELS,
            STEPS, country, k, cap)
    for q in range(n):
        if counts[q] == fusedmutual.DEFERRED:
            assert (slot_of < 0).any()
            continue
        f = rank.percentile_in_row(table[q], LEVELS, final[q].astype(np.float64))
        r = percentiles.row_percentiles(table, np.arange(n), LEVELS,
                                        stage_one[:, q].astype(np.float64))
        values = rank.combine_sides(f, r, True)
        values[~np.isfinite(final[q])] = -np.inf
        assert picks[q, :counts[q]].tolist() == ranked_every_cell(values, country, k, cap)


def test_columns_as_rows_copies_a_window_of_columns():
    rng = np.random.default_rng(5)
    stored = rng.normal(size=(70, 40)).astype(np.float32)  # more than one run of 64 rows
    out = np.zeros((8, 70), dtype=np.float32)
    fusedmutual.columns_as_rows(stored, 30, 7, out)
    np.testing.assert_array_equal(out[:7], stored[:, 30:37].T)
    assert not out[7].any()  # past the window: untouched


def test_rank_mutual_breaks_ties_of_value_by_position():
    """Every score below every quantile: all mutual values tie, so the picks are the lowest
    positions, most of them outside the shortlist (regression: the scan past the shortlist
    must keep a cell whose value equals the k-th pick's, not only those above it)."""
    rng = np.random.default_rng(4)
    n = 40
    stage_one = rng.normal(size=(n, n)).astype(np.float32)
    np.fill_diagonal(stage_one, -np.inf)
    table = np.sort(rng.uniform(10, 20, size=(n, len(LEVELS))), axis=1).astype(np.float32)
    part = batch._shortlist(stage_one.copy(), np.arange(n), 5)
    tile = np.empty((n, n), dtype=np.float32)
    fusedmutual.columns_as_rows(stage_one, 0, n, tile)
    query = np.array([n - 1])
    picks, counts = fusedmutual.rank_mutual(
        stage_one, tile, 0, query, query, query, part.positions[query], part.scores[query],
        part.outside[query], table.reshape(-1), np.arange(n), np.arange(n),
        np.ascontiguousarray(table.T), LEVELS, STEPS, np.arange(n) % 7, 3, 3)
    assert picks[0, :counts[0]].tolist() == [0, 1, 2]
