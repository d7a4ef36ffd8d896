"""Shared helpers of the top-k tests (the compiled batch ranking against ranking every cell)."""

from __future__ import annotations

import numpy as np

from matcher.ranking import percentiles, rank

LEVELS = percentiles.quantile_levels(21)
STEPS = np.diff(LEVELS)


def quantile_table(rng, rows: int) -> np.ndarray:
    """Sorted float32 rows, some with repeated quantiles (a flat stretch of scores)."""
    table = np.sort(rng.normal(size=(rows, len(LEVELS))), axis=1).astype(np.float32)
    table[::3, 5:9] = table[::3, 5:6]
    return table


def ranked_every_cell(values: np.ndarray, country: np.ndarray, k: int, cap: int) -> list[int]:
    """rank.top_k over every eligible cell (finite value): ties to the lower position."""
    eligible = np.flatnonzero(values > -np.inf)
    order = eligible[np.lexsort((eligible, -values[eligible]))]
    return rank.greedy_cap(order, country, k, cap).tolist()


def random_scores(rng, rows: int, columns: int) -> np.ndarray:
    """Random float32 scores with ineligible cells (-inf) and ties."""
    scores = rng.normal(size=(rows, columns)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.15] = -np.inf
    scores[:, ::5] = np.round(scores[:, ::5])  # ties
    return scores
