"""The folded scorer and the batch path against the reference sum and the one-query path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matcher_factories import make_model_dir, random_arrays

from matcher.api import Matcher
from matcher.ranking import batch, rank
from matcher.scoring import final_scores, reverse, scorer, signals


def reference(arrays, queries, columns):
    """The sixteen signal arrays, then the re-ranker's weighted sum (float64)."""
    return final_scores.score_matrix(arrays, queries,
                                     signals.signal_matrices(arrays, queries, columns), columns)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_block_scores_equal_the_reference_sum(seed):
    arrays = random_arrays(seed)
    rows = np.arange(arrays.n_cities)
    candidates = np.flatnonzero(arrays.candidate_mask)
    fast = scorer.block_scores(arrays, rows)
    expected = reference(arrays, rows, candidates)
    assert (np.isfinite(fast) == np.isfinite(expected)).all()
    finite = np.isfinite(expected)
    np.testing.assert_allclose(fast[finite], expected[finite], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_rows_columns_and_reverse_agree_with_the_block(seed):
    arrays = random_arrays(seed)
    rows = np.arange(arrays.n_cities)
    columns = np.array([3, 1, 20, 5, 29])
    block = scorer.block_scores(arrays, rows, columns)
    for row in (0, 7, 29):
        np.testing.assert_allclose(scorer.block_scores(arrays, np.array([row]), columns)[0],
                                   block[row], rtol=1e-6, atol=1e-5)
    for position, column in enumerate(columns):
        np.testing.assert_allclose(reverse.reverse_scores(arrays, int(column), rows),
                                   block[:, position], rtol=1e-6, atol=1e-5)


def test_self_and_non_candidates_score_minus_infinity():
    arrays = random_arrays(1)
    outsider = int(np.flatnonzero(~arrays.candidate_mask)[0])
    insider = int(np.flatnonzero(arrays.candidate_mask)[0])
    scores = scorer.block_scores(arrays, np.array([insider, outsider]),
                                 np.array([insider, outsider]))
    assert scores[0, 0] == -np.inf and (scores[:, 1] == -np.inf).all()
    assert np.isfinite(scores[1, 0])
    assert (reverse.reverse_scores(arrays, outsider, np.arange(5)) == -np.inf).all()


def test_unused_signals_cost_nothing_and_change_nothing():
    """A re-ranker without graph or distance signals skips them: the logit is LightFM-only."""
    arrays = random_arrays(2)
    only = {kind: {"signals": ["lightfm"], "mean": [0.0], "scale": [1.0], "coef": [2.0],
                   "intercept": 0.5} for kind in ("warm", "cold")}
    rows = np.arange(arrays.n_cities)
    candidates = np.flatnonzero(arrays.candidate_mask)
    lightfm = signals.signal_matrices(arrays, rows, candidates)["lightfm"]
    fast = scorer.block_scores(arrays, rows, rerank=only)
    finite = np.isfinite(fast)
    np.testing.assert_allclose(fast[finite], (0.5 + 2.0 * lightfm)[finite], rtol=1e-5, atol=1e-5)
    for position in (0, 3):  # the reverse side reads the same LightFM-only logit
        column = int(candidates[position])
        np.testing.assert_allclose(reverse.reverse_scores(arrays, column, rows, rerank=only),
                                   fast[:, position], rtol=1e-6, atol=1e-5)


@pytest.fixture(scope="module", params=[0, 6], ids=["stage-one", "stage-two+admin1"])
def matcher(tmp_path_factory, request) -> Matcher:
    return Matcher.load(make_model_dir(tmp_path_factory.mktemp("model") / "v1",
                                       refine_depth=request.param, admin1=request.param > 0))


def one_at_a_time(matcher: Matcher, rows: np.ndarray, spec: rank.Filters) -> list[list[int]]:
    return [matcher.top_rows(np.array([row]), spec)[0].tolist() for row in rows]


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 12), per_country=st.sampled_from([None, 1, 2, 3]),
       mutual=st.booleans(), include_domestic=st.booleans())
def test_batch_lists_equal_one_at_a_time(matcher, k, per_country, mutual, include_domestic):
    spec = matcher.make_filters(k, per_country=per_country, mutual=mutual,
                                include_domestic=include_domestic)
    rows = np.arange(matcher.model.n_cities)
    lists = [picks.tolist() for picks in batch.top_lists(matcher, rows, spec)]
    assert lists == one_at_a_time(matcher, rows, spec)


def test_batch_shortlist_falls_back_when_the_bound_fails(matcher, monkeypatch):
    """With a shortlist of one, the bound can rarely hold: the one-query path must answer."""
    monkeypatch.setattr(batch, "SHORTLIST", 1)
    spec = matcher.make_filters(5, per_country=1)
    monkeypatch.setattr(rank.Filters, "k", 5, raising=False)
    rows = np.arange(matcher.model.n_cities)
    small = rank.Filters(k=1, per_country=1)
    assert [p.tolist() for p in batch.top_lists(matcher, rows, small)] == \
        one_at_a_time(matcher, rows, small)
    assert [p.tolist() for p in batch.top_lists(matcher, rows, spec)] == \
        one_at_a_time(matcher, rows, spec)


def test_partial_mutual_batch_falls_back_from_kept_rows(matcher, monkeypatch):
    """A partial mutual batch whose shortlist bound fails ranks the row by the one-query path,
    from the row the batch kept, reading the reverse scores of the asked cities from their kept
    rows and computing the others (batch._Kept.reverse_of): the lists equal one at a time."""
    monkeypatch.setattr(batch, "SHORTLIST", 1)
    kept_rows = []
    original = batch._one_query
    monkeypatch.setattr(batch, "_one_query", lambda matcher_, query, spec, kept, *rest: (
        kept_rows.append(kept.row(query) is not None) or original(matcher_, query, spec, kept,
                                                                   *rest)))
    rows = np.arange(matcher.model.n_cities)[::2]
    for per_country in (None, 1):
        spec = matcher.make_filters(1, per_country=per_country, mutual=True)
        assert [p.tolist() for p in batch.top_lists(matcher, rows, spec)] == \
            one_at_a_time(matcher, rows, spec)
    assert any(kept_rows)  # the path under test ran


@pytest.mark.parametrize("asked", ["every city", "every other city"])
def test_mutual_tiles_of_query_positions_give_the_same_lists(matcher, monkeypatch, asked):
    """Mutual rows are ranked TILE query positions at a time (reverse scores copied into rows
    per tile): tiles of 3, a short last tile and a partial batch change no list."""
    monkeypatch.setattr(batch, "TILE", 3)
    rows = np.arange(matcher.model.n_cities)
    rows = rows if asked == "every city" else rows[::2]
    for per_country in (None, 1):
        spec = matcher.make_filters(4, per_country=per_country, mutual=True)
        assert [p.tolist() for p in batch.top_lists(matcher, rows, spec)] == \
            one_at_a_time(matcher, rows, spec)


def test_filters_the_batch_does_not_handle_go_through_the_one_query_path(matcher):
    spec = matcher.make_filters(4, min_population=100_000, max_km=5000)
    assert not batch.supported(spec)
    rows = np.arange(matcher.model.n_cities)
    assert [p.tolist() for p in matcher.top_rows(rows, spec)] == one_at_a_time(matcher, rows,
                                                                               spec)


def test_stored_lightfm_moments_are_optional_and_checked(tmp_path):
    """Models written before lightfm_moments.npy load and rank the same; a bad file is named."""
    import shutil

    from matcher.errors import ModelLoadError
    from matcher.store.model import Model

    older = make_model_dir(tmp_path / "older")  # the factory writes no moments file
    computed = Model.load(older)
    rows = np.arange(computed.n_cities)
    directory = tmp_path / "v1"
    shutil.copytree(older, directory)
    np.save(directory / "lightfm_moments.npy", np.stack(computed.arrays.user_moments))
    stored = Model.load(directory)
    assert stored.arrays.stored_user_moments is not None
    np.testing.assert_allclose(stored.scores_batch(rows), computed.scores_batch(rows),
                               rtol=1e-6, atol=1e-5)
    np.save(directory / "lightfm_moments.npy", np.zeros((2, 3)))
    with pytest.raises(ModelLoadError, match=r"lightfm_moments\.npy has shape"):
        Model.load(directory)


@pytest.fixture(scope="module", params=[0, 10], ids=["stage-one", "stage-two+admin1"])
def larger_matcher(tmp_path_factory, request) -> Matcher:
    """80 cities, a sparse graph and a high population floor: many cities are not candidates,
    so nobody's list holds them (their reverse percentile is the floor)."""
    directory = make_model_dir(tmp_path_factory.mktemp("larger") / "v1", seed=3, synthetic=60,
                               synthetic_edges=25, candidate_floor=400_000,
                               refine_depth=request.param, admin1=request.param > 0)
    return Matcher.load(directory)


@pytest.mark.parametrize("mutual", [True, False])
@pytest.mark.parametrize("per_country", [None, 2])
def test_batch_equals_one_at_a_time_with_non_candidate_queries(larger_matcher, mutual,
                                                                per_country):
    """Regression: the mutual bound took sqrt(best forward percentile outside) even for a city
    that is not a candidate, whose mutual scores are all at most sqrt(floor), so its shortlist
    grew to every candidate; the bound now uses the reverse ceiling (1, or the floor), and the
    batch and one-query paths still agree."""
    arrays = larger_matcher.model.arrays
    assert (~arrays.candidate_mask).sum() >= 5
    spec = larger_matcher.make_filters(6, per_country=per_country, mutual=mutual)
    rows = np.arange(larger_matcher.model.n_cities)
    lists = [picks.tolist() for picks in batch.top_lists(larger_matcher, rows, spec)]
    assert lists == one_at_a_time(larger_matcher, rows, spec)
    outsider = int(np.flatnonzero(~arrays.candidate_mask)[0])
    if mutual:  # nobody ranks an outsider: its mutual order is its forward order
        one_sided = larger_matcher.make_filters(6, per_country=per_country, mutual=False)
        assert lists[outsider] == one_at_a_time(larger_matcher, np.array([outsider]),
                                                one_sided)[0]


def test_an_outsider_needs_one_shortlist(larger_matcher, monkeypatch):
    """The ceiling bound settles a non-candidate's mutual list on the first shortlist."""
    monkeypatch.setattr(rank, "MUTUAL_SHORTLIST_PER_K", 1)
    monkeypatch.setattr(rank, "MUTUAL_SHORTLIST_MIN", 4)
    arrays = larger_matcher.model.arrays
    outsider = int(np.flatnonzero(~arrays.candidate_mask)[0])
    calls = []
    original = larger_matcher._reverse
    monkeypatch.setattr(larger_matcher, "_reverse",
                        lambda query, among, cache=None: calls.append(len(among))
                        or original(query, among, cache))
    larger_matcher.top_rows(np.array([outsider]), larger_matcher.make_filters(3, mutual=True))
    assert len(calls) == 1


def test_regression_shortlists_do_not_keep_their_block_alive():
    """Bug: the shortlist's positions were a view into the block's (q, candidates) argpartition,
    so a batch over every city held one such array per block (9.7 GB peak on the snapshot)."""
    block = np.random.default_rng(0).random((8, 500)).astype(np.float32)
    part = batch._shortlist(block, np.arange(8), 20)
    # not a view of any numpy array (the compiled selection owns its own allocation)
    assert not isinstance(part.positions.base, np.ndarray)
    assert part.positions.shape == (8, 20)
    expected = np.sort(np.argsort(-block, axis=1)[:, :20], axis=1)
    np.testing.assert_array_equal(np.sort(part.positions, axis=1), expected)
    np.testing.assert_array_equal(part.outside, -np.sort(-block, axis=1)[:, 20])


def test_threads_sharing_one_matcher_get_the_sequential_answers(larger_matcher):
    """The per-query caches (graph rows, anchor pairs, weights) are swapped as whole tuples, so
    concurrent recommendations never read another query's rows."""
    from concurrent.futures import ThreadPoolExecutor

    cities = [int(g) for g in larger_matcher.model.geonameids]
    expected = [larger_matcher.recommend(city, k=5) for city in cities]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            assert list(pool.map(lambda city: larger_matcher.recommend(city, k=5),
                                 cities)) == expected
