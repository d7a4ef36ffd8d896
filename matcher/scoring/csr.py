"""Sparse matrices as raw CSR arrays, read without scipy.

A fresh `twin with CITY` reads a handful of rows of the partnership graph and of the
geographic kernel; importing scipy.sparse alone costs about 0.1 s of the 0.5 s budget. So the
model keeps its sparse matrices as `CSR` (indptr, indices, data), which the one-query path reads
directly, and builds a scipy matrix over the same arrays (`CSR.matrix`, no copy) only for the
code that multiplies whole blocks (batch, pairing, explanations, training).

`CSR.load` reads scipy's `save_npz` layout without pickle: the members of an uncompressed file
are memory-mapped in the dtypes they were saved in (a query reads a few rows; copying and
widening 1.7M entries took a tenth of the fresh start), a compressed file goes through
`np.load(allow_pickle=False)`. Values may be float32: everything here widens them to float64
before arithmetic, as loading did, so results keep their bits.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

NPZ_KEYS = ("format", "shape", "indptr", "indices", "data")


@dataclass(frozen=True, eq=False)
class CSR:
    """A (rows, columns) matrix in compressed sparse row form; row i's entries are
    indices[indptr[i]:indptr[i + 1]] with values data[...] (float64, or as stored on disk)."""

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
        if len(self.indptr) and (int(self.indptr[0]) != 0 or np.any(np.diff(self.indptr) < 0)):
            raise ValueError("CSR row pointers do not start at 0 and rise")
        if len(self.indices) and (int(self.indices.min()) < 0
                                  or int(self.indices.max()) >= columns):
            raise ValueError(f"CSR column indices outside 0..{columns - 1}")

    @classmethod
    def of(cls, matrix) -> CSR:
        """A CSR from a scipy sparse matrix (float64 values), or a CSR as it is."""
        if isinstance(matrix, CSR):
            return matrix
        matrix = matrix.tocsr()
        matrix.sort_indices()
        return cls(matrix.indptr, matrix.indices, matrix.data.astype(np.float64),
                   tuple(int(s) for s in matrix.shape))

    @classmethod
    def load(cls, path: Path) -> CSR:
        """Read a matrix written by scipy.sparse.save_npz in CSR format (no pickle). Raises
        ValueError or KeyError when the file is not one."""
        archive = read_npz(path)
        missing = [key for key in NPZ_KEYS if key not in archive]
        if missing:
            raise KeyError(f"missing arrays {missing}")
        layout = archive["format"].item()
        layout = layout.decode() if isinstance(layout, bytes) else str(layout)
        if layout != "csr":
            raise ValueError(f"sparse format {layout!r}, expected 'csr'")
        shape = tuple(int(s) for s in archive["shape"])
        if len(shape) != 2:
            raise ValueError(f"shape {shape} is not two-dimensional")
        for key, kinds in (("indptr", "iu"), ("indices", "iu"), ("data", "fiu")):
            if archive[key].dtype.kind not in kinds or archive[key].ndim != 1:
                raise ValueError(f"array {key!r} is {archive[key].dtype} with "
                                 f"{archive[key].ndim} dimensions, expected a 1-d "
                                 f"{'integer' if kinds == 'iu' else 'numeric'} array")
        return cls(archive["indptr"], archive["indices"], archive["data"], shape)

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

    def entries(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions of the rows' entries in indices/data, row after row; each row's count)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = self.indptr[rows], self.indptr[rows + 1]
        lengths = stops - starts
        return np.repeat(stops - lengths.cumsum(), lengths) + np.arange(lengths.sum()), lengths

    def rows(self, rows: np.ndarray) -> CSR:
        """The sub-matrix of the rows `rows`, in that order."""
        cells, lengths = self.entries(rows)
        return CSR(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                   self.indices[cells], self.data[cells], (len(lengths), self.shape[1]))

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

        return sp.csr_matrix((np.asarray(self.data, dtype=np.float64), self.indices,
                              self.indptr), shape=self.shape)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file by name, without pickle: memory-mapped (read-only) when
    every member is stored uncompressed, else read by np.load(allow_pickle=False)."""
    try:
        mapped = _mapped_members(path)
        if mapped:
            return mapped
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, zlib.error, struct.error, EOFError) as error:
        raise ValueError(f"not a readable .npz archive ({error})") from error


def _mapped_members(path: Path) -> dict[str, np.ndarray]:
    """The members memory-mapped, or {} when one is compressed (np.load reads those)."""
    mapped: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                return {}
            raw.seek(info.header_offset)
            header = raw.read(30)  # the local file header: name and extra field lengths last
            if header[:4] != b"PK\x03\x04":
                raise ValueError(f"member {info.filename} has no local header")
            name_length, extra_length = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_length + extra_length
            raw.seek(start)
            version = np.lib.format.read_magic(raw)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(raw)
            if dtype.hasobject:
                raise ValueError(f"member {info.filename} holds Python objects")
            if not shape or not np.prod(shape):  # np.memmap maps no 0-d or empty array
                raw.seek(start)
                mapped[info.filename[:-4]] = np.lib.format.read_array(raw, allow_pickle=False)
                continue
            mapped[info.filename[:-4]] = np.asarray(np.memmap(
                raw, dtype=dtype, mode="r", offset=raw.tell(), shape=shape,
                order="F" if fortran_order else "C"))
    return mapped
