"""One backend-equivalence test over the whole signal table: every entry, every path.

Each signal alone is made the re-ranker (weight 1, nothing else), so a path's score *is* that
signal's value there: the reference (signals.signal_matrices, dense blocks) must equal the
folded block scorer, one query (a block of one), the compiled dense terms, the listed pairs of
stage two (one query and a block), the reverse gathers and the reference reverse direction.
A new table entry is tested here without a line of test code.
"""

from __future__ import annotations

import numpy as np
import pytest
from matcher_factories import random_arrays

from matcher.ranking import fused
from matcher.scoring import refine, reverse, scorer, signals, signaltable
from matcher.scoring.prepared import prepared

TOLERANCE = {"rtol": 2e-6, "atol": 2e-5}  # the fast paths round their sums to float32


def only(name: str) -> dict:
    """A re-ranker whose logit is the raw signal `name` (both parts)."""
    part = {"signals": [name], "mean": [0.0], "scale": [1.0], "coef": [1.0], "intercept": 0.0}
    return {"warm": dict(part), "cold": dict(part)}


def test_the_table_is_consistent():
    assert signaltable.problems() == []
    assert len(set(signaltable.SIGNALS)) == len(signaltable.SIGNALS)
    for name, (left, right) in signaltable.PRODUCTS.items():
        order = signaltable.SIGNALS.index
        assert order(left) < order(name) and order(right) < order(name)


def test_a_broken_entry_is_named(monkeypatch):
    broken = signaltable.Signal("bad", signaltable.Kind.GRAPH_WALK, "no walk",
                                signaltable.Reverse.QUERY_ROW)
    monkeypatch.setattr(signaltable, "TABLE", (*signaltable.TABLE, broken))
    problems = signaltable.problems()
    assert any(problem.startswith("bad:") for problem in problems)


@pytest.mark.parametrize("name", signaltable.SIGNALS)
@pytest.mark.parametrize("seed", [0, 1])
def test_every_path_evaluates_the_same_signal(name, seed):
    arrays = random_arrays(seed, n=36)
    rows = np.arange(arrays.n_cities)
    candidates = prepared(arrays).candidates
    expected = signals.signal_matrices(arrays, rows, candidates)[name]
    finite_mask = np.ones_like(expected, dtype=bool)
    finite_mask[rows[:, None] == candidates[None, :]] = False  # the query itself: -inf
    rerank = only(name)

    block = scorer.block_scores(arrays, rows, rerank=rerank).astype(np.float64)
    np.testing.assert_allclose(block[finite_mask], expected[finite_mask], **TOLERANCE)
    compiled = scorer.block_scores(arrays, rows, rerank=rerank,
                                   terms=(fused.add_dense_terms, scorer.add_graph_terms))
    np.testing.assert_array_equal(compiled, block.astype(np.float32))
    for query in (0, 7, 35):
        single = scorer.block_scores(arrays, np.array([query]), rerank=rerank)[0]
        np.testing.assert_array_equal(single, block[query].astype(np.float32))

    picked = candidates[::3]
    for query in (2, 11):
        pairs = refine.pair_signals(arrays, query, picked)[name]
        np.testing.assert_allclose(pairs, expected[query, ::3], **TOLERANCE)
    listed = np.stack([picked, picked[::-1]])
    block_pairs = refine.pair_signals_block(arrays, np.array([4, 9]), listed)[name]
    position = {int(c): i for i, c in enumerate(candidates)}
    want = np.array([[expected[q, position[int(c)]] for c in cells]
                     for q, cells in zip((4, 9), listed, strict=True)])
    np.testing.assert_allclose(block_pairs, want, **TOLERANCE)

    for column in (0, 5):  # s(j -> q): column q of everyone's rows
        query = int(candidates[column])
        gathered = reverse.reverse_scores(arrays, query, rows, rerank=rerank).astype(np.float64)
        keep = rows != query
        np.testing.assert_allclose(gathered[keep], block[keep, column], **TOLERANCE)
        np.testing.assert_allclose(signals.reverse_signals(arrays, query)[name][keep],
                                   expected[keep, column], **TOLERANCE)
