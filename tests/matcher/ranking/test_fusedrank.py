"""The compiled batch ranking against ranking every eligible cell with the numpy functions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from topk_factories import LEVELS, STEPS, quantile_table, random_scores, ranked_every_cell

from matcher.ranking import batch, fusedrank, percentiles, rank


def test_percentile_known_answers():
    flat = np.array([0.0, 1.0, 1.0, 3.0], dtype=np.float32)
    levels = np.array([0.0, 0.5, 0.75, 0.9])
    steps = np.diff(levels)
    assert fusedrank._percentile(flat, 0, levels, steps, -1.0) == 0.0
    assert fusedrank._percentile(flat, 0, levels, steps, 0.5) == 0.25
    assert fusedrank._percentile(flat, 0, levels, steps, 2.0) == 0.825
    assert fusedrank._percentile(flat, 0, levels, steps, -np.inf) == 0.0
    assert fusedrank._percentile(flat, 0, levels, steps, 5.0) == 0.95  # beyond the top


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(1, 40))
def test_percentile_gives_the_numpy_bits(seed, count):
    rng = np.random.default_rng(seed)
    table = quantile_table(rng, 4)
    rows = rng.integers(0, 4, count)
    values = np.concatenate([rng.normal(scale=2.0, size=count - 1), [-np.inf]])
    values[::4] = table[rows[::4], rng.integers(0, len(LEVELS), len(rows[::4]))]  # on a knot
    expected = percentiles.row_percentiles(table, rows, LEVELS, values)
    flat = table.reshape(-1)
    found = [fusedrank._percentile(flat, int(row) * len(LEVELS), LEVELS, STEPS, float(value))
             for row, value in zip(rows, values, strict=True)]
    np.testing.assert_array_equal(found, expected)
    one = rank.percentile_in_row(table[rows[0]], LEVELS, values)
    np.testing.assert_array_equal([fusedrank._percentile(flat, int(rows[0]) * len(LEVELS),
                                                         LEVELS, STEPS, float(v))
                                   for v in values], one)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 8), cap=st.integers(1, 4),
       width=st.integers(1, 30), mutual=st.booleans())
def test_rank_forward_equals_ranking_every_cell(seed, k, cap, width, mutual):
    rng = np.random.default_rng(seed)
    rows, columns = 6, 40
    final = random_scores(rng, rows, columns)
    table = quantile_table(rng, rows)
    country = rng.integers(0, 5, columns)
    part = batch._shortlist(final, np.arange(rows), width)
    picks, counts = fusedrank.rank_forward(
        final, np.arange(rows), np.zeros(rows, dtype=bool), part.positions, part.outside,
        table.reshape(-1), LEVELS, STEPS, country, k, cap, mutual)
    for i in range(rows):
        f = rank.percentile_in_row(table[i], LEVELS, final[i].astype(np.float64))
        values = rank.combine_sides(f, np.zeros_like(f), True) if mutual else f
        values[~np.isfinite(final[i])] = -np.inf
        assert picks[i, :counts[i]].tolist() == ranked_every_cell(values, country, k, cap)


@pytest.mark.parametrize("mutual", [False, True])
def test_rank_forward_breaks_ties_of_value_by_position_not_score(mutual):
    """Scores below every quantile of the row all have percentile 0: a tie the picks break
    to the lowest positions, whatever the scores (regression: reading only the best cells by
    score, as the pruned ranking does, must not decide such ties by score)."""
    rng = np.random.default_rng(3)
    final = rng.normal(size=(1, 60)).astype(np.float32)
    table = np.sort(rng.uniform(10, 20, size=(1, len(LEVELS))), axis=1).astype(np.float32)
    part = batch._shortlist(final, np.arange(1), 50)
    picks, counts = fusedrank.rank_forward(
        final, np.arange(1), np.zeros(1, dtype=bool), part.positions, part.outside,
        table.reshape(-1), LEVELS, STEPS, np.arange(60) % 7, 3, 3, mutual)
    assert picks[0, :counts[0]].tolist() == [0, 1, 2]
