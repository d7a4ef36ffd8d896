"""Percentiles read off each city's stored score quantiles: every way gives the same bits."""

from __future__ import annotations

import numpy as np
import pytest
from matcher_factories import random_arrays

from matcher.ranking import percentiles
from matcher.scoring import final_scores


def test_percentiles_are_monotone_and_bounded():
    levels = percentiles.quantile_levels()
    quantiles = np.sort(np.random.default_rng(0).normal(size=(1, len(levels))), axis=1)
    values = np.linspace(-5, 5, 50)
    found = percentiles.percentile_from_quantiles(np.repeat(quantiles, 50, axis=0), levels,
                                                  values)
    assert (np.diff(found) >= 0).all()
    assert found[0] == 0.0 and levels[-1] < found[-1] < 1.0


def test_regression_scores_above_the_top_quantile_do_not_tie():
    """Bug: every candidate above a city's highest stored quantile got percentile 1.0, so the
    best few (the ones a top-10 shows) were ordered by row number, not by score."""
    from matcher.ranking.rank import percentile_in_row

    levels = percentiles.quantile_levels()
    quantiles = np.linspace(-3.0, 3.0, len(levels))
    values = np.array([3.1, 3.5, 4.0, 6.0])
    for found in (percentile_in_row(quantiles, levels, values),
                  percentiles.percentile_from_quantiles(np.tile(quantiles, (4, 1)), levels,
                                                        values)):
        assert (np.diff(found) > 0).all()
        assert (found > levels[-1]).all() and (found < 1.0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_row_percentiles_equal_the_gathered_and_single_row_versions(seed):
    from matcher.ranking.rank import percentile_in_row

    rng = np.random.default_rng(seed)
    levels = percentiles.quantile_levels(11)
    table = np.sort(rng.normal(size=(6, 11)), axis=1).astype(np.float32)
    table[2, 3:6] = table[2, 3]  # repeated quantiles: flat stretches
    rows = rng.integers(0, 6, 400)
    values = np.concatenate([rng.normal(scale=2.0, size=396), [-np.inf, np.inf, 0.0, 10.0]])
    values[:20] = table[rows[:20], rng.integers(0, 11, 20)]  # exactly on a quantile
    fast = percentiles.row_percentiles(table, rows, levels, values)
    np.testing.assert_array_equal(
        fast, percentiles.percentile_from_quantiles(table[rows], levels, values))
    for row in range(6):
        chosen = rows == row
        np.testing.assert_array_equal(fast[chosen], percentile_in_row(table[row], levels,
                                                                      values[chosen]))


@pytest.mark.parametrize("seed", [0, 1])
def test_score_quantiles_equal_nanquantile_of_each_row_in_any_batch(seed):
    """Batches of one history kind and the vectorised quantiles change no value."""
    arrays = random_arrays(seed, n=40)
    sample = np.flatnonzero(arrays.candidate_mask)
    levels = percentiles.quantile_levels(11)
    scores = final_scores.score_matrix(arrays, np.arange(arrays.n_cities), columns=sample)
    expected = np.nanquantile(np.where(np.isfinite(scores), scores, np.nan), levels, axis=1).T
    np.testing.assert_array_equal(percentiles.score_quantiles(arrays, sample, levels, batch=7),
                                  expected.astype(np.float32))
    rows = np.array([33, 2, 17, 5])
    np.testing.assert_array_equal(percentiles.score_quantiles(arrays, sample, levels, rows=rows),
                                  expected[rows].astype(np.float32))
