"""The re-ranker learns which signals order a query's candidates, and stays a probability."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.scoring.signals import combine, sigmoid
from training.model.rerank import PairSample, fit_logistic, single_signal


def synthetic_sample(seed: int = 0, queries: int = 60) -> PairSample:
    """Partners have high `good`, `noise` is irrelevant, `offset` shifts whole queries only."""
    rng = np.random.default_rng(seed)
    good, noise, offset, labels, groups = [], [], [], [], []
    for query in range(queries):
        shift = rng.normal(0, 5)
        n_pos, n_neg = 2, 40
        good.append(np.r_[rng.normal(2, 1, n_pos), rng.normal(0, 1, n_neg)])
        noise.append(rng.normal(0, 1, n_pos + n_neg))
        offset.append(np.full(n_pos + n_neg, shift) + rng.normal(0, 0.01, n_pos + n_neg))
        labels.append(np.r_[np.ones(n_pos), np.zeros(n_neg)])
        groups.append(np.full(n_pos + n_neg, query))
    return PairSample({"good": np.concatenate(good), "noise": np.concatenate(noise),
                       "offset": np.concatenate(offset)},
                      np.concatenate(labels), np.concatenate(groups))


@pytest.mark.parametrize("objective", ["pairwise", "pointwise"])
def test_learns_the_signal_that_orders_candidates(objective):
    sample = synthetic_sample()
    model = fit_logistic(sample, ("good", "noise", "offset"), c=1.0, seed=0, objective=objective)
    coef = dict(zip(model["signals"], model["coef"], strict=True))
    assert coef["good"] > 0.5
    assert abs(coef["noise"]) < 0.3 * coef["good"]
    probability = sigmoid(combine(model, sample.signals))
    assert ((probability > 0) & (probability < 1)).all()
    positives = probability[sample.labels == 1].mean()
    negatives = probability[sample.labels == 0].mean()
    assert positives > 2 * negatives


def test_pairwise_ignores_what_only_separates_queries():
    """A query-level shift carries no ordering information: pairwise gives it ~no weight."""
    sample = synthetic_sample(seed=3)
    model = fit_logistic(sample, ("good", "offset"), c=1.0, seed=0, objective="pairwise")
    coef = dict(zip(model["signals"], model["coef"], strict=True))
    assert abs(coef["offset"]) < 0.2 * coef["good"]


def test_unknown_objective_is_named():
    with pytest.raises(ValueError, match="unknown re-ranker objective 'listwise'"):
        fit_logistic(synthetic_sample(), ("good",), c=1.0, seed=0, objective="listwise")


def test_single_signal_passes_the_signal_through():
    values = np.array([0.5, -1.0, 3.0])
    np.testing.assert_allclose(combine(single_signal("x"), {"x": values}), values)


def test_ablation_without_lightfm_drops_its_products_too():
    from training.model.holdout import without_lightfm
    from training.model.rerank import COLD_SIGNALS

    kept = without_lightfm(COLD_SIGNALS)
    assert "log_distance" in kept and not any("lightfm" in name for name in kept)
