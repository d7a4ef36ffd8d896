"""Stage two (matcher.scoring.refine): a permutation of stage one's shortlist, fitted and served."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matcher_factories import REFINE, make_model_dir, random_arrays

from matcher.api import Matcher
from matcher.errors import ModelLoadError
from matcher.ranking import rank
from matcher.scoring import final_scores, refine, signals
from training.model.rerank import fit_refine

ONE_SIGNAL = {"signals": ["lightfm"], "mean": [0.0], "scale": [1.0], "knots": [[]],
              "coef": [1.0], "intercept": 0.0}


def refined(row: np.ndarray, signal: np.ndarray, depth: int,
            excluded: np.ndarray | None = None) -> np.ndarray:
    out = row.copy()
    excluded = np.empty(0, dtype=np.int64) if excluded is None else excluded
    refine.refine_row(out, excluded, {**ONE_SIGNAL, "depth": depth},
                      lambda positions: {"lightfm": signal[positions]})
    return out


def test_known_answer_reverses_the_shortlist_only():
    row = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    signal = np.array([0.0, 1.0, 2.0, 3.0, 4.0])  # stage two prefers the later cells
    assert refined(row, signal, 3).tolist() == [3.0, 4.0, 5.0, 2.0, 1.0]


def test_excluded_cells_and_minus_infinity_stay_out():
    row = np.array([5.0, -np.inf, 4.0, 3.0, 2.0])
    signal = np.array([0.0, 9.0, 1.0, 2.0, 3.0])
    out = refined(row, signal, 2, excluded=np.array([0]))
    assert out.tolist() == [5.0, -np.inf, 3.0, 4.0, 2.0]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-5, 5), st.just(-np.inf)), min_size=1, max_size=30),
       depth=st.integers(1, 12), seed=st.integers(0, 10_000), excluded_share=st.floats(0, 0.5))
def test_stage_two_only_permutes_the_shortlist(values, depth, seed, excluded_share):
    row = np.array(values)
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=len(row))
    excluded = np.flatnonzero(rng.random(len(row)) < excluded_share)
    out = refined(row, signal, depth, excluded)
    masked = row.copy()
    masked[excluded] = -np.inf
    shortlist = refine.top_positions(masked, depth)
    outside = np.setdiff1d(np.arange(len(row)), shortlist)
    assert np.array_equal(out[outside], row[outside])  # excluded cells included
    assert sorted(out[shortlist].tolist()) == sorted(row[shortlist].tolist())
    if len(shortlist) > 1:  # stage two's order: a higher logit never gets a lower score
        order = np.lexsort((np.arange(len(shortlist)), -signal[shortlist]))
        assert np.all(np.diff(out[shortlist[order]]) <= 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_signals_equal_the_reference(seed):
    arrays = random_arrays(seed)
    cols = np.arange(arrays.n_cities)
    for query in (0, 7, 13, 29):
        fast = refine.pair_signals(arrays, query, cols[::-1])
        expected = signals.signal_matrices(arrays, np.array([query]), cols[::-1])
        for name in signals.SIGNALS:
            np.testing.assert_allclose(fast[name], expected[name][0], rtol=1e-9, atol=1e-9,
                                       err_msg=name)


@pytest.mark.parametrize("seed", [0, 1])
def test_fast_and_reference_scores_agree_with_stage_two(seed):
    arrays = random_arrays(seed)
    for part in arrays.rerank.values():
        part["refine"] = {**REFINE, "depth": 8}
    rows = np.arange(arrays.n_cities)
    fast = final_scores.score_matrix(arrays, rows)
    reference = final_scores.score_matrix(arrays, rows, signals.signal_matrices(arrays, rows))
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-5)
    for part in arrays.rerank.values():
        del part["refine"]
    first = final_scores.score_matrix(arrays, rows)
    assert not np.allclose(first, fast)  # stage two did reorder something
    assert np.array_equal(np.sort(first, axis=1), np.sort(fast, axis=1))


def test_stage_two_changes_the_served_lists(tmp_path):
    one = Matcher.load(make_model_dir(tmp_path / "one"))
    two = Matcher.load(make_model_dir(tmp_path / "two", refine_depth=6))
    spec = rank.Filters(k=5, per_country=None, mutual=False)
    rows = np.arange(one.model.n_cities)
    first = [p.tolist() for p in one.top_rows(rows, spec)]
    second = [p.tolist() for p in two.top_rows(rows, spec)]
    assert first != second


def test_fit_refine_learns_a_bend_a_linear_model_cannot():
    """Planted: partners sit at middling values of one signal; the hinges rank them first."""
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, 4000)
    labels = (np.abs(values - 0.5) < 0.1).astype(float)
    fitted = fit_refine({"lightfm": values}, labels, ("lightfm",), depth=50, knots=4, c=10.0,
                        seed=0)
    probe = np.array([0.05, 0.5, 0.95])
    logit = refine.stage_two(fitted, {"lightfm": probe})
    assert logit[1] > logit[0] and logit[1] > logit[2]
    assert refine.problems({"warm": {"refine": fitted}}) == []


def test_fit_refine_needs_both_labels():
    values = {"lightfm": np.arange(10.0)}
    assert fit_refine(values, np.zeros(10), ("lightfm",), 5, 4, 1.0, 0) is None
    assert fit_refine({"lightfm": np.ones(10)}, np.arange(10) % 2, ("lightfm",), 5, 4, 1.0,
                      0) is None


def test_damaged_stage_two_is_named_at_load(tmp_path):
    path = make_model_dir(tmp_path / "v1", refine_depth=6)
    document = json.loads((path / "rerank.json").read_text())
    document["cold"]["refine"]["coef"] = [1.0]
    (path / "rerank.json").write_text(json.dumps(document))
    with pytest.raises(ModelLoadError, match=r"rerank\.json has a damaged stage-two part "
                                             r"\(cold: 1 coefficients, expected 6\)"):
        Matcher.load(path)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_block_signals_and_refinement_equal_one_query_at_a_time(seed):
    from matcher.scoring import scorer

    arrays = random_arrays(seed)
    for part in arrays.rerank.values():
        part["refine"] = {**REFINE, "depth": 8}
    queries = np.array([0, 3, 7, 13, 21, 29])
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, arrays.n_cities, size=(len(queries), 9))
    graph: dict = {}
    block = scorer.block_scores(arrays, queries, graph_out=graph)
    together = refine.pair_signals_block(arrays, queries, cols, graph)
    alone = refine.pair_signals_block(arrays, queries, cols)  # graph products computed there
    for i, query in enumerate(queries.tolist()):
        expected = refine.pair_signals(arrays, query, cols[i])
        for name in signals.SIGNALS:
            np.testing.assert_allclose(together[name][i], expected[name], rtol=1e-9, atol=1e-9,
                                       err_msg=name)
            np.testing.assert_array_equal(together[name][i], alone[name][i], err_msg=name)
    refined = refine.refine_block(arrays, queries, block.copy(), graph=graph)
    for i, query in enumerate(queries.tolist()):
        one = scorer.block_scores(arrays, np.array([query]))
        np.testing.assert_array_equal(refine.refine_block(arrays, np.array([query]), one)[0],
                                      refined[i])
