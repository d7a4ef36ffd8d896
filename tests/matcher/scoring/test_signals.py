"""The ranking contract: batch equals single, columns equal slices, reverse is the other side."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from matcher_factories import random_arrays

from matcher.scoring import final_scores, signals
from matcher.scoring.signals import SIGNALS, ScoringArrays


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batch_equals_single_and_columns_equal_slices(seed):
    arrays = random_arrays(seed)
    rows = np.array([0, 5, 7, 29])
    batch = final_scores.score_matrix(arrays, rows)
    for offset, row in enumerate(rows):  # float32: a block and a single row share no BLAS kernel
        np.testing.assert_allclose(final_scores.score_matrix(arrays, np.array([row]))[0],
                                   batch[offset], rtol=1e-6, atol=1e-5)
    columns = np.array([3, 1, 20, 5])
    np.testing.assert_allclose(final_scores.score_matrix(arrays, rows, columns=columns),
                               batch[:, columns], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_reverse_scores_are_the_other_side_of_forward_scores(seed):
    """s(j -> q) from reverse_score_vector equals row j of the forward scores at column q."""
    arrays = random_arrays(seed)
    query = 4
    arrays.candidate_mask[query] = True
    reverse = final_scores.reverse_score_vector(arrays, query)
    everyone = np.arange(arrays.n_cities)
    forward = final_scores.score_matrix(arrays, everyone,
                                   signals.signal_matrices(arrays, everyone))[:, query]
    np.testing.assert_allclose(reverse, forward, rtol=1e-9, atol=1e-9)
    among = np.array([0, 4, 9, 17])
    np.testing.assert_allclose(final_scores.reverse_score_vector(arrays, query, among),
                               reverse[among])


def test_lightfm_signal_is_standardised_over_candidates():
    arrays = random_arrays(5)
    values = signals.signal_matrices(arrays, np.array([2]))["lightfm"][0]
    candidates = values[arrays.candidate_mask]
    assert abs(candidates.mean()) < 1e-9
    assert abs(candidates.std(ddof=1) - 1.0) < 1e-9


def test_adamic_adar_known_answer():
    """A path 0-1-2 with hub 1 of degree 2: AA(0, 2) = 1/log 2; no shared partner, no score."""
    arrays = random_arrays(0, n=5)
    arrays = ScoringArrays(**{**{f: getattr(arrays, f) for f in (
        "user_embeddings", "item_embeddings", "user_biases", "item_biases", "geo", "lat", "lon",
        "population", "country_index", "candidate_mask", "is_capital", "rerank")},
        "graph": sp.csr_matrix(np.array([[0, 1, 0, 0, 0], [1, 0, 1, 0, 0], [0, 1, 0, 0, 0],
                                         [0, 0, 0, 0, 1], [0, 0, 0, 1, 0]], dtype=float))})
    adamic_adar = signals.signal_matrices(arrays, np.array([0]))["adamic_adar"][0]
    # column 0 is the query itself (masked by score_matrix); the rest is the known answer
    np.testing.assert_allclose(adamic_adar[1:], np.log1p([0, 1 / np.log(2), 0, 0]))


def test_self_and_non_candidates_are_never_scored():
    arrays = random_arrays(9)
    scores = final_scores.score_matrix(arrays, np.arange(arrays.n_cities))
    assert np.isneginf(np.diag(scores)).all()
    assert np.isneginf(scores[:, ~arrays.candidate_mask]).all()


def test_interaction_signals_are_the_products_of_their_parts_both_ways():
    arrays = random_arrays(4)
    forward = signals.signal_matrices(arrays, np.array([3, 8]))
    np.testing.assert_array_equal(forward["lightfm_distance"],
                                  forward["lightfm"] * forward["log_distance"])
    np.testing.assert_array_equal(forward["size_gap_squared"], forward["size_gap"] ** 2)
    reverse = signals.reverse_signals(arrays, 3)
    assert set(reverse) == set(SIGNALS)
    np.testing.assert_allclose(reverse["lightfm_country_pair"],
                               reverse["lightfm"] * reverse["country_pair"])
    from training.model.rerank import COLD_SIGNALS, WARM_SIGNALS

    assert set(signals.INTERACTION_SIGNALS) <= set(COLD_SIGNALS)
    assert not set(signals.INTERACTION_SIGNALS) & set(WARM_SIGNALS)
