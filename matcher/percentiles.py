"""Where a score sits in a city's own score distribution: each city's score quantiles over a
fixed candidate sample (stored with the model), and the percentile of any score read off them.

Reciprocal ranking compares the two sides of a pair through these percentiles, so every path
(one query, the batch, evaluation of the policies) must read them the same way: all of them
interpolate between the same stored quantiles with the same arithmetic.
"""

from __future__ import annotations

import numpy as np

from matcher.signals import ScoringArrays, score_matrix


def quantile_levels(size: int = 101) -> np.ndarray:
    """Quantile levels dense near the top, where reciprocal ranking needs resolution."""
    return 1.0 - np.geomspace(1.0, 1e-4, size)


def score_quantiles(arrays: ScoringArrays, sample: np.ndarray, levels: np.ndarray,
                    batch: int = 64, rows: np.ndarray | None = None) -> np.ndarray:
    """Each city's (or each of `rows`') score quantiles over a fixed candidate sample,
    (len(rows), len(levels)) float32.

    Rows are scored in batches of one kind (warm or cold), which spares the per-row split of
    the signals; every row's values are the same whatever batch it falls in.
    """
    rows = np.arange(arrays.n_cities) if rows is None else np.asarray(rows, dtype=np.int64)
    order = np.argsort(~arrays.has_history(rows), kind="stable")
    out = np.empty((len(rows), len(levels)), dtype=np.float32)
    for start in range(0, len(rows), batch):
        positions = order[start:start + batch]
        out[positions] = _row_quantiles(score_matrix(arrays, rows[positions], columns=sample),
                                        levels)
    return out


def _row_quantiles(scores: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """np.nanquantile of each row's finite values, (q, len(levels)); vectorised for the usual
    rows, where at most the query itself (-inf) is not finite."""
    out = np.empty((len(scores), len(levels)))
    missing = (~np.isfinite(scores)).sum(axis=1)
    only_minus_inf = np.isneginf(scores).sum(axis=1) == missing
    for count in (0, 1):
        part = only_minus_inf & (missing == count)
        if part.any():  # -inf sorts first: dropping the first column drops it
            values = np.sort(scores[part], axis=1)[:, count:] if count else scores[part]
            out[part] = np.quantile(values, levels, axis=1).T
    for row in np.flatnonzero(~only_minus_inf | (missing > 1)):
        out[row] = np.nanquantile(np.where(np.isfinite(scores[row]), scores[row], np.nan),
                                  levels)
    return out


def interpolate(values: np.ndarray, above: np.ndarray, quantile_at,
                levels: np.ndarray) -> np.ndarray:
    """Each value's percentile from `above`, the count of its row's quantiles <= it, and
    `quantile_at(i)`, each value's row's i-th quantile (float64): the one interpolation every
    way of counting shares, so all of them give the same bits."""
    size = len(levels)
    upper = np.clip(above, 1, size - 1)
    low_q, high_q = quantile_at(upper - 1), quantile_at(upper)
    span = np.where(high_q > low_q, high_q - low_q, 1.0)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf or huge / tiny: clipped
        fraction = np.clip((values - low_q) / span, 0.0, 1.0)
    out = levels[upper - 1] + fraction * (levels[upper] - levels[upper - 1])
    last = np.full(np.shape(above), size - 1)
    top = beyond_top(values, quantile_at(last), quantile_at(last - 1), levels[-1])
    out = np.where(above == 0, 0.0, np.where(above >= size, top, out))
    return np.where(np.isfinite(values), out, 0.0)


def percentile_from_quantiles(quantiles: np.ndarray, levels: np.ndarray,
                              values: np.ndarray) -> np.ndarray:
    """Where each value sits in its row's distribution (0..1), by interpolating the quantiles."""
    quantiles = np.asarray(quantiles, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    above = (quantiles <= values[:, None]).sum(axis=1)
    index = np.arange(len(values))
    return interpolate(values, above, lambda i: quantiles[index, i], levels)


def row_percentiles(table: np.ndarray, rows: np.ndarray, levels: np.ndarray,
                    values: np.ndarray) -> np.ndarray:
    """percentile_from_quantiles(table[rows], levels, values) without gathering whole rows: a
    binary search per value in its own row (the same count of quantiles <= value, so the same
    bits as rank.percentile_in_row)."""
    values = np.asarray(values, dtype=np.float64)
    size = len(levels)
    flat = table.reshape(-1)
    start = np.asarray(rows, dtype=np.int64) * size  # flat offset of each value's row
    low = np.zeros(len(values), dtype=np.int64)
    high = np.full(len(values), size, dtype=np.int64)
    for _ in range(int(np.ceil(np.log2(size + 1)))):
        middle = (low + high) >> 1
        below = flat[start + np.minimum(middle, size - 1)] <= values
        active = low < high
        low = np.where(active & below, middle + 1, low)
        high = np.where(active & ~below, middle, high)
    return interpolate(values, low, lambda i: flat[start + i].astype(np.float64), levels)


def beyond_top(values: np.ndarray, top: np.ndarray, below_top: np.ndarray,
               top_level: float) -> np.ndarray:
    """Percentiles above the highest stored quantile: still strictly increasing, below 1.

    Without this every candidate above a city's top quantile would tie at 1.0, and the best
    few, the ones that matter, would be ordered by row number.
    """
    spread = np.maximum(np.asarray(top) - np.asarray(below_top), 1e-9)
    with np.errstate(invalid="ignore", over="ignore"):  # +inf: NaN here, 0 for the caller
        excess = np.maximum(np.asarray(values) - top, 0.0) / spread
        return top_level + (1.0 - top_level) * excess / (1.0 + excess)
