"""The second stage: a logistic re-ranker over the signals, fitted on a validation split only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.scoring import signals as signal_module
from matcher.scoring.signals import SIGNALS, ScoringArrays

# Signals each re-ranker uses; the cold one has no graph evidence for its query to use, and
# only it gains from the interaction signals (warm recall@10 moved by +0.0015, within noise).
WARM_SIGNALS = tuple(name for name in SIGNALS if name not in signal_module.INTERACTION_SIGNALS)
COLD_SIGNALS = tuple(name for name in SIGNALS if name not in signal_module.GRAPH_SIGNALS)


def _sampled_columns(positives: np.ndarray, excluded: np.ndarray, candidate_mask: np.ndarray,
                     n_random: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Columns to train on for one query: its hidden partners and uniformly random candidates.

    Uniform negatives only: on the snapshot, adding the top of each signal as "hard" negatives
    lowered held-out recall@10 (warm 0.158 -> 0.140, cold 0.043 -> 0.024).
    """
    allowed = candidate_mask.copy()
    allowed[excluded] = False
    allowed[positives] = False
    pool = np.flatnonzero(allowed)
    negatives = np.sort(rng.choice(pool, size=min(n_random, len(pool)), replace=False))
    columns = np.concatenate([positives, negatives])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    return columns, labels


@dataclass(frozen=True)
class PairSample:
    """Signal values of sampled (query, candidate) pairs, their labels and their query."""

    signals: dict[str, np.ndarray]
    labels: np.ndarray
    groups: np.ndarray  # position of the pair's query in the query list


def training_pairs(arrays: ScoringArrays, queries: np.ndarray, targets: list[np.ndarray],
                   n_random: int, seed: int) -> PairSample:
    """Signal values and labels for (query, candidate) pairs sampled from a validation split."""
    rng = np.random.default_rng(seed)
    collected: dict[str, list[np.ndarray]] = {name: [] for name in SIGNALS}
    labels: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    for number, (query, positives) in enumerate(zip(queries, targets, strict=True)):
        excluded = np.append(arrays.partners(query), query)
        columns, row_labels = _sampled_columns(positives, excluded, arrays.candidate_mask,
                                               n_random, rng)
        row_signals = signal_module.signal_matrices(arrays, np.array([query]), columns)
        for name in SIGNALS:
            collected[name].append(row_signals[name][0])
        labels.append(row_labels)
        groups.append(np.full(len(row_labels), number))
    return PairSample({name: np.concatenate(parts) for name, parts in collected.items()},
                      np.concatenate(labels), np.concatenate(groups))


def _differences(design: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                 negatives_per_positive: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of (positive - negative) signal differences within each query."""
    rows = []
    boundaries = np.flatnonzero(np.diff(groups)) + 1
    for block in np.split(np.arange(len(groups)), boundaries):
        positives = block[labels[block] == 1]
        negatives = block[labels[block] == 0]
        if not len(positives) or not len(negatives):
            continue
        for positive in positives:
            chosen = rng.choice(negatives, size=min(negatives_per_positive, len(negatives)),
                                replace=False)
            rows.append(design[positive] - design[chosen])
    return np.vstack(rows)


def fit_logistic(sample: PairSample, names: tuple[str, ...], c: float, seed: int,
                 objective: str = "pairwise", negatives_per_positive: int = 100) -> dict:
    """Fit the re-ranker and return it as plain JSON-ready numbers.

    pairwise: a logistic regression on within-query differences (positive minus negative), so
    it learns to order one city's candidates, not to separate queries; its scale is then
    calibrated by a one-variable logistic fit on the pairs, so sigmoid(score) stays a
    probability. pointwise: a plain logistic regression on the pairs.

    BLAS runs on one thread here: its sums, and so the last bits of the coefficients, would
    otherwise depend on the machine's core count and on whether a worker process fits it.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _fit_logistic(sample, names, c, seed, objective, negatives_per_positive)


def _fit_logistic(sample: PairSample, names: tuple[str, ...], c: float, seed: int,
                  objective: str, negatives_per_positive: int) -> dict:
    from sklearn.linear_model import LogisticRegression

    design = np.column_stack([sample.signals[name] for name in names])
    labels = sample.labels
    mean = design.mean(axis=0)
    spread = design.std(axis=0)
    scale = np.where(spread > 1e-9, spread, 1.0)
    if objective == "pointwise":
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        model.fit((design - mean) / scale, labels)
        coef, intercept = model.coef_[0], float(model.intercept_[0])
    elif objective == "pairwise":
        rng = np.random.default_rng(seed)
        differences = _differences(design, labels, sample.groups, negatives_per_positive, rng)
        signs = rng.choice([-1.0, 1.0], size=len(differences))
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed, fit_intercept=False)
        model.fit(differences / scale * signs[:, None], signs > 0)
        raw = ((design - mean) / scale) @ model.coef_[0]
        calibration = LogisticRegression(max_iter=1000).fit(raw[:, None], labels)
        coef = model.coef_[0] * calibration.coef_[0, 0]
        intercept = float(calibration.intercept_[0])
    else:
        raise ValueError(f"unknown re-ranker objective {objective!r}; use pairwise or pointwise")
    return {"signals": list(names), "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": coef.tolist(), "intercept": intercept, "objective": objective,
            "pairs": len(labels), "positives": int(labels.sum())}


def single_signal(name: str) -> dict:
    """A re-ranker that passes one signal through unchanged (ablations and baselines)."""
    return {"signals": [name], "mean": [0.0], "scale": [1.0], "coef": [1.0], "intercept": 0.0}


def refine_sample(arrays: ScoringArrays, queries: np.ndarray, targets: list[np.ndarray],
                  part: dict, depth: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Signal values and labels of every pair in stage one's shortlists: each query's `depth`
    best candidates under `part`, its partners left out (what stage two reorders)."""
    from matcher.scoring import refine, scorer
    from matcher.scoring.prepared import prepared

    candidates = prepared(arrays).candidates
    positions = prepared(arrays).positions
    collected: dict[str, list[np.ndarray]] = {name: [] for name in SIGNALS}
    labels: list[np.ndarray] = []
    for start in range(0, len(queries), 64):
        chunk = queries[start:start + 64]
        block = scorer.block_scores(arrays, chunk, rerank={"warm": part, "cold": part})
        for i, query in enumerate(chunk.tolist()):
            partners = positions[arrays.partners(query)]
            shortlist = candidates[refine.shortlist_of(block[i], partners[partners >= 0], depth)]
            values = refine.pair_signals(arrays, query, shortlist)
            for name in SIGNALS:
                collected[name].append(values[name])
            labels.append(np.isin(shortlist, targets[start + i]).astype(np.float64))
    return ({name: np.concatenate(parts) for name, parts in collected.items()},
            np.concatenate(labels))


def fit_refine(values: dict[str, np.ndarray], labels: np.ndarray, names: tuple[str, ...],
               depth: int, knots: int, c: float, seed: int) -> dict | None:
    """Stage two as JSON-ready numbers: a logistic regression on each standardised signal and
    its hinges at `knots` inner quantiles (matcher.scoring.refine). Signals constant over the sample
    are left out; BLAS runs on one thread (see fit_logistic). None when the shortlists hold no
    positive (or only positives): nothing to learn the order from."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from matcher.scoring.refine import hinge_design

    used = [name for name in names if np.std(values[name]) > 1e-9]
    if not used or len(np.unique(labels)) < 2:
        return None
    raw = np.column_stack([values[name] for name in used])
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    standardised = (raw - mean) / scale
    levels = np.linspace(0.0, 1.0, knots + 2)[1:-1]
    # A knot at a signal's minimum repeats the signal itself; keeping it halves the penalty on
    # its slope, which held-out recall preferred (cold recall@10 0.064 -> 0.072, seed 0, on the
    # holdouts before they were made honest; not measured again since).
    knot_lists = [[float(k) for k in np.unique(np.quantile(column, levels))]
                  for column in standardised.T]
    design = hinge_design(standardised, knot_lists)
    with threadpool_limits(1):
        model = LogisticRegression(C=c, max_iter=5000, random_state=seed).fit(design, labels)
    return {"depth": int(depth), "signals": used, "mean": mean.tolist(),
            "scale": scale.tolist(), "knots": knot_lists, "coef": model.coef_[0].tolist(),
            "intercept": float(model.intercept_[0]), "pairs": len(labels),
            "positives": int(labels.sum())}
