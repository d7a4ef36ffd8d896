"""The compiled graph signals against scipy's products (scorer.graph_products)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from test_signals import random_arrays

from matcher import fused, fusedgraph, scorer
from matcher.csr import CSR
from matcher.signaltable import GRAPH


def _dense_rows(arrays, queries: np.ndarray) -> dict[str, np.ndarray]:
    """The block's graph rows as dense (queries, cities) arrays, one per signal."""
    from matcher.prepared import prepared

    rows: dict = {}
    candidates = prepared(arrays).candidates
    fusedgraph.add_graph_terms(np.zeros((len(queries), len(candidates))), arrays, queries,
                               candidates, {}.get, np.zeros(len(queries)), rows)
    return {name: matrix.toarray() for name, matrix in
            fusedgraph.to_csr(rows[fusedgraph.ROWS], arrays.n_cities).items()}


def test_known_answer_on_a_path():
    """Partnerships along a path 0 - 1 - 2 - 3, neighbours (0, 3) at 2 and (1, 2) at 1."""
    arrays = random_arrays(0, n=4)
    arrays.graph = CSR.of(sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1],
                                           [0, 0, 1, 0]], dtype=float)))
    arrays.geo = CSR.of(sp.csr_matrix(np.array([[0, 0, 0, 2.0], [0, 0, 1.0, 0], [0, 1.0, 0, 0],
                                         [2.0, 0, 0, 0]])))
    arrays.forget_derived()
    arrays.candidate_mask[:] = True
    rows = _dense_rows(arrays, np.array([0, 3]))
    shared = np.log1p(1.0 / np.log(2.0))  # through city 1, which has two partners
    assert rows["adamic_adar"][0].tolist() == pytest.approx([shared, 0, shared, 0])
    assert rows["geo_cf"][0].tolist() == pytest.approx([0, 0, np.log1p(2.0), 0])  # G B
    assert rows["partner_geo"][0].tolist() == pytest.approx([0, 0, np.log1p(1.0), 0])  # B G
    assert rows["region_pair"][0].tolist() == pytest.approx([0, np.log1p(2.0), 0, 0])  # G B G
    assert rows["geo_cf"][1].tolist() == pytest.approx([0, np.log1p(2.0), 0, 0])
    for name in GRAPH:  # and the same as scipy's products, three_hop included
        np.testing.assert_allclose(rows[name], scorer.graph_products(
            arrays, np.array([0, 3]), {name})[name].toarray(), rtol=1e-14)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1_000), count=st.integers(2, 30))
def test_graph_rows_equal_scipy_products(seed, count):
    arrays = random_arrays(seed % 7, n=40)
    queries = np.random.default_rng(seed).choice(arrays.n_cities, count, replace=False)
    ours = _dense_rows(arrays, queries)
    theirs = scorer.graph_products(arrays, queries, set(GRAPH))
    for name in GRAPH:
        np.testing.assert_allclose(ours[name], theirs[name].toarray(), rtol=1e-14, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_block_scores_with_compiled_graph_terms_give_the_same_float32(seed):
    arrays = random_arrays(seed, n=60)
    rows = np.arange(arrays.n_cities)
    expected = scorer.block_scores(arrays, rows)
    found = scorer.block_scores(arrays, rows, terms=(fused.add_dense_terms,
                                                     fusedgraph.add_graph_terms))
    np.testing.assert_array_equal(found, expected)


def test_sample_reads_each_rows_cells():
    indptr = np.array([0, 2, 3])
    indices = np.array([4, 1, 4])
    values = np.arange(15, dtype=float).reshape(5, 3)
    out = fusedgraph.sample(indptr, indices, values, np.array([1, 0]),
                            np.array([[4, 1], [1, 0]]), 6)
    assert out[:, 0].tolist() == [[2, 0], [5, 0], [8, 0], [11, 0], [14, 0]]
    assert out[:, 1].tolist() == [[1, 0], [4, 0], [7, 0], [10, 0], [13, 0]]
