"""The compiled batch kernels against their numpy references: the same bits, the same cells."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matcher_factories import random_arrays

from matcher.ranking import batch, fused
from matcher.scoring import scorer
from matcher.scoring.signals import INTERACTION_SIGNALS


def _without_interactions(arrays, kind: str) -> None:
    """Drop the interaction signals from one re-ranker part: a block then mixes rows that
    weigh LightFM products with rows that do not (the snapshot's warm and cold parts)."""
    part = arrays.rerank[kind]
    keep = [i for i, name in enumerate(part["signals"]) if name not in INTERACTION_SIGNALS]
    arrays.rerank[kind] = {key: [part[key][i] for i in keep] if key != "intercept" else
                           part[key] for key in ("signals", "mean", "scale", "coef",
                                                 "intercept")}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("mixed", [False, True])
def test_fused_dense_terms_give_the_numpy_bits(seed, mixed):
    arrays = random_arrays(seed, n=60)
    if mixed:
        _without_interactions(arrays, "warm")
    rows = np.arange(arrays.n_cities)
    expected = scorer.block_scores(arrays, rows)
    fast = scorer.block_scores(arrays, rows, terms=(fused.add_dense_terms,
                                                      scorer.add_graph_terms))
    np.testing.assert_array_equal(fast, expected)
    # one query and other columns go to the numpy version itself
    columns = np.array([3, 1, 20, 5])
    np.testing.assert_array_equal(
        scorer.block_scores(arrays, rows[:5], columns,
                            terms=(fused.add_dense_terms, scorer.add_graph_terms)),
        scorer.block_scores(arrays, rows[:5], columns))


rows_of_values = st.lists(st.one_of(st.floats(-3, 3, width=32), st.sampled_from([0.0, 1.0]),
                                    st.just(-np.inf)), min_size=1, max_size=120)


@settings(max_examples=80, deadline=None)
@given(values=rows_of_values.filter(lambda v: len(v) >= 2), size=st.integers(1, 60),
       countries=st.lists(st.integers(0, 3), min_size=120, max_size=120),
       own=st.integers(0, 3), domestic=st.booleans())
def test_mask_and_shortlist_keep_the_best_cells_and_the_bound(values, size, countries, own,
                                                               domestic):
    row = np.array(values, dtype=np.float32)
    column_country = np.array(countries[:len(row)], dtype=np.int64)
    block, final = row[None, :].copy(), row[None, :].copy()
    size = min(size, len(row) - 1)
    positions, scores, outside = fused.mask_and_shortlist(
        block, final, np.array([own]), column_country, domestic, size)
    expected = row.copy()
    if domestic:
        expected[column_country == own] = -np.inf
    np.testing.assert_array_equal(block[0], expected)
    np.testing.assert_array_equal(final[0], expected)
    ranked = np.sort(expected)[::-1]
    assert len(set(positions[0].tolist())) == size
    np.testing.assert_array_equal(np.sort(scores[0])[::-1], ranked[:size])
    np.testing.assert_array_equal(scores[0], expected[positions[0]])
    assert outside[0] == ranked[size]


def test_batch_shortlist_of_a_wide_row_takes_the_sampled_threshold_path():
    """Rows wider than the sample stride pick a threshold first; ties and -inf included."""
    rng = np.random.default_rng(3)
    block = rng.integers(0, 50, size=(4, 3000)).astype(np.float32)
    block[1, ::3] = -np.inf
    part = batch._shortlist(block, np.arange(4), 300)
    for i in range(4):
        ranked = np.sort(block[i])[::-1]
        np.testing.assert_array_equal(np.sort(part.scores[i])[::-1], ranked[:300])
        assert part.outside[i] == ranked[300]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.sampled_from([0.0, 1.0, 2.5, -1.0]) | st.floats(-3, 3),
                       min_size=1, max_size=80))
def test_ranked_is_a_stable_argsort_of_minus_values(values):
    row = np.array(values)
    order = np.empty(len(row), dtype=np.int64)
    fused.ranked(row, len(row), np.empty(len(row), dtype=np.int64), order)
    assert order.tolist() == np.lexsort((np.arange(len(row)), -row)).tolist()
