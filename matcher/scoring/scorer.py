"""Fast scores: the re-ranker's logit without materialising one array per signal.

`signals.combine(signal_matrices(...))` is the reference: one dense (q, c) float64 array per
signal, then a weighted sum. Here a block of queries costs a few passes over one (q, c) array:
LightFM and every candidate-only (COLUMN) term are one matrix product, the country terms one
gather, the graph terms one sparse scatter, each PAIRWISE and PRODUCT term a pass of its formula
(matcher.scoring.cells, matcher.scoring.kinds), the cold re-ranker's LightFM products reading a
second product on the rows that weigh them. Serving, the batch and the score quantiles call
`block_scores` (mutual ranking `reverse.reverse_scores`), held equal to the reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from matcher.scoring import cells, kinds, walks
from matcher.scoring.prepared import positions_in, prepared, query_weights
from matcher.scoring.rowproduct import row_product
from matcher.scoring.signals import user_moments
from matcher.scoring.signaltable import (
    BY_NAME,
    CANDIDATE_COUNTS,
    COLUMNS,
    DOT_PRODUCTS,
    GRAPH,
    GROUP_PAIRS,
    QUERY_COUNTS,
    TRANSPOSED,
    WALKS,
)

if TYPE_CHECKING:  # imported where blocks are multiplied; a single query needs no scipy
    import scipy.sparse as sp

# Sums run in float64 and are rounded to float32 at the end: paths that add the same terms in
# another order (a block, one row, the reverse gathers) then give the same bits but for values
# within 1e-16 of a float32 rounding boundary, so batch and one-at-a-time lists agree.
DTYPE = np.float64
OUT_DTYPE = np.float32


def block_scores(arrays, queries: np.ndarray, columns: np.ndarray | None = None,
                 rerank: dict | None = None, graph_out: dict | None = None,
                 terms: tuple | None = None) -> np.ndarray:
    """Re-ranker logits (q, c), float32, for queries against `columns` (default: the candidates,
    in row order). The query itself and non-candidates get -inf; partners are not masked.
    `graph_out` gets the graph signals of many queries (stage two reads them). `terms`: the
    (dense, graph) terms' functions, by default here; the batch passes compiled ones."""
    queries = np.asarray(queries, dtype=np.int64)
    ready = prepared(arrays)
    default = columns is None
    cols = ready.candidates if default else np.asarray(columns, dtype=np.int64)
    weights, offset = query_weights(arrays, queries, rerank or arrays.rerank)
    get = weights.get
    zeros = np.zeros(len(queries))

    # LightFM, standardised per query, plus every term that depends on the column alone.
    mean, spread = user_moments(arrays, queries)
    scale = get("lightfm", zeros) / spread
    users = np.hstack([arrays.user_embeddings[queries] * scale[:, None], scale[:, None],
                       np.ones((len(queries), 1)), (offset - mean * scale)[:, None]])
    items = ready.candidate_items if default else ready.items_at(cols)
    warm = arrays.has_history(queries)
    out = np.empty((len(queries), len(cols)), dtype=DTYPE)
    # Rows that multiply LightFM by other signals need it standardised: one product for them.
    interacting = np.zeros(len(queries), dtype=bool)
    for name in DOT_PRODUCTS:
        interacting |= get(name, zeros) != 0
    lightfm = None
    if interacting.any():
        rows = np.flatnonzero(interacting)
        left = np.hstack([arrays.user_embeddings[queries[rows]] / spread[rows, None],
                          (1.0 / spread[rows])[:, None]])
        lightfm = row_product(left, items.T) if len(queries) == 1 else left @ items.T
        lightfm -= (mean[rows] / spread[rows])[:, None]
    # The column-only weights differ between the warm and cold parts: one product for each.
    for kind_rows in (rows for rows in (np.flatnonzero(warm), np.flatnonzero(~warm)) if len(rows)):
        first = kind_rows[0]
        key = tuple(float(get(name, zeros)[first]) for name in COLUMNS)
        cached = ready.right.get(key) if default else None
        if cached is None:  # sum(weight * input at cols) over the COLUMN signals
            column_sum = sum(weight * ready.inputs[BY_NAME[name].inputs[0]][cols]
                             for weight, name in zip(key, COLUMNS, strict=True))
            column_terms = np.stack([column_sum + np.zeros(len(cols)), np.ones(len(cols))],
                                    axis=1).astype(DTYPE)
            cached = (np.hstack([items, column_terms]).T, column_terms[:, 0].copy())
            if default:
                ready.right[key] = cached
        right, column_row = cached  # column_row: right[-2], contiguous
        if lightfm is not None and interacting[kind_rows].any():
            done = kind_rows[interacting[kind_rows]]
            position = np.searchsorted(np.flatnonzero(interacting), done)
            if len(done) == len(queries):  # every row: the same sums, no temporaries
                np.multiply((scale * spread)[:, None], lightfm, out=out)
                out += column_row[None, :]
                out += offset[:, None]
                continue
            standard = lightfm if len(position) == len(lightfm) else lightfm[position]
            out[done] = scale[done, None] * spread[done, None] * standard \
                + column_row[None, :] + offset[done, None]
            kind_rows = kind_rows[~interacting[kind_rows]]
            if not len(kind_rows):
                continue
        left = users[kind_rows].astype(DTYPE)
        if len(queries) == 1:  # one query: kept in this thread (see matcher.scoring.rowproduct)
            row_product(left, right, out=out)
        elif len(kind_rows) == len(queries):
            np.matmul(left, right, out=out)
        else:
            out[kind_rows] = left @ right

    dense, graph = terms or (add_dense_terms, add_graph_terms)
    dense(out, arrays, queries, cols if not default else None, lightfm, interacting, get, zeros)
    graph(out, arrays, queries, cols, get, zeros, graph_out)

    if not default:
        out[:, ~arrays.candidate_mask[cols]] = -np.inf
    position = (ready.positions if default else positions_in(arrays.n_cities, cols))[queries]
    inside = np.flatnonzero(position >= 0)
    out[inside, position[inside]] = -np.inf
    return out.astype(OUT_DTYPE)


def add_dense_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray | None,
                    lightfm: np.ndarray | None, interacting: np.ndarray, get, zeros) -> None:
    """The group, pairwise and product terms, a numpy pass each (`cols` None: candidates)."""
    ready = prepared(arrays)
    columns = ready.candidates if cols is None else cols  # the kept arrays when None
    _add_country_terms(out, arrays, queries, columns, get, zeros)
    cells.add_cell_terms(out, arrays, queries, columns, lightfm, interacting, get, zeros)


def _add_country_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray, get,
                       zeros) -> None:
    """Terms that depend on the query and the candidate's country, or the query's country and
    the candidate: one (q, countries) table gathered by column country, one row gather."""
    ready = prepared(arrays)
    table, by_admin1 = country_table(arrays, queries, get, zeros)
    out += np.take(table, ready.admin1_at(cols) if by_admin1 else ready.countries_at(cols),
                   axis=1)
    weights, rows, inverse = query_country_rows(arrays, queries, cols, get, zeros)
    for weight, row in zip(weights, rows, strict=True):
        if not np.any(weight):
            continue
        out += row[0][None, :] * weight[:, None] if len(queries) == 1 else \
            np.take(row, inverse, axis=0) * weight[:, None]


def query_country_rows(arrays, queries: np.ndarray, cols: np.ndarray, get,
                       zeros: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The terms read by the query's country at the candidate (the GROUP_COUNTs the candidate
    counts, CANDIDATE_COUNTS, in the table's order): their weights (s, q), one row per country
    among the queries' (s, u, c; zeros, never written, for a count no query weighs), and each
    query's row (q,); u is 1 when no query weighs any."""
    weights = np.array([get(name, zeros) for name in CANDIDATE_COUNTS], dtype=np.float64) \
        .reshape(len(CANDIDATE_COUNTS), len(queries))
    weighed = np.any(weights, axis=1)
    if not np.any(weighed):
        return weights, np.zeros((len(weights), 1, len(cols))), \
            np.zeros(len(queries), dtype=np.int64)
    query_countries = arrays.country_index[queries]
    unique, inverse = np.unique(query_countries, return_inverse=True) if len(queries) > 1 \
        else (query_countries, np.zeros(1, dtype=np.int64))
    ready = prepared(arrays)
    rows = np.zeros((len(weights), len(unique), len(cols)))
    for slot in np.flatnonzero(weighed):
        via = BY_NAME[CANDIDATE_COUNTS[slot]].count.via
        for at, country in enumerate(unique.tolist()):
            rows[slot, at] = ready.count_in_at(via, int(country), cols)
    return weights, rows, inverse.astype(np.int64)


def country_table(arrays, queries: np.ndarray, get,
                  zeros: np.ndarray) -> tuple[np.ndarray, bool]:
    """(q, countries) float64: each query's terms that depend on the candidate's country, and
    False; or, when a query weighs a GROUP_PAIR signal over regions, (q, regions) with the
    country terms spread over each country's first-level regions plus those, and True."""
    ready = prepared(arrays)
    table = np.zeros((len(queries), arrays.n_countries))
    for name in QUERY_COUNTS:  # the GROUP_COUNTs the query counts, by their table entry
        weight = get(name, zeros)
        if np.any(weight):
            table += weight[:, None] * kinds.count_of(
                ready.counts_by_country(BY_NAME[name].count.via, queries))
    ready = prepared(arrays)
    by_region = []
    for name in GROUP_PAIRS:  # each one's rows (its table entry), by country first
        signal, weight = BY_NAME[name], get(name, zeros)
        if signal.group == "country":
            table += weight[:, None] * signal.rows(ready, queries)
        elif np.any(weight):
            by_region.append((weight, signal))
    if by_region:  # a region lies in one country: one (q, regions) table, one gather
        table = table[:, ready.admin1_country]
        for weight, signal in by_region:
            table = table + weight[:, None] * signal.rows(ready, queries)
        return table.astype(DTYPE), True
    return table.astype(DTYPE), False


def graph_products(arrays, rows: np.ndarray, names: set[str]) -> dict[str, sp.csr_matrix]:
    """log(1 + value) of each wanted graph signal for `rows` against every city, sparse."""
    return walks.block(arrays, rows, {name: WALKS[name] for name in names})


def add_graph_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray, get,
                     zeros: np.ndarray, graph_out: dict | None = None) -> None:
    """The sparse graph signals, summed as sparse rows, added where non-zero (`graph_out`)."""
    names = {name for name in GRAPH if np.any(get(name, zeros))}
    if not names:
        return
    if len(queries) == 1:
        ready = prepared(arrays)
        rows = ready.graph_rows(int(queries[0]))
        cells, where = rows["cells"], slice(None)
        if cells is not None and cols is ready.candidates:  # the few cells that can be non-zero
            where = ready.positions[cells]
            cells = cells[where >= 0]
            where = where[where >= 0]
        else:
            cells = cols
        total = sum(float(get(name, zeros)[0]) * rows[name][cells] for name in names)
        out[0, where] += total.astype(DTYPE)
        return
    if len(cols) < len(queries):
        products = graph_products(arrays, cols, {TRANSPOSED[name] for name in names})
        for name in names:
            values = products[TRANSPOSED[name]][:, queries].toarray().T
            out += (get(name, zeros)[:, None] * values).astype(DTYPE)
        return
    import scipy.sparse as sp

    total = None
    products = graph_products(arrays, queries, names)
    if graph_out is not None:
        graph_out.update(products)
    for name, matrix in products.items():
        matrix = sp.csr_matrix(matrix.multiply(get(name, zeros)[:, None]))
        total = matrix if total is None else total + matrix
    if total is None or not total.nnz:
        return
    position = positions_in(arrays.n_cities, cols)
    total = total.tocoo()
    where = position[total.col]
    keep = where >= 0
    out[total.row[keep], where[keep]] += total.data[keep].astype(DTYPE)
