"""Holdout splits: which partnerships are hidden, and which query cities ask for them.

A leaf of the training stages: evaluation (training.model.evaluate) and the fits behind a holdout
(training.model.holdout) both read it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.columns import Columns as C

# The warm hidden pairs whose query end kept no partnership, reported apart from the warm totals.
WARM_NO_HISTORY = "warm, degree 0"


@dataclass(frozen=True)
class Split:
    """A holdout: training partnerships, and the hidden ones for each kind of query."""

    train: pd.DataFrame
    warm_test: pd.DataFrame  # 10% of the edges between cities that keep some history
    cold_test: pd.DataFrame  # every edge of the cold cities
    cold_cities: np.ndarray  # geonameids whose whole history is hidden


def holdout_split(partnerships: pd.DataFrame, fraction: float, seed: int) -> Split:
    """Hide every edge of `fraction` of the cities (cold) and `fraction` of the other edges (warm).

    Works on deduplicated undirected edges, so one partnership is never on both sides.
    """
    rng = np.random.default_rng(seed)
    edges = partnerships.reset_index(drop=True)
    cities = np.unique(np.concatenate([edges[C.CITY_A], edges[C.CITY_B]]))
    cold = np.sort(rng.choice(cities, size=round(fraction * len(cities)), replace=False))
    touches_cold = edges[C.CITY_A].isin(cold) | edges[C.CITY_B].isin(cold)
    rest = np.flatnonzero(~touches_cold.to_numpy())
    hidden = rng.choice(rest, size=round(fraction * len(rest)), replace=False)
    warm_mask = np.zeros(len(edges), dtype=bool)
    warm_mask[hidden] = True
    train_mask = ~touches_cold.to_numpy() & ~warm_mask
    return Split(edges[train_mask].reset_index(drop=True), edges[warm_mask].reset_index(drop=True),
                 edges[touches_cold.to_numpy()].reset_index(drop=True), cold)


def query_targets(hidden: pd.DataFrame, rows_of, train_graph: sp.csr_matrix,
                  cold: bool, cold_cities: np.ndarray | None = None, history: bool = True):
    """Query rows and their hidden partner rows.

    Warm queries keep at least one training partner (`history=False`: the warm hidden pairs
    whose query end has none left, reported apart); cold queries are the cold cities.
    """
    a = rows_of(hidden[C.CITY_A])
    b = rows_of(hidden[C.CITY_B])
    pairs = pd.DataFrame({"query": np.concatenate([a, b]), "target": np.concatenate([b, a])})
    if cold:
        pairs = pairs[pairs["query"].isin(rows_of(cold_cities))]
    else:
        degree = np.diff(train_graph.indptr)[pairs["query"].to_numpy()]
        pairs = pairs[degree > 0] if history else pairs[degree == 0]
    grouped = pairs.groupby("query")["target"].apply(lambda t: np.unique(t.to_numpy()))
    return grouped.index.to_numpy(dtype=np.int64), list(grouped.to_numpy())
