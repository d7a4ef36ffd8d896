"""Sums of sparse rows as dense vectors, with the cells they touched: one query's graph walks
without scipy (a query touches a handful of rows; scipy's per-call overhead would cost more than
the arithmetic)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from matcher.scoring.csr import CSR


@dataclass
class RowSum:
    """A dense (n,) sum of sparse rows and the cells it touched (with repeats): the non-zero
    cells are among them, so a short list of touched cells spares scans of all n."""

    values: np.ndarray
    touched: np.ndarray

    def nonzero(self) -> np.ndarray:
        """Ascending rows of the non-zero values (np.flatnonzero's, from the touched cells:
        untouched ones stay 0)."""
        cells = touched_cells(len(self.values), self.touched)
        return cells[self.values[cells] != 0]

    def scale(self, by: np.ndarray | float) -> None:
        """values *= by, in place (nothing to do when no cell was touched)."""
        if len(self.touched):
            self.values *= by

    def log1p(self) -> np.ndarray:
        """log(1 + values) in place; untouched cells stay 0."""
        if not len(self.touched):
            return self.values
        if len(self.touched) * 8 > len(self.values):
            return np.log1p(self.values, out=self.values)
        self.values[self.touched] = np.log1p(self.values[self.touched])
        return self.values


def touched_cells(n: int, *touched: np.ndarray) -> np.ndarray:
    """The distinct cells of the `touched` lists, ascending (np.unique's answer): marked in an
    (n,) mask and read back, which beats unique's sort or hash from a few hundred cells on."""
    mark = np.zeros(n, dtype=bool)
    for cells in touched:
        mark[cells] = True
    return np.flatnonzero(mark)


@lru_cache(maxsize=4)
def _zeros(n: int) -> np.ndarray:
    """One read-only (n,) zero row shared by every empty sum (a fresh one costs page faults)."""
    zeros = np.zeros(n)
    zeros.flags.writeable = False
    return zeros


def sum_rows(matrix: CSR, rows: np.ndarray, weights: np.ndarray, n: int) -> RowSum:
    """sum_i weights[i] * matrix[rows[i]] as a dense (n,) vector, with the cells touched."""
    if not len(rows):
        return RowSum(_zeros(n), np.empty(0, dtype=np.int64))
    positions, lengths = matrix.entries(rows)
    values = matrix.data[positions] * np.repeat(weights, lengths)
    touched = matrix.indices[positions]
    summed = np.bincount(touched, weights=values, minlength=n).astype(np.float64, copy=False)
    return RowSum(summed, touched)  # float even when no cell was touched (bincount: int)
