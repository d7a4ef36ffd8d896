"""matcher.scoring.cells: the per-cell values shared by the numpy block, the compiled kernel and the
listed pairs, and a new table entry evaluated by every one of them without a kernel edit."""

from __future__ import annotations

import numpy as np
import pytest
from matcher_factories import random_arrays
from table_factories import GAP, gap_block, only, with_gap

from matcher.ranking import fused, kernelgen
from matcher.scoring import cells, kinds, scorer, signals, signaltable
from matcher.scoring.prepared import prepared


def test_a_tile_of_columns_gives_the_bits_of_the_whole_block():
    """The kernel evaluates the formulas a column tile at a time; each cell must not depend on
    which tile it was made in."""
    arrays = random_arrays(3, n=50)
    ready = prepared(arrays)
    queries, candidates = np.arange(arrays.n_cities), ready.candidates
    names = [*signaltable.PAIRWISE, "country_pair", "log_degree"]
    whole = cells.block_values(arrays, queries, candidates, names, None,
                               np.zeros(len(queries), dtype=bool))
    tile = cells.block_values(arrays, queries, candidates[7:19], names, None,
                              np.zeros(len(queries), dtype=bool),
                              {name: column[7:19] for name, column
                               in ready.candidate_inputs.items()})
    for name in names:
        np.testing.assert_array_equal(tile[name], whole[name][:, 7:19])


def test_listed_pairs_equal_the_reference():
    arrays = random_arrays(5, n=40)
    queries = np.array([1, 8, 30])
    cols = np.array([[0, 4, 9], [9, 9, 2], [39, 0, 1]])
    names = [name for name in signaltable.SIGNALS if name not in signaltable.GRAPH
             and name not in signaltable.INTERACTION_SIGNALS]
    listed = cells.pair_values(arrays, queries, cols, names)
    reference = signals.signal_matrices(arrays, queries)
    for name in names:
        np.testing.assert_allclose(listed[name], np.take_along_axis(reference[name], cols, 1),
                                   rtol=1e-12, atol=1e-12, err_msg=name)


def test_cell_terms_are_the_weighted_pairwise_and_product_signals():
    arrays = random_arrays(0, n=20)
    weights, _ = scorer.query_weights(arrays, np.arange(3), arrays.rerank)
    names, products = cells.cell_terms(weights.get, np.zeros(3))
    assert names == list(signaltable.PAIRWISE)
    assert [name for name, _, _ in products] == list(signaltable.PRODUCTS)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_new_pairwise_entry_is_evaluated_by_every_path(monkeypatch, seed):
    """The numpy block and the listed pairs evaluate a new entry's formula; the compiled batch,
    whose generated kernel does not know it yet, says so and adds it with numpy."""
    with_gap(monkeypatch)
    fused.kernel_is_current.cache_clear()
    arrays = random_arrays(seed, n=40)
    rows, candidates = np.arange(arrays.n_cities), prepared(arrays).candidates
    expected = gap_block(arrays)
    np.testing.assert_array_equal(scorer.block_scores(arrays, rows, rerank=only(GAP.name)),
                                  expected)
    with pytest.warns(RuntimeWarning, match="stale"):
        compiled = scorer.block_scores(arrays, rows, rerank=only(GAP.name),
                                       terms=(fused.add_dense_terms, scorer.add_graph_terms))
    np.testing.assert_array_equal(compiled, expected)
    fused.kernel_is_current.cache_clear()
    half = prepared(arrays).inputs["half_lat_sin"]
    listed = cells.pair_values(arrays, rows[:2], candidates[None, :3].repeat(2, 0), [GAP.name])
    np.testing.assert_array_equal(listed[GAP.name], np.abs(half[candidates[:3]] - half[:2, None]))


NEAR_IN_QUERY_COUNTRY = signaltable.Signal(
    "near_in_query_country", signaltable.Kind.GROUP_COUNT, "log(1 + partners the candidate's "
    "neighbours have in the query's country)", signaltable.Reverse.BY_COUNTRY,
    count=kinds.Count("neighbours_partners", "candidate"))


def with_count(monkeypatch) -> None:
    """Declare NEAR_IN_QUERY_COUNTRY, a GROUP_COUNT no module names, by a table entry alone."""
    signal = NEAR_IN_QUERY_COUNTRY
    by_name = {**signaltable.BY_NAME, signal.name: signal}
    for module in (cells, scorer, fused):
        monkeypatch.setattr(module, "BY_NAME", by_name, raising=False)
    for module in (scorer, kernelgen):
        monkeypatch.setattr(module, "CANDIDATE_COUNTS",
                            (*signaltable.CANDIDATE_COUNTS, signal.name))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_new_group_count_entry_is_evaluated_by_every_path(monkeypatch, seed):
    """A GROUP_COUNT is its `Count`: the folded block (numpy, and the compiled batch, whose
    generated kernel does not know it yet, says so and adds it with numpy), the listed pairs
    and the reverse reading evaluate a new one, equal to the counts taken from the graph."""
    with_count(monkeypatch)
    fused.kernel_is_current.cache_clear()
    assert signaltable.problems() == []
    arrays = random_arrays(seed, n=40)
    ready = prepared(arrays)
    rows, candidates = np.arange(arrays.n_cities), ready.candidates
    near = (arrays.geo.matrix @ arrays.binary.matrix @ arrays.membership).toarray()
    countries = arrays.country_index
    every = np.log1p(near[:, countries])  # every[c, q]: c's neighbours' partners in q's country
    expected = every[candidates].T.astype(np.float32)
    expected[rows[:, None] == candidates[None, :]] = -np.inf
    rerank = only(NEAR_IN_QUERY_COUNTRY.name)
    np.testing.assert_allclose(scorer.block_scores(arrays, rows, rerank=rerank), expected,
                               rtol=1e-6)
    with pytest.warns(RuntimeWarning, match="stale"):
        compiled = scorer.block_scores(arrays, rows, rerank=rerank,
                                       terms=(fused.add_dense_terms, scorer.add_graph_terms))
    fused.kernel_is_current.cache_clear()
    np.testing.assert_array_equal(compiled, scorer.block_scores(arrays, rows, rerank=rerank))
    one = scorer.block_scores(arrays, rows[3:4], rerank=rerank)
    np.testing.assert_allclose(one, expected[3:4], rtol=1e-6)
    cols = candidates[None, :5].repeat(2, 0)
    listed = cells.pair_values(arrays, rows[:2], cols, [NEAR_IN_QUERY_COUNTRY.name])
    np.testing.assert_allclose(listed[NEAR_IN_QUERY_COUNTRY.name],
                               every[candidates[:5]].T[:2], rtol=1e-12)
    from matcher.scoring import reverse

    for query in (0, 7):  # reversed: the query is the candidate, each asker j the query side
        row = reverse._reverse_count(ready, NEAR_IN_QUERY_COUNTRY.count, query,
                                     int(countries[query]))
        np.testing.assert_allclose(row[countries], every[query], rtol=1e-12)
