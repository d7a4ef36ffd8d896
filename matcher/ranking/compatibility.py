"""Compatibility 0-100, the match score users read, and the probability kept beside it.

A pair's ranking score s (0..1) is where the partner sits in the query's own score distribution
(one-sided), or the geometric mean of that and where the query sits in the partner's (mutual,
the default). Its complement 1 - s is the share of candidates that rank above the pair: the
smaller, the rarer the match. Compatibility reads that share on a log scale,

    compatibility = 25 * log10(1 / (1 - s)), clipped to 0..100,

so each 25 points is ten times more selective: 100 is in each other's top 1 in 10,000 (or
better), 75 the top 1 in 1,000, 50 the top 1%, 25 the top 10%, 0 the median or below. It is a
function of the ranking score alone, so it falls with the rank in every list, two pairs with the
same ranking score read the same whoever asks, and in mutual mode it is symmetric (A's view of
B is B's view of A).

`probability` is the re-ranker's calibrated chance that the pair is a listed partnership
(relative to sampled non-partners): small for most pairs, high only for hubs, so it is not
comparable between cities; explain and JSON show it as its own field.
"""

from __future__ import annotations

import numpy as np

POINTS_PER_DECADE = 25.0
"""Compatibility points for each factor of ten in selectivity (1 - ranking score)."""
TOP = 100.0
_SMALLEST_SHARE = 10.0 ** (-TOP / POINTS_PER_DECADE)  # 1e-4: at or beyond it, 100


def compatibility(ranking_score: np.ndarray | float) -> np.ndarray:
    """0-100 from the ranking score in 0..1 (formula in the module docstring)."""
    share = 1.0 - np.asarray(ranking_score, dtype=np.float64)
    share = np.clip(np.nan_to_num(share, nan=1.0), _SMALLEST_SHARE, 1.0)
    return np.clip(-POINTS_PER_DECADE * np.log10(share), 0.0, TOP)


def share_above(compatibility_value: float) -> float:
    """The share of candidates ranked above a pair of this compatibility (its inverse)."""
    return float(10.0 ** (-float(compatibility_value) / POINTS_PER_DECADE))


def describe(compatibility_value: float) -> str:
    """Plain words for a compatibility: 'top 0.1%' style, as the README explains it."""
    share = share_above(compatibility_value)
    if compatibility_value >= TOP:
        return "top 0.01% or better"
    percent = 100 * share
    text = f"{percent:.2g}" if percent < 1 else f"{percent:.0f}"
    return f"top {text}%"
