"""Where a score sits in a city's own score distribution: each city's score quantiles over a
fixed candidate sample (stored with the model), and the percentile of any score read off them.

Reciprocal ranking compares the two sides of a pair through these percentiles, so every path
(one query, the batch, evaluation of the policies) must read them the same way: all of them
interpolate between the same stored quantiles with the same arithmetic.
"""

from __future__ import annotations

import numpy as np

from matcher.scoring.final_scores import score_matrix
from matcher.scoring.signals import ScoringArrays


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


def interpolate(values: np.ndarray, above: np.ndarray, flat: np.ndarray, start,
                levels: np.ndarray) -> np.ndarray:
    """Each value's percentile from `above`, the count of its row's quantiles <= it; a row's
    i-th quantile is flat[start + i] (`start` per value, or one for a single row), read as
    float64: the one interpolation every way of counting shares, so all give the same bits."""
    size = len(levels)
    upper = np.minimum(np.maximum(above, 1), size - 1)
    position = upper + start  # flat index of each value's upper quantile
    high_q = flat[position].astype(np.float64)
    position -= 1
    low_q = flat[position].astype(np.float64)
    span = high_q - low_q
    span[~(high_q > low_q)] = 1.0
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf or huge / tiny: clipped
        fraction = np.subtract(values, low_q, out=low_q)
        fraction /= span
    np.maximum(fraction, 0.0, out=fraction)
    np.minimum(fraction, 1.0, out=fraction)
    upper -= 1
    fraction *= np.diff(levels)[upper]
    out = levels[upper] + fraction
    out[above == 0] = 0.0
    beyond = np.flatnonzero(above >= size)
    if len(beyond):
        first = start if np.ndim(start) == 0 else start[beyond]
        out[beyond] = beyond_top(values[beyond], flat[first + size - 1].astype(np.float64),
                                 flat[first + size - 2].astype(np.float64), levels[-1])
    out[~np.isfinite(values)] = 0.0
    return out


def percentile_from_quantiles(quantiles: np.ndarray, levels: np.ndarray,
                              values: np.ndarray) -> np.ndarray:
    """Where each value sits in its row's distribution (0..1), by interpolating the quantiles."""
    quantiles = np.asarray(quantiles, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    above = (quantiles <= values[:, None]).sum(axis=1)
    start = np.arange(len(values)) * quantiles.shape[1]
    return interpolate(values, above, quantiles.reshape(-1), start, levels)


def row_percentiles(table: np.ndarray, rows: np.ndarray, levels: np.ndarray,
                    values: np.ndarray) -> np.ndarray:
    """percentile_from_quantiles(table[rows], levels, values) without gathering whole rows: a
    branchless binary search per value in its own row (the same count of quantiles <= value,
    so the same bits as rank.percentile_in_row)."""
    values = np.asarray(values, dtype=np.float64)
    size = len(levels)
    flat = table.reshape(-1)
    start = np.asarray(rows, dtype=np.int64) * size  # flat offset of each value's row
    return interpolate(values, sorted_counts(flat, start, size, values), flat, start, levels)


def sorted_counts(flat: np.ndarray, start: np.ndarray, size: int,
                  values: np.ndarray) -> np.ndarray:
    """How many of each value's row's `size` sorted entries flat[start:start + size] are <= it.

    Steps of 2^j from the largest power of two down; a step past the row's end reads its last
    entry, so it is taken only when every entry is <= the value, and the count is clipped."""
    count = np.zeros(len(values), dtype=np.int64)
    last = start - 1
    step = 1 << (size.bit_length() - 1) if size else 0
    while step:
        index = np.minimum(count + step, size)
        index += last
        count += (flat[index] <= values) * step
        step >>= 1
    return np.minimum(count, size, out=count)


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
