"""Fast scores: the re-ranker's logit without materialising one array per signal.

`signals.combine(signal_matrices(...))` is the reference: one dense (q, c) float64 array per
signal, then a weighted sum. Here a block of queries costs a few passes over one (q, c) array:
LightFM and every candidate-only term are one matrix product, the country terms one gather, the
graph terms one sparse scatter, the haversine two rank-2 products, and the cold re-ranker's
interactions a second product on the rows that weigh them. Serving, the batch and the score
quantiles call `block_scores` (mutual ranking `reverse.reverse_scores`), held equal to the
reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from matcher.prepared import Prepared, positions_in, prepared, query_weights
from matcher.rowproduct import row_product
from matcher.signals import EARTH_RADIUS_KM, user_moments
from matcher.signaltable import GRAPH, TRANSPOSED

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
    log_population = arrays.log_population
    warm = arrays.has_history(queries)
    out = np.empty((len(queries), len(cols)), dtype=DTYPE)
    # Rows that multiply LightFM by other signals need it standardised: one product for them.
    interacting = (get("lightfm_distance", zeros) != 0) | (get("lightfm_country_pair", zeros) != 0)
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
        key = (float(get("log_degree", zeros)[first]), float(get("log_population", zeros)[first]))
        cached = ready.right.get(key) if default else None
        if cached is None:
            column_terms = np.stack([key[0] * ready.log_degree[cols]
                                     + key[1] * log_population[cols], np.ones(len(cols))],
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
        if len(queries) == 1:  # one query: kept in this thread (see matcher.rowproduct)
            row_product(left, right, out=out)
        elif len(kind_rows) == len(queries):
            np.matmul(left, right, out=out)
        else:
            out[kind_rows] = left @ right

    dense, graph = terms or (add_dense_terms, _add_graph_terms)
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
    """The country, pair and interaction terms, a numpy pass each (`cols` None: candidates)."""
    ready = prepared(arrays)
    columns = ready.candidates if cols is None else cols  # the kept arrays when None
    _add_country_terms(out, arrays, queries, columns, get, zeros)
    distance = _add_pair_terms(out, arrays, ready, queries, cols, get, zeros)
    _add_interactions(out, arrays, queries, columns, lightfm, interacting, distance, get, zeros)


def _add_country_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray, get,
                       zeros) -> None:
    """Terms that depend on the query and the candidate's country, or the query's country and
    the candidate: one (q, countries) table gathered by column country, one row gather."""
    ready = prepared(arrays)
    table, by_admin1 = country_table(arrays, queries, get, zeros)
    out += np.take(table, ready.admin1_at(cols) if by_admin1 else ready.countries_at(cols),
                   axis=1)
    query_countries = arrays.country_index[queries]
    affinity = get("candidate_affinity", zeros)
    if np.any(affinity):
        unique, inverse = np.unique(query_countries, return_inverse=True) if len(queries) > 1 \
            else (query_countries, np.zeros(1, dtype=np.int64))
        columns = [ready.in_country_at(int(country), cols) for country in unique]
        out += columns[0][None, :] * affinity[:, None] if len(queries) == 1 else \
            np.take(np.stack(columns), inverse, axis=0) * affinity[:, None]


def country_table(arrays, queries: np.ndarray, get,
                  zeros: np.ndarray) -> tuple[np.ndarray, bool]:
    """(q, countries) float64: each query's terms that depend on the candidate's country, and
    False; or, when a query weighs admin1_pair, (q, regions) with the country terms spread
    over each country's first-level regions plus that signal, and True."""
    query_countries = arrays.country_index[queries]
    single = prepared(arrays).graph_rows(int(queries[0])) if len(queries) == 1 else None
    own = single["own_countries"][None, :] if single is not None else \
        prepared(arrays).partners_by_country_rows[queries].toarray()
    table = get("country_affinity", zeros)[:, None] * np.log1p(own)
    if np.any(get("region_country", zeros)):
        neighbours = single["near_countries"][None, :] if single is not None else \
            (arrays.geo.matrix[queries] @ arrays.binary.matrix
             @ arrays.membership).toarray()
        table += get("region_country", zeros)[:, None] * np.log1p(neighbours)
    table += get("country_pair", zeros)[:, None] * prepared(arrays).log_country_pairs[
        query_countries]
    table[np.arange(len(queries)), query_countries] += get("same_country", zeros)
    admin1 = get("admin1_pair", zeros)
    if np.any(admin1):  # a region lies in one country: one (q, regions) table, one gather
        ready = prepared(arrays)
        table = table[:, ready.admin1_country] + admin1[:, None] * ready.admin1_rows(queries)
        return table.astype(DTYPE), True
    return table.astype(DTYPE), False


def _add_pair_terms(out: np.ndarray, arrays, ready: Prepared, queries: np.ndarray,
                    cols: np.ndarray | None, get, zeros: np.ndarray) -> np.ndarray | None:
    """Size gap, distance (and their squares) and capitals: functions of both cities' own
    attributes (`cols` None: the candidates, whose column arrays are kept). Returns log(1 +
    km) when a LightFM interaction needs it."""
    log_population = arrays.log_population
    column_side = ready.column_side(cols)
    scratch = np.subtract(column_side["log_population"][None, :],
                          log_population[queries][:, None])
    np.abs(scratch, out=scratch)
    _add_squared(out, scratch, get("size_gap_squared", zeros))
    scratch *= get("size_gap", zeros).astype(DTYPE)[:, None]
    out += scratch
    weight = get("log_distance", zeros)
    distance = None
    if np.any(weight) or any(np.any(get(name, zeros))
                             for name in ("lightfm_distance", "log_distance_squared")):
        _log_distance(ready, queries, column_side, scratch)
        _add_squared(out, scratch, get("log_distance_squared", zeros))
        if np.any(get("lightfm_distance", zeros)):
            distance = scratch.copy()
        scratch *= weight.astype(DTYPE)[:, None]
        out += scratch
    capital = get("both_capital", zeros)
    capital_rows = np.flatnonzero(arrays.is_capital[queries] & (capital != 0))
    if len(capital_rows):
        out[np.ix_(capital_rows, np.flatnonzero(column_side["is_capital"]))] += \
            capital[capital_rows, None].astype(DTYPE)
    return distance


def _add_squared(out: np.ndarray, values: np.ndarray, weight: np.ndarray) -> None:
    """out += weight * values^2, on the rows whose weight is not zero."""
    rows = np.flatnonzero(weight)
    if len(rows) == len(out):  # every row: no gather and scatter back
        out += weight[:, None] * np.square(values)
    elif len(rows):
        out[rows] += weight[rows, None] * np.square(values[rows])


def _add_interactions(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray,
                      lightfm: np.ndarray | None, interacting: np.ndarray,
                      distance: np.ndarray | None, get, zeros: np.ndarray) -> None:
    """lightfm * log_distance and lightfm * country_pair on the `interacting` rows, from their
    standardised LightFM scores (`lightfm`, one row per interacting query)."""
    if lightfm is None:
        return
    rows = np.flatnonzero(interacting)
    by_distance, by_pair = get("lightfm_distance", zeros), get("lightfm_country_pair", zeros)
    ready = prepared(arrays)
    pairs = ready.log_country_pairs[arrays.country_index[queries[rows]]]
    factor = by_pair[rows, None] * np.take(pairs, ready.countries_at(cols), axis=1)
    every = len(rows) == len(out)  # every row: no gathers and scatter back
    if distance is not None:
        factor += by_distance[rows, None] * (distance if every else distance[rows])
    if every:
        out += lightfm * factor
    else:
        out[rows] += lightfm * factor


def _log_distance(ready: Prepared, queries: np.ndarray, column_side: dict[str, np.ndarray],
                  out: np.ndarray) -> None:
    """log(1 + great-circle km) into `out`, exact haversine without per-pair trigonometry:
    sin(dlat/2) and sqrt(cos lat1 cos lat2) sin(dlon/2) are both rank-2 bilinear forms, so
    two (q, 2) x (2, c) products give them with no cancellation for nearby cities."""
    lat_rows, _, lon_rows, _ = ready.trig
    np.matmul(lat_rows[queries], column_side["lat"], out=out)
    np.multiply(out, out, out=out)
    lon_part = lon_rows[queries] @ column_side["lon"]
    np.multiply(lon_part, lon_part, out=lon_part)
    out += lon_part
    np.minimum(out, 1.0, out=out)
    np.sqrt(out, out=out)
    np.arcsin(out, out=out)
    out *= DTYPE(2.0 * EARTH_RADIUS_KM)
    np.log1p(out, out=out)


def graph_products(arrays, rows: np.ndarray, names: set[str]) -> dict[str, sp.csr_matrix]:
    """log(1 + value) of each wanted graph signal for `rows` against every city, sparse."""
    import scipy.sparse as sp
    binary, geo = arrays.binary.matrix, arrays.geo.matrix
    binary_rows = binary[rows]
    neighbours_partners = geo[rows] @ binary if names & {"geo_cf", "region_pair"} else None
    symmetric = arrays.symmetric
    products = {
        "adamic_adar": lambda: binary_rows @ arrays.weighted_binary,
        "geo_cf": lambda: neighbours_partners,
        "partner_geo": lambda: binary_rows @ geo,
        "three_hop": lambda: 10.0 * (symmetric[rows] @ symmetric @ symmetric),
        "region_pair": lambda: neighbours_partners @ geo,
    }
    out = {}
    for name in names:
        matrix = sp.csr_matrix(products[name]())
        matrix.data = np.log1p(matrix.data)
        out[name] = matrix
    return out


def _add_graph_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray, get,
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
