"""Compiled stage two against refine.refine_block (numpy), on blocks of every kind of query."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matcher_factories import random_arrays

from matcher import fused, fusedrefine, refine, scorer
from matcher.prepared import prepared
from matcher.signals import SIGNALS


def _refine_part(rng, names: list[str], depth: int) -> dict:
    knots = [sorted(rng.normal(size=rng.integers(0, 4)).tolist()) for _ in names]
    coefficients = len(names) + sum(len(k) for k in knots)
    return {"signals": names, "mean": rng.normal(size=len(names)).tolist(),
            "scale": (0.5 + rng.random(len(names))).tolist(), "knots": knots,
            "coef": rng.normal(size=coefficients).tolist(), "intercept": float(rng.normal()),
            "depth": depth}


def _with_stage_two(seed: int, depths: tuple[int, int], n: int = 50):
    arrays = random_arrays(seed, n=n)
    rng = np.random.default_rng(seed)
    for kind, depth in zip(("warm", "cold"), depths, strict=True):
        names = [name for name in SIGNALS if rng.random() < 0.7] or ["lightfm"]
        if depth:
            arrays.rerank[kind]["refine"] = _refine_part(rng, names, depth)
    return arrays


def _stage_one(arrays, queries: np.ndarray, compiled: bool) -> tuple[np.ndarray, dict]:
    """Stage one's block with each query's partners at -inf, and its graph rows."""
    graph: dict = {}
    terms = (fused.add_dense_terms, scorer.add_graph_terms) if compiled else None
    block = scorer.block_scores(arrays, queries, graph_out=graph, terms=terms)
    positions = prepared(arrays).positions
    for i, query in enumerate(queries.tolist()):
        partners = positions[arrays.partners(query)]
        block[i, partners[partners >= 0]] = -np.inf
    return block, graph


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), warm=st.sampled_from([0, 1, 3, 8, 60]),
       cold=st.sampled_from([0, 2, 8]), compiled_dense=st.booleans())
def test_compiled_stage_two_equals_refine_block(seed, warm, cold, compiled_dense):
    arrays = _with_stage_two(seed, (warm, cold))
    queries = np.arange(arrays.n_cities)
    block, graph = _stage_one(arrays, queries, compiled_dense)
    expected = refine.refine_block(arrays, queries, block.copy(),
                                   graph=graph)
    found = fusedrefine.refine_block(arrays, queries, block.copy(), graph)
    np.testing.assert_array_equal(found, expected)


def test_a_single_query_and_missing_graph_rows_are_computed():
    arrays = _with_stage_two(4, (5, 5))
    for queries in (np.array([7]), np.array([3, 9, 11])):
        block, _ = _stage_one(arrays, queries, False)
        expected = refine.refine_block(arrays, queries, block.copy())
        np.testing.assert_array_equal(fusedrefine.refine_block(arrays, queries, block.copy(),
                                                               {}), expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_stage_two_only_permutes_each_shortlist(seed):
    arrays = _with_stage_two(seed, (6, 6))
    queries = np.arange(arrays.n_cities)
    block, graph = _stage_one(arrays, queries, True)
    found = fusedrefine.refine_block(arrays, queries, block.copy(), graph)
    np.testing.assert_array_equal(np.sort(found, axis=1), np.sort(block, axis=1))
