"""Splits are grouped, metrics match a naive implementation, policies are measured."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import tiny_cities, tiny_partnerships
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.columns import Columns as C
from training.model.evaluate import query_metrics
from training.model.splits import holdout_split


def naive_metrics(scores: np.ndarray, targets: list[np.ndarray]) -> dict[str, list[float]]:
    """Straight from the definitions, one query and one pair at a time."""
    out = {"recall@10": [], "recall@50": [], "ndcg@10": [], "auc": [], "reachable": [],
           "auc_reachable": []}
    for row, target in zip(scores, targets, strict=True):
        candidates = [j for j in range(len(row)) if np.isfinite(row[j])]
        ranked = sorted(candidates, key=lambda j: (-row[j], j))
        for k in (10, 50):
            out[f"recall@{k}"].append(len(set(ranked[:k]) & set(target)) / len(target))
        dcg = sum(1 / np.log2(i + 2) for i, j in enumerate(ranked[:10]) if j in target)
        ideal = sum(1 / np.log2(i + 2) for i in range(min(len(target), 10)))
        out["ndcg@10"].append(dcg / ideal)
        positives = [j for j in target if np.isfinite(row[j])]
        out["reachable"].append(len(positives) / len(target))
        out["auc_reachable"].append(
            sum(1.0 if row[p] > row[n] else 0.5 if row[p] == row[n] else 0.0
                for p in positives for n in candidates if n not in target)
            / (len(positives) * len([n for n in candidates if n not in target]))
            if positives else np.nan)
        negatives = [j for j in candidates if j not in target]
        wins = sum(1.0 if row[p] > row[n] else 0.5 if row[p] == row[n] else 0.0
                   for p in positives for n in negatives)
        out["auc"].append(wins / (len(target) * len(negatives)))
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_metrics_match_the_naive_version(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 20, size=(4, 80)).astype(float)  # integer scores: ties happen
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    targets = [np.sort(rng.choice(80, size=rng.integers(1, 6), replace=False)) for _ in range(4)]
    fast = query_metrics(scores, targets)
    slow = naive_metrics(scores, targets)
    for name in ("recall@10", "recall@50", "ndcg@10", "auc", "reachable", "auc_reachable"):
        np.testing.assert_allclose(fast[name], slow[name], atol=1e-9, err_msg=name)


def test_checkerboard_known_answer():
    """Perfect scores give recall 1 and AUC 1; reversed scores give AUC 0."""
    scores = np.tile(np.arange(100, dtype=float)[::-1], (2, 1))
    targets = [np.array([0, 1]), np.array([0])]
    perfect = query_metrics(scores, targets)
    assert perfect["recall@10"].tolist() == [1.0, 1.0]
    assert perfect["auc"].tolist() == [1.0, 1.0]
    assert perfect["ndcg@10"].tolist() == [1.0, 1.0]
    worst = query_metrics(-scores, targets)
    assert worst["auc"].tolist() == [0.0, 0.0]
    assert worst["recall@10"].tolist() == [0.0, 0.0]


def _edge_set(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame[C.CITY_A], frame[C.CITY_B], strict=True))


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=1000), st.sampled_from([0.1, 0.2, 0.3]))
def test_split_is_grouped_and_loses_nothing(seed, fraction):
    partnerships = tiny_partnerships(tiny_cities())
    split = holdout_split(partnerships, fraction, seed)
    train, warm, cold = _edge_set(split.train), _edge_set(split.warm_test), \
        _edge_set(split.cold_test)
    assert not (train & warm) and not (train & cold) and not (warm & cold)
    assert train | warm | cold == _edge_set(partnerships)
    cold_cities = set(split.cold_cities.tolist())
    assert all(a in cold_cities or b in cold_cities for a, b in cold)
    assert not any(a in cold_cities or b in cold_cities for a, b in train | warm)


def test_split_is_seeded():
    partnerships = tiny_partnerships(tiny_cities())
    first, second = holdout_split(partnerships, 0.2, 3), holdout_split(partnerships, 0.2, 3)
    assert _edge_set(first.warm_test) == _edge_set(second.warm_test)
    assert first.cold_cities.tolist() == second.cold_cities.tolist()


def test_holdout_evaluation_reports_model_and_every_baseline(processed_dir, tiny_config):
    from training.model.dataset import load_training_data
    from training.model.evaluate import BASELINES, holdout_evaluation

    metrics, rerank = holdout_evaluation(load_training_data(processed_dir), tiny_config, seed=1)
    assert set(rerank) == {"warm", "cold"}
    assert set(metrics["warm"]) >= {"model", "lightfm alone", *BASELINES}
    assert "adamic_adar" not in metrics["cold"]
    for split in ("warm", "cold"):
        for values in metrics[split].values():
            assert 0.0 <= values["recall@10"] <= 1.0 and 0.0 <= values["auc"] <= 1.0
            assert values["queries"] >= 1


def test_warm_totals_split_by_query_degree(processed_dir, tiny_config):
    """The degree 1 and 2+ groups partition the warm totals (counts and means add up), the
    degree-0 group is the warm pairs whose query kept no partnership, and the three-hop share
    is a share."""
    from training.model.dataset import load_training_data
    from training.model.evaluate import DEGREE_SPLITS, SPLITS, format_by_history, holdout_evaluation

    metrics, _ = holdout_evaluation(load_training_data(processed_dir), tiny_config, seed=1)
    assert [split for split in SPLITS if split in metrics] == list(metrics)
    total = metrics["warm"]["model"]
    groups = [metrics[split]["model"] for split in DEGREE_SPLITS if split in metrics]
    assert sum(group["queries"] for group in groups) == total["queries"]
    for metric in ("recall@10", "within_3_hops"):
        weighted = sum(group[metric] * group["queries"] for group in groups)
        assert abs(weighted / total["queries"] - total[metric]) < 1e-9
        assert 0.0 <= total[metric] <= 1.0
    assert "degree" not in total  # a grouping key, not a metric
    assert "| warm, degree 1 |" in format_by_history(metrics) or \
        "warm, degree 1" not in metrics


def test_within_hops_matches_a_breadth_first_walk():
    import scipy.sparse as sp

    from training.model.evaluate import within_hops

    rng = np.random.default_rng(3)
    n = 30
    upper = np.triu(rng.random((n, n)) < 0.06, 1)
    graph = sp.csr_matrix((upper | upper.T).astype(np.float64) * 0.5)  # weights do not count
    queries = np.arange(0, n, 3)
    targets = [rng.choice(n, size=3, replace=False) for _ in queries]
    neighbours = [set(np.flatnonzero(graph[i].toarray())) for i in range(n)]
    expected = []
    for query, target in zip(queries.tolist(), targets, strict=True):
        seen, frontier = set(), {query}
        for _ in range(3):
            frontier = set().union(*(neighbours[i] for i in frontier)) if frontier else set()
            seen |= frontier
        expected.append(np.mean([t in seen for t in target.tolist()]))
    np.testing.assert_allclose(within_hops(graph, queries, targets), expected)


def test_regression_holdout_candidates_come_from_the_training_part(processed_dir, tiny_config):
    """Regression: every holdout fit ranked the candidates of the whole data, so a town whose
    only partnerships were held out stayed a candidate because of them, and the re-rankers
    learnt to pick such towns. Now each fit's candidates come from its own training part."""
    from training.model.dataset import load_training_data
    from training.model.holdout import fit_holdout

    data = load_training_data(processed_dir)
    config = tiny_config.replace(candidate_min_population=10**9)  # partnered cities only
    holdout = fit_holdout(data, config, seed=1, workers=1)
    cities = holdout.test_dataset.cities[C.GEONAMEID].to_numpy()
    trained = set(holdout.split.train[C.CITY_A]) | set(holdout.split.train[C.CITY_B])
    expected = np.array([city in trained for city in cities])
    assert (~expected).sum() >= 1  # some city has only held-out partnerships
    np.testing.assert_array_equal(holdout.test_arrays.candidate_mask, expected)


def test_regression_a_floor_below_the_city_table_floor_does_not_leak_hidden_partners(
        processed_dir, tiny_config):
    """Regression: `twin evaluate --min-population 0` made every city of the table a candidate,
    but below the table's floor (15,000 on the snapshot) a city is in the table only because of
    its partnerships, so the held-out ones were exactly the small towns kept (cold AUC 0.75
    at the table's floor, 0.92 at 0 on the snapshot: the leak). The floor never goes below
    the table's."""
    import dataclasses

    from training.model.dataset import load_training_data
    from training.model.holdout import fit_holdout

    data = load_training_data(processed_dir)
    assert data.candidate_floor(0) == 0  # the tiny data's manifest names no table floor
    data = dataclasses.replace(data, manifest={
        **data.manifest, "gazetteer": {"city_table_min_population": 10**9}})
    assert data.candidate_floor(0) == 10**9 and data.candidate_floor(2 * 10**9) == 2 * 10**9
    holdout = fit_holdout(data, tiny_config, seed=1, workers=1)  # asks for floor 0
    cities = holdout.test_dataset.cities[C.GEONAMEID].to_numpy()
    trained = set(holdout.split.train[C.CITY_A]) | set(holdout.split.train[C.CITY_B])
    expected = np.array([city in trained for city in cities])
    assert (~expected).sum() >= 1
    np.testing.assert_array_equal(holdout.test_arrays.candidate_mask, expected)


def test_policies_are_measured_as_the_cli_ranks(planted_dir):
    """Each serving policy gives lists within bounds; the cap limits countries per list."""
    from training.model.dataset import load_training_data
    from training.model.fit import TrainConfig
    from training.model.policy import POLICIES, evaluate_policies, format_policies

    config = TrainConfig(components=4, epochs=10, candidate_min_population=0,
                         rerank_negatives=10, holdout_fraction=0.15)
    metrics = evaluate_policies(load_training_data(planted_dir), config, seed=0, max_queries=12)
    for split in ("warm", "cold"):
        assert set(metrics[split]) == {policy.name for policy in POLICIES}
        for values in metrics[split].values():
            assert 0.0 <= values["recall@10"] <= values["recall@50"] <= 1.0
            assert 0.0 < values["top10_hub_share"] <= 1.0
        capped = metrics[split]["mutual, cap 3"]["countries_per_list"]
        assert capped >= 10 / 3 - 1e-9  # at most 3 of 10 from one country: at least 4 countries
    table = format_policies(metrics).splitlines()  # what `twin evaluate --policies` writes
    assert table[0].startswith("| split | policy | recall@10 |")
    assert len(table) == 2 + 2 * len(POLICIES)
    assert any(line.startswith("| cold | mutual, cap 3 | ") for line in table)
