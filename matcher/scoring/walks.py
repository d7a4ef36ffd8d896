"""Graph walks: the path of each GRAPH_WALK signal, declared once, evaluated two ways.

A walk starts from the query's row of the partnership graph B or the neighbour kernel G, then
takes steps, each weighting the cities reached so far (by 1 / degree, say) and moving along B
or G: value(q, .) = factor * w0(q) * M0[q] diag(w1) M1 diag(w2) M2 ... diag(w_end), and the
signal is log(1 + value). `block` evaluates a block of queries as sparse products (the
reference, evaluation, the batch); `row` one query as sums of CSR rows (serving), with no scipy.
The two are held equal by tests; adding a walk signal is one entry in matcher.scoring.signaltable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matcher.scoring.csr import CSR
from matcher.scoring.rowsum import RowSum, sum_rows

if TYPE_CHECKING:
    import scipy.sparse as sp

MATRICES = ("binary", "geo")  # B (partnerships, weight 1 each) and G (the neighbour kernel)
WEIGHTS = ("inv_log_degree", "inv_degree", "inv_sqrt_degree")  # per-city vectors (arrays.*)


@dataclass(frozen=True)
class Walk:
    """A walk: the query's row of `first`, then each (weight, matrix) step, then `end`."""

    first: str  # one of MATRICES
    steps: tuple[tuple[str | None, str], ...] = ()
    start: str | None = None  # the query's own weight (one of WEIGHTS)
    end: str | None = None  # a weight of every city reached, applied last
    factor: float = 1.0

    def path(self) -> Walk:
        """The walk without its last weight and factor: what walks that begin alike share."""
        return Walk(self.first, self.steps, self.start)

    def before_last(self) -> Walk:
        """The path one step shorter (the walk a step extends)."""
        return Walk(self.first, self.steps[:-1], self.start)


# The query's geographic neighbours' partners (G B): a walk of its own, and what the
# region_country signal counts by country.
NEIGHBOURS_PARTNERS = Walk("geo", ((None, "binary"),))


def _matrix(arrays, name: str) -> CSR:
    return arrays.binary if name == "binary" else arrays.geo


def block(arrays, queries: np.ndarray, walks: dict[str, Walk],
          log: bool = True) -> dict[str, sp.csr_matrix]:
    """Each walk's (q, n) sparse values for a block of queries, log(1 + value) unless `log` is
    False; walks that begin alike share their products."""
    import scipy.sparse as sp

    queries = np.asarray(queries, dtype=np.int64)
    done: dict[Walk, sp.csr_matrix] = {}

    def reach(walk: Walk) -> sp.csr_matrix:
        if walk not in done:
            if walk.steps:
                weight, matrix = walk.steps[-1]
                before = reach(walk.before_last())
                if weight is not None:
                    before = sp.csr_matrix(before.multiply(getattr(arrays, weight)[None, :]))
                done[walk] = sp.csr_matrix(before @ _matrix(arrays, matrix).matrix)
            else:
                rows = _matrix(arrays, walk.first).matrix[queries]
                if walk.start is not None:
                    rows = rows.multiply(getattr(arrays, walk.start)[queries][:, None])
                done[walk] = sp.csr_matrix(rows)
        return done[walk]

    out = {}
    for name, walk in walks.items():
        values = reach(walk.path())
        if walk.end is not None:
            values = values.multiply(getattr(arrays, walk.end)[None, :])
        values = sp.csr_matrix(values * walk.factor if walk.factor != 1.0 else values,
                               dtype=np.float64)
        if log:
            values.data = np.log1p(values.data)
        out[name] = values
    return out


def row(arrays, query: int, walks: dict[str, Walk]) -> dict[str, RowSum]:
    """Each walk's raw (n,) values for one query (not yet log1p), as RowSums: sums of CSR rows
    (matcher.scoring.prepared.sum_rows); walks that begin alike share their sums."""
    n = arrays.n_cities
    done: dict[Walk, RowSum] = {}

    def reach(walk: Walk) -> RowSum:
        if walk not in done:
            if walk.steps:
                weight, matrix = walk.steps[-1]
                before = reach(walk.before_last())
                cells = before.nonzero()
                values = before.values[cells]
                if weight is not None:
                    values = values * getattr(arrays, weight)[cells]
                done[walk] = sum_rows(_matrix(arrays, matrix), cells, values, n)
            else:
                first = _matrix(arrays, walk.first)
                cells = first.row(query)
                values = first.row_values(query).astype(np.float64)
                if walk.start is not None:
                    values = values * getattr(arrays, walk.start)[query]
                summed = np.zeros(n)
                summed[cells] = values
                done[walk] = RowSum(summed, cells)
        return done[walk]

    out = {}
    for name, walk in walks.items():
        reached = reach(walk.path())
        summed = RowSum(reached.values.copy(), reached.touched)  # its own: callers log1p it
        if walk.end is not None:
            summed.scale(getattr(arrays, walk.end))
        if walk.factor != 1.0:
            summed.scale(walk.factor)
        out[name] = summed
    return out
