"""The fits behind one holdout seed: re-rankers on a validation split inside the training part,
and the test model on the training part (two independent LightFM fits, run in parallel)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from matcher.scoring.signals import ScoringArrays
from training.model.splits import WARM_NO_HISTORY, Split, holdout_split, query_targets


def _queries(split: Split, dataset, arrays: ScoringArrays):
    warm = query_targets(split.warm_test, dataset.rows_of, arrays.binary, cold=False)
    cold = query_targets(split.cold_test, dataset.rows_of, arrays.binary, cold=True,
                         cold_cities=split.cold_cities)
    return warm, cold


def _no_history_queries(split: Split, dataset, arrays: ScoringArrays):
    """The warm hidden pairs whose query end kept no training partnership."""
    return query_targets(split.warm_test, dataset.rows_of, arrays.binary,
                         cold=False, history=False)


@dataclass
class Holdout:
    """A model fitted on a holdout split's training part, with its re-rankers and test queries."""

    split: Split
    test_arrays: ScoringArrays  # rerank set to the shipped re-ranker ("model")
    test_dataset: object
    features: object  # EncodedFeatures of the test fit
    queries: dict[str, tuple[np.ndarray, list[np.ndarray]]]  # warm/cold: rows, hidden partners
    rerankers: dict[str, dict]  # variant name -> {"warm": ..., "cold": ...}


@dataclass(frozen=True)
class HoldoutPlan:
    """The splits of one holdout seed and the two independent fits it needs: the re-rankers (on
    a validation split inside the training part) and the test model (on the training part).

    Each fit ranks the candidates its own training part gives (cities with a partnership there,
    plus those above the floor), as the CLI does with the shipped model. The candidates of the
    whole data would leak the held-out edges: a small town whose only partnerships are hidden
    is a candidate only because of them, and a re-ranker learns to pick such towns (on the
    snapshot stage two's cold recall@10 gain was 0.015 with the leak, 0.004 without)."""

    config: object  # TrainConfig with seed set
    test_split: Split
    validation_split: Split

    def jobs(self, data, progress: bool = False) -> list:
        from training.model.fit import fit_arrays

        return [partial(_fit_rerankers, data, self.config, self.validation_split, progress),
                partial(fit_arrays, data, self.test_split.train, self.config, None, progress)]

    def assemble(self, results: list) -> Holdout:
        rerankers, (test_arrays, features, test_dataset) = results
        test_arrays.rerank = rerankers["model"]
        warm, cold = _queries(self.test_split, test_dataset, test_arrays)
        queries = {"warm": warm, "cold": cold}
        no_history = _no_history_queries(self.test_split, test_dataset, test_arrays)
        if len(no_history[0]):
            queries[WARM_NO_HISTORY] = no_history
        return Holdout(self.test_split, test_arrays, test_dataset, features, queries, rerankers)


def plan_holdout(data, config, seed: int = 0) -> HoldoutPlan:
    config = config.replace(seed=seed)
    test_split = holdout_split(data.partnerships, config.holdout_fraction, seed)
    validation_split = holdout_split(test_split.train, config.validation_fraction, seed + 1000)
    return HoldoutPlan(config, test_split, validation_split)


def _fit_rerankers(data, config, validation_split: Split, progress: bool) -> dict[str, dict]:
    """The re-ranker variants, fitted on a LightFM model of the validation split's training
    part; variant name -> {"warm": ..., "cold": ...}."""
    from training.model.fit import fit_arrays
    from training.model.rerank import (
        COLD_SIGNALS,
        WARM_SIGNALS,
        fit_logistic,
        fit_refine,
        refine_sample,
        training_pairs,
    )

    seed = config.seed
    validation_arrays, _, validation_dataset = fit_arrays(
        data, validation_split.train, config, None, progress)
    validation_queries = _queries(validation_split, validation_dataset, validation_arrays)
    variants = {"model": (WARM_SIGNALS, COLD_SIGNALS),
                "rerank without lightfm": (without_lightfm(WARM_SIGNALS),
                                           without_lightfm(COLD_SIGNALS))}
    rerankers: dict[str, dict] = {name: {} for name in variants}
    for kind, (queries, targets) in zip(("warm", "cold"), validation_queries, strict=True):
        sample = training_pairs(validation_arrays, queries, targets, config.rerank_negatives,
                                seed)
        for name, (warm_names, cold_names) in variants.items():
            names = warm_names if kind == "warm" else cold_names
            rerankers[name][kind] = fit_logistic(sample, names, config.rerank_c, seed,
                                                 config.rerank_objective)
        if config.refine_depth > 0:
            part = rerankers["model"][kind]
            values, labels = refine_sample(validation_arrays, queries, targets, part,
                                           config.refine_depth)
            fitted = fit_refine(values, labels, tuple(part["signals"]), config.refine_depth,
                                config.refine_knots, config.refine_c, seed)
            if fitted is not None:
                part["refine"] = fitted
    return rerankers


def fit_holdout(data, config, seed: int = 0, progress: bool = False,
                workers: int | None = None) -> Holdout:
    """Fit the re-rankers on a validation split inside the training part, and the test model
    (two independent LightFM fits, run by `workers` processes; None: the default).

    The test split's partnerships are never seen by LightFM or by the re-rankers.
    """
    from training.model.parallel import resolve_workers, run_jobs

    workers = resolve_workers(workers)
    plan = plan_holdout(data, config, seed)
    return plan.assemble(run_jobs(plan.jobs(data, progress and workers == 1), workers))


def without_lightfm(names: tuple[str, ...]) -> tuple[str, ...]:
    """The ablation's signals: neither LightFM's score nor any product with it."""
    return tuple(name for name in names if name.split("_")[0] != "lightfm")
