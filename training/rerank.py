"""The second stage: a logistic re-ranker over the signals, fitted on a validation split only."""

from __future__ import annotations

import numpy as np

from matcher import signals as signal_module
from matcher.signals import SIGNALS, ScoringArrays

# Signals each re-ranker uses; the cold one has no graph evidence for its query to use.
WARM_SIGNALS = SIGNALS
COLD_SIGNALS = tuple(name for name in SIGNALS if name not in signal_module.GRAPH_SIGNALS)
# Negatives the ranking must beat: the top of each generator, so no signal alone defines "hard".
HARD_NEGATIVE_SIGNALS = ("lightfm", "adamic_adar", "geo_cf", "partner_geo", "country_pair")


def _pair_rows(query_signals: dict[str, np.ndarray], positives: np.ndarray, excluded: np.ndarray,
               candidate_mask: np.ndarray, n_random: int, n_hard: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Columns to train on for one query: its hidden partners, random and hard negatives."""
    allowed = candidate_mask.copy()
    allowed[excluded] = False
    allowed[positives] = False
    pool = np.flatnonzero(allowed)
    random_negatives = rng.choice(pool, size=min(n_random, len(pool)), replace=False)
    hard_negatives = []
    per_signal = max(1, n_hard // len(HARD_NEGATIVE_SIGNALS))
    for name in HARD_NEGATIVE_SIGNALS:
        strength = np.where(allowed, query_signals[name], -np.inf)
        top = np.argpartition(-strength, min(per_signal, len(pool) - 1))[:per_signal]
        hard_negatives.append(top[np.isfinite(strength[top])])
    hard_negatives = np.concatenate(hard_negatives)
    negatives = np.unique(np.concatenate([random_negatives, hard_negatives]))
    columns = np.concatenate([positives, negatives])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    return columns, labels


def training_pairs(arrays: ScoringArrays, queries: np.ndarray, targets: list[np.ndarray],
                   n_random: int, n_hard: int, seed: int,
                   batch: int = 256) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Signal values and labels for (query, candidate) pairs sampled from a validation split."""
    rng = np.random.default_rng(seed)
    collected: dict[str, list[np.ndarray]] = {name: [] for name in SIGNALS}
    labels: list[np.ndarray] = []
    graph = arrays.derived["binary"]
    for start in range(0, len(queries), batch):
        chunk = queries[start:start + batch]
        matrices = signal_module.signal_matrices(arrays, chunk)
        for offset, query in enumerate(chunk):
            row_signals = {name: values[offset] for name, values in matrices.items()}
            excluded = np.append(graph.indices[graph.indptr[query]:graph.indptr[query + 1]], query)
            columns, row_labels = _pair_rows(row_signals, targets[start + offset], excluded,
                                             arrays.candidate_mask, n_random, n_hard, rng)
            for name in SIGNALS:
                collected[name].append(row_signals[name][columns])
            labels.append(row_labels)
    return ({name: np.concatenate(parts) for name, parts in collected.items()},
            np.concatenate(labels))


def fit_logistic(pair_signals: dict[str, np.ndarray], labels: np.ndarray, names: tuple[str, ...],
                 c: float, seed: int) -> dict:
    """Fit a standardised logistic regression; return it as plain JSON-ready numbers."""
    from sklearn.linear_model import LogisticRegression

    design = np.column_stack([pair_signals[name] for name in names])
    mean = design.mean(axis=0)
    scale = design.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit((design - mean) / scale, labels)
    return {"signals": list(names), "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0]),
            "pairs": len(labels), "positives": int(labels.sum())}


def single_signal(name: str) -> dict:
    """A re-ranker that passes one signal through unchanged (ablations and baselines)."""
    return {"signals": [name], "mean": [0.0], "scale": [1.0], "coef": [1.0], "intercept": 0.0}


def fit_reranker(arrays: ScoringArrays, warm_queries: np.ndarray, warm_targets: list[np.ndarray],
                 cold_queries: np.ndarray, cold_targets: list[np.ndarray], n_random: int,
                 n_hard: int, c: float, seed: int) -> dict:
    """Fit the warm and the cold re-ranker on validation queries of each kind."""
    rerank = {}
    for kind, queries, targets, names in (("warm", warm_queries, warm_targets, WARM_SIGNALS),
                                          ("cold", cold_queries, cold_targets, COLD_SIGNALS)):
        pair_signals, labels = training_pairs(arrays, queries, targets, n_random, n_hard, seed)
        rerank[kind] = fit_logistic(pair_signals, labels, names, c, seed)
    return rerank
