"""Per-cell values of the signals that are not graph walks, for listed pairs or a block.

`pair_values` gives each wanted signal of each query against its own cities (q, d): stage two
and explanations read it (matcher.scoring.refine), and the folded block scorer reads the factors of
its products from it. `cell_terms` and `block_values` are the per-cell part of the block sum that
the numpy path (matcher.scoring.scorer) and the compiled batch kernel (matcher.ranking.fused)
share: the same
values from the same formulas (matcher.scoring.kinds), added in the table's order, so both give the
same bits. PAIRWISE and COLUMN signals are evaluated from their table entry alone; the group
kinds read the per-group rows kept in matcher.scoring.prepared, GROUP_COUNT by its `Count`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from matcher.scoring import kinds
from matcher.scoring.prepared import prepared
from matcher.scoring.signals import user_moments
from matcher.scoring.signaltable import BY_NAME, PAIRWISE, PRODUCTS, Kind


def pair_values(arrays, queries: np.ndarray, cols: np.ndarray, names: Iterable[str],
                single: bool = False) -> dict[str, np.ndarray]:
    """The signals `names` (no graph walks, no products) of each query against its cities
    `cols` (q, d), (q, d) float64 each. `single`: one query's group counts come from its kept
    graph rows (matcher.scoring.prepared.Prepared.graph_rows), as stage two reads them."""
    ready = prepared(arrays)
    queries = np.asarray(queries, dtype=np.int64)
    out = {}
    for name in names:
        signal = BY_NAME[name]
        if signal.kind is Kind.DOT:
            out[name] = _lightfm(arrays, queries, cols)
        elif signal.kind is Kind.PAIRWISE:
            out[name] = signal.pairwise(ready.query_inputs(queries), ready.column_inputs(cols))
        elif signal.kind is Kind.COLUMN:
            out[name] = ready.inputs[signal.inputs[0]][cols]
        elif signal.kind is Kind.GROUP_PAIR:
            rows, column_groups = group_rows(arrays, name, queries)
            out[name] = np.take_along_axis(rows, column_groups[cols], axis=1)
        else:
            out[name] = group_count(ready, signal.count, queries, cols, single)
    return out


def group_count(ready, count: kinds.Count, queries: np.ndarray, cols: np.ndarray,
                single: bool = False) -> np.ndarray:
    """A GROUP_COUNT signal (its table entry's `count`) of each query against its cities
    `cols`, (q, d): the query's row over the countries at each city's country, or each city's
    count in the query's country."""
    arrays = ready.arrays
    if count.by == "query":
        counts = ready.counts_by_country(count.via, queries, single)
        return kinds.count_of(np.take_along_axis(counts, arrays.country_index[cols], axis=1))
    query_countries = arrays.country_index[queries]
    out = np.empty(cols.shape)
    for country in sorted(set(query_countries.tolist())):  # np.unique imports numpy.ma (9 ms)
        rows = query_countries == country
        out[rows] = ready.count_in(count.via, country)[cols[rows]]
    return out


def group_rows(arrays, name: str, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A GROUP_PAIR signal as each query's row over the groups, (q, groups), and each city's
    group, (n,): its value for (query, city) is rows[query, group[city]] (the table entry's
    `rows` and `group`)."""
    signal = BY_NAME[name]
    return signal.rows(prepared(arrays), queries), \
        arrays.country_index if signal.group == "country" else arrays.admin1


def _lightfm(arrays, queries: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The LightFM score of each listed pair, standardised by the query's moments."""
    mean, spread = user_moments(arrays, queries)
    users = arrays.user_embeddings[queries].astype(np.float64)  # rows only: a fresh process
    items = arrays.item_embeddings[cols].astype(np.float64)  # converts no whole matrix
    lightfm = (items * users[:, None, :]).sum(axis=-1) + arrays.item_biases[cols]
    return (lightfm - mean[:, None]) / spread[:, None]


def cell_terms(get, zeros: np.ndarray) -> tuple[list[str], list[tuple[str, str, str]]]:
    """What a block adds cell by cell: the PAIRWISE signals and the (product, left, right)
    PRODUCTs some query weighs, each in the table's order."""
    return ([name for name in PAIRWISE if np.any(get(name, zeros))],
            [(name, *factors) for name, factors in PRODUCTS.items()
             if np.any(get(name, zeros))])


def block_values(arrays, queries: np.ndarray, cols: np.ndarray, names: Iterable[str],
                 lightfm: np.ndarray | None, interacting: np.ndarray,
                 column_inputs: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The signals `names` of each query against the same cities `cols`, (q, c) each: DOT from
    the block's standardised LightFM rows (`lightfm`, one per `interacting` query, zero
    elsewhere), PAIRWISE by its formula (`column_inputs`: the inputs at `cols`, if kept), the
    rest as listed pairs."""
    ready = prepared(arrays)
    query_inputs = ready.query_inputs(queries)
    column_inputs = ready.column_inputs(cols) if column_inputs is None else column_inputs
    out = {}
    listed = []
    for name in dict.fromkeys(names):
        signal = BY_NAME[name]
        if signal.kind is Kind.DOT:
            out[name] = np.zeros((len(queries), len(cols)))
            if lightfm is not None:
                out[name][interacting] = lightfm
        elif signal.kind is Kind.PAIRWISE:
            out[name] = signal.pairwise(query_inputs, column_inputs)
        else:
            listed.append(name)
    if listed:
        out.update(pair_values(arrays, queries, np.broadcast_to(cols, (len(queries), len(cols))),
                               listed))
    return out


def add_cell_terms(out: np.ndarray, arrays, queries: np.ndarray, cols: np.ndarray,
                   lightfm: np.ndarray | None, interacting: np.ndarray, get,
                   zeros: np.ndarray) -> None:
    """out += every per-cell term of `cell_terms`, a numpy pass each, in the table's order:
    weight * value for each PAIRWISE signal, then weight * (left * right) for each PRODUCT."""
    names, products = cell_terms(get, zeros)
    values = block_values(arrays, queries, cols, [*names, *(factor for _, *pair in products
                                                            for factor in pair)],
                          lightfm, interacting)
    for name in names:
        out += get(name, zeros)[:, None] * values[name]
    for name, left, right in products:
        out += get(name, zeros)[:, None] * kinds.product(values[left], values[right])
