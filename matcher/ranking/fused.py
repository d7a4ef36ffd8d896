"""Compiled kernels for the batch path: the dense per-cell terms of a block in one pass, and
the best cells of each row without sorting it.

`scorer.add_dense_terms` adds the group, pairwise and product terms to a (q, c) block in a
numpy pass each (temporaries, gathers, scatters back); on the snapshot they cost more than the
LightFM product itself. `add_dense_terms` here adds the same terms in the same order, cell by
cell, in one numba loop over column tiles. That loop is not written here: matcher.ranking.kernelgen
renders it (matcher/ranking/fused_dense.py) from the signal table and the formulas of
matcher.scoring.kinds,
whose arithmetic (`Formula.inner`) it copies; a formula's numpy part (`outer`: arcsin and
log1p stay numpy's vectorised ones) is applied here to each tile of its inner values. The
terms are added in matcher.scoring.cells' order (every PAIRWISE signal, then every PRODUCT), with no
fastmath (no reassociation or fused multiply-adds), so the block's bits equal the numpy
path's and a new signal needs no kernel edit. The kernel reads every weight and value from
its arguments, never module globals, which numba's on-disk cache would freeze.

Only the batch imports this module (numba costs ~0.5 s to import; `twin with` never pays it).
Kernels are compiled on first use and cached on disk (`cache=True`); they release the GIL, so
the batch's two threads run them side by side.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numba
import numpy as np

from matcher.ranking import fused_dense, kernelgen
from matcher.scoring import cells, kinds, scorer
from matcher.scoring.prepared import prepared
from matcher.scoring.signaltable import BY_NAME

_OPTIONS = {"nogil": True, "cache": True, "fastmath": False, "error_model": "numpy"}
COLUMN_TILE = 2048  # columns of a block whose per-cell values are made at once


def add_dense_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray | None,
                    lightfm: np.ndarray | None, interacting: np.ndarray, get,
                    zeros: np.ndarray) -> None:
    """scorer.add_dense_terms for a block against the candidates (`cols` None), compiled; other
    columns and single queries go to the numpy version (the one-query path's own)."""
    if cols is not None or len(queries) < 2 or not kernel_is_current():
        scorer.add_dense_terms(out, arrays, queries, cols, lightfm, interacting, get, zeros)
        return
    ready = prepared(arrays)
    candidates = ready.candidates
    table, by_admin1 = scorer.country_table(arrays, queries, get, zeros)
    group = (ready.candidate_admin1 if by_admin1 else ready.candidate_countries).astype(np.int64)
    affinity, in_country, inverse = scorer.query_country_rows(arrays, queries, candidates, get,
                                                              zeros)
    weights = _weights(fused_dense.PAIRWISE, get, zeros, len(queries))
    product_weights = _weights(fused_dense.PRODUCTS, get, zeros, len(queries))
    lightfm_row = np.full(len(queries), -1, dtype=np.int64)
    if lightfm is None:
        lightfm = np.empty((0, 0))
    else:
        lightfm_row[np.flatnonzero(interacting)] = np.arange(len(lightfm))
    lightfm = np.ascontiguousarray(lightfm, dtype=np.float64)
    groups = []
    for name in fused_dense.GROUP_FACTORS:
        rows, column_groups = cells.group_rows(arrays, name, queries)
        groups += [np.ascontiguousarray(rows, dtype=np.float64),
                   column_groups[candidates].astype(np.int64)]
    query_inputs = np.array([ready.inputs[name][queries] for name in kinds.INPUTS])
    column_inputs = np.array([ready.candidate_inputs[name] for name in kinds.INPUTS])
    outer = [BY_NAME[name].cell.outer for name in fused_dense.OUTER]
    values = np.empty((len(outer), len(queries), COLUMN_TILE))
    # Column tiles of about 1 MB a value: the values are made and read while in cache.
    for begin in range(0, len(candidates), COLUMN_TILE):
        end = min(begin + COLUMN_TILE, len(candidates))
        fused_dense.inner_tiles(values, begin, end, query_inputs, column_inputs)
        for slot, finish in enumerate(outer):  # numpy's vectorised arcsin, log1p... in place
            tile = values[slot, :, :end - begin]
            finished = finish(tile)
            if finished is not tile:
                tile[...] = finished
        fused_dense.dense_tile(out, begin, end, table, group, affinity, in_country, inverse,
                               query_inputs, column_inputs, values, weights, product_weights,
                               lightfm, lightfm_row, *groups)


@functools.cache
def kernel_is_current() -> bool:
    """The generated kernel matches today's table and formulas (once per process); when not,
    the batch warns and adds the dense terms with numpy (the same values, slower) rather
    than leave a signal out."""
    if kernelgen.render() == Path(fused_dense.__file__).read_text(encoding="utf-8"):
        return True
    warnings.warn("matcher/ranking/fused_dense.py is stale (run `make kernels`): the "
                  "batch adds its dense terms with numpy", RuntimeWarning, stacklevel=2)
    return False


def _weights(names: tuple[str, ...], get, zeros: np.ndarray, rows: int) -> np.ndarray:
    """(len(names), rows) float64: each query's weight of each signal (zero: unweighted)."""
    return np.array([get(name, zeros) for name in names], dtype=np.float64).reshape(
        len(names), rows)


@numba.njit(**_OPTIONS)
def _worse(values, a, b):  # pragma: no cover - compiled
    """Cell a ranks below cell b: a lower value, or an equal value at a higher position."""
    return values[a] < values[b] or (values[a] == values[b] and a > b)


@numba.njit(**_OPTIONS)
def _sift_down(heap, size, at, values):  # pragma: no cover - compiled
    """Restore the heap (worst cell on top) below `at`."""
    while True:
        child = 2 * at + 1
        if child >= size:
            return
        if child + 1 < size and _worse(values, heap[child + 1], heap[child]):
            child += 1
        if not _worse(values, heap[child], heap[at]):
            return
        heap[at], heap[child] = heap[child], heap[at]
        at = child


@numba.njit(**_OPTIONS)
def _best(values, cells, count, depth, finite_only, heap):  # pragma: no cover - compiled
    """Fill `heap` with the `depth` best of the first `count` `cells` of `values` (ascending
    positions; worst on top); returns how many. With `finite_only`, -inf is never taken."""
    size = 0
    floor = -np.inf  # the worst kept value once the heap is full: most cells stop here
    for index in range(count):
        cell = cells[index]
        value = values[cell]
        if value < floor or (finite_only and not np.isfinite(value)):
            continue
        if size < depth:
            heap[size] = cell
            at = size
            size += 1
            while at > 0:  # sift up
                parent = (at - 1) // 2
                if not _worse(values, heap[at], heap[parent]):
                    break
                heap[at], heap[parent] = heap[parent], heap[at]
                at = parent
            if size == depth:
                floor = values[heap[0]]
        elif _worse(values, heap[0], cell):
            heap[0] = cell
            _sift_down(heap, size, 0, values)
            floor = values[heap[0]]
    return size


@numba.njit(**_OPTIONS)
def ranked(values, count, heap, order):  # pragma: no cover - compiled
    """order[:count] = the indices 0..count-1 best first: higher value, ties to the lower index
    (a stable argsort of -values; a heap sort, which compiles far faster than numba's)."""
    for index in range(count):
        order[index] = index
    _best(values, order, count, count, False, heap)
    for place in range(count - 1, -1, -1):  # pop the worst into the last place
        order[place] = heap[0]
        heap[0] = heap[place]
        _sift_down(heap, place, 0, values)


_STRIDE = 16  # one cell in this many estimates the threshold


@numba.njit(**_OPTIONS)
def _select(values, depth, finite_only, heap, cells):  # pragma: no cover - compiled
    """_best over the whole row, in two passes: a threshold from every _STRIDE-th cell that
    keeps about twice `depth` cells, the cells at or above it, then the heap over those (all
    cells again when too few were kept and the threshold was finite)."""
    sampled = 0
    for cell in range(0, values.shape[0], _STRIDE):
        cells[sampled] = cell
        sampled += 1
    rank = min(sampled, 2 * (depth // _STRIDE) + 8)
    _best(values, cells, sampled, rank, False, heap)  # heap: len >= depth >= rank
    threshold = values[heap[0]]
    count = 0
    for cell in range(values.shape[0]):
        if values[cell] >= threshold:
            cells[count] = cell
            count += 1
    if count < depth and threshold > -np.inf:
        for cell in range(values.shape[0]):
            cells[cell] = cell
        count = values.shape[0]
    return _best(values, cells, count, depth, finite_only, heap)


@numba.njit(**_OPTIONS)
def mask_and_shortlist(block, final, query_country, column_country, mask_domestic,
                       size):  # pragma: no cover - compiled
    """Set each query's own country's cells to -inf in `block` and `final` (unless not
    `mask_domestic`), then each final row's `size` best cells (in no order; ties at the edge
    go either way), their scores, and the best score left outside (the bound; -inf when
    nothing is left): batch._shortlist without a partition of the whole row."""
    rows, columns = final.shape
    positions = np.empty((rows, size), dtype=np.int64)
    scores = np.empty((rows, size), dtype=final.dtype)
    outside = np.empty(rows, dtype=final.dtype)
    heap = np.empty(size + 9, dtype=np.int64)
    cells = np.empty(columns, dtype=np.int64)
    for i in range(rows):
        if mask_domestic:
            own = query_country[i]
            for j in range(columns):
                if column_country[j] == own:
                    block[i, j] = -np.inf
                    final[i, j] = -np.inf
        values = final[i]
        _select(values, size + 1, False, heap, cells)
        outside[i] = values[heap[0]]
        for place in range(size):
            positions[i, place] = heap[place + 1]
            scores[i, place] = values[heap[place + 1]]
    return positions, scores, outside

