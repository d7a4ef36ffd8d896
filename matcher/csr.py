"""Sparse matrices as raw CSR arrays, read without scipy.

A fresh `twin with CITY` reads a handful of rows of the partnership graph and of the
geographic kernel; importing scipy.sparse alone costs about 0.1 s of the 0.5 s budget. So the
model keeps its sparse matrices as `CSR` (indptr, indices, data), which the one-query path reads
directly, and builds a scipy matrix over the same arrays (`CSR.matrix`, no copy) only for the
code that multiplies whole blocks (batch, pairing, explanations, training).

`CSR.load` reads scipy's `save_npz` layout with `np.load(allow_pickle=False)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

NPZ_KEYS = ("format", "shape", "indptr", "indices", "data")


@dataclass(frozen=True, eq=False)
class CSR:
    """A (rows, columns) matrix in compressed sparse row form; row i's entries are
    indices[indptr[i]:indptr[i + 1]] with values data[...] (float64)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        rows, columns = self.shape
        if len(self.indptr) != rows + 1 or len(self.indices) != len(self.data) or \
                (rows and int(self.indptr[-1]) != len(self.indices)):
            raise ValueError(f"inconsistent CSR arrays for shape {self.shape}: indptr "
                             f"{len(self.indptr)}, indices {len(self.indices)}, data "
                             f"{len(self.data)}")
        if len(self.indices) and (int(self.indices.min()) < 0
                                  or int(self.indices.max()) >= columns):
            raise ValueError(f"CSR column indices outside 0..{columns - 1}")

    @classmethod
    def of(cls, matrix) -> CSR:
        """A CSR (float64 values) from a scipy sparse matrix, a dense array or a CSR."""
        if isinstance(matrix, CSR):
            return matrix if matrix.data.dtype == np.float64 else \
                cls(matrix.indptr, matrix.indices, matrix.data.astype(np.float64), matrix.shape)
        if isinstance(matrix, np.ndarray):
            rows, columns = np.nonzero(matrix)
            indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(matrix)))])
            return cls(indptr, columns, matrix[rows, columns].astype(np.float64), matrix.shape)
        matrix = matrix.tocsr()
        matrix.sort_indices()
        return cls(matrix.indptr, matrix.indices, matrix.data.astype(np.float64),
                   tuple(int(s) for s in matrix.shape))

    @classmethod
    def load(cls, path: Path) -> CSR:
        """Read a matrix written by scipy.sparse.save_npz in CSR format (no pickle). Raises
        ValueError or KeyError when the file is not one."""
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise KeyError(f"missing arrays {missing}")
            layout = archive["format"].item()
            layout = layout.decode() if isinstance(layout, bytes) else str(layout)
            if layout != "csr":
                raise ValueError(f"sparse format {layout!r}, expected 'csr'")
            shape = tuple(int(s) for s in archive["shape"])
            if len(shape) != 2:
                raise ValueError(f"shape {shape} is not two-dimensional")
            return cls(archive["indptr"].astype(np.int64), archive["indices"].astype(np.int64),
                       archive["data"].astype(np.float64), shape)

    @property
    def nnz(self) -> int:
        return len(self.data)

    def row(self, row: int) -> np.ndarray:
        """Column indices of a row's entries (a view)."""
        return self.indices[self.indptr[row]:self.indptr[row + 1]]

    def row_values(self, row: int) -> np.ndarray:
        """Values of a row's entries, aligned with row(row) (a view)."""
        return self.data[self.indptr[row]:self.indptr[row + 1]]

    @cached_property
    def row_of_entry(self) -> np.ndarray:
        """The row of each stored entry, (nnz,)."""
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def with_values(self, data: np.ndarray) -> CSR:
        """The same pattern with other values (e.g. ones for the binary graph)."""
        return CSR(self.indptr, self.indices, np.asarray(data, dtype=np.float64), self.shape)

    def columns(self, keep: np.ndarray) -> CSR:
        """The sub-matrix of the columns `keep` (ascending), renumbered 0..len(keep)-1."""
        keep = np.asarray(keep, dtype=np.int64)
        new_index = np.full(self.shape[1], -1, dtype=np.int64)
        new_index[keep] = np.arange(len(keep))
        kept = new_index[self.indices] >= 0
        counts = np.bincount(self.row_of_entry[kept], minlength=self.shape[0])
        return CSR(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                   new_index[self.indices[kept]], self.data[kept], (self.shape[0], len(keep)))

    def rows(self, rows: np.ndarray) -> CSR:
        """The sub-matrix of the rows `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = self.indptr[rows], self.indptr[rows + 1]
        lengths = stops - starts
        cells = np.repeat(stops - lengths.cumsum(), lengths) + np.arange(lengths.sum())
        return CSR(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                   self.indices[cells], self.data[cells], (len(rows), self.shape[1]))

    def dense_row(self, row: int) -> np.ndarray:
        """Row `row` as a dense (columns,) float64 vector."""
        out = np.zeros(self.shape[1])
        out[self.row(row)] = self.row_values(row)
        return out

    def row_sums(self, squared: bool = False) -> np.ndarray:
        """Each row's sum of values (of squared values): np.add.reduceat over the non-empty
        rows, as scipy's sum(axis=1) does, so the two agree to the bit."""
        values = self.data * self.data if squared else self.data
        out = np.zeros(self.shape[0])
        filled = np.flatnonzero(np.diff(self.indptr))
        if len(filled):
            out[filled] = np.add.reduceat(values, self.indptr[filled])
        return out

    def matvec(self, vector: np.ndarray) -> np.ndarray:
        """matrix @ vector, (rows,) float64; each row summed in stored order from 0, as
        scipy's csr_matvec does, so the two agree to the bit."""
        products = self.data * np.asarray(vector, dtype=np.float64)[self.indices]
        return np.bincount(self.row_of_entry, weights=products, minlength=self.shape[0])

    def count_by(self, row_group: np.ndarray, column_group: np.ndarray, rows: int,
                 columns: int) -> np.ndarray:
        """(rows, columns) float64: sum of values over entries whose row falls in group a
        (row_group[row]) and column in group b (column_group[column])."""
        cells = row_group[self.row_of_entry] * columns + column_group[self.indices]
        return np.bincount(cells, weights=self.data, minlength=rows * columns) \
            .reshape(rows, columns)

    @cached_property
    def matrix(self):
        """The same matrix as scipy.sparse.csr_matrix over these arrays (scipy imported here)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)
