"""One query row times a wide matrix, kept in the calling thread.

OpenBLAS hands a matrix-vector product of 460,800 cells or more to its worker threads. For one
query that is a few hundred microseconds of work, and waiting for a worker costs more: the
calling thread spins until it is scheduled (on a busy machine, milliseconds of CPU time per
query), and the worker spins on after the call. Column chunks below the threshold stay in the
calling thread. Each output is the same kernel's dot product from a chunk start that is a
multiple of 4, so the values equal a single-threaded BLAS's bit for bit, however many cores the
machine has (a threaded split sums the column at each thread's boundary in another order).
"""

from __future__ import annotations

import numpy as np

CHUNK_CELLS = 1 << 18  # a chunk's cells, well under OpenBLAS's threading threshold


def row_product(left: np.ndarray, right: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """left @ right for a (1, k) left, (1, n) float64, computed chunk by chunk of columns."""
    if out is None:
        out = np.empty((1, right.shape[1]), dtype=np.result_type(left, right))
    step = max(4, (CHUNK_CELLS // max(right.shape[0], 1)) & ~3)
    for start in range(0, right.shape[1], step):
        np.matmul(left, right[:, start:start + step], out=out[:, start:start + step])
    return out
