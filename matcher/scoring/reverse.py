"""s(j -> query) for a shortlist of askers j: the reverse direction of mutual ranking.

The same logit as `scorer.block_scores(among, [query])`, read from the query's own rows (every
graph matrix is symmetric or the transpose of another, `signaltable.TRANSPOSED`) and each
asker's row of per-city numbers, so a shortlist costs gathers rather than one block row per
asker. Each signal is read by the rule the signal table declares for it (`Reverse`).
"""

from __future__ import annotations

import numpy as np

from matcher.scoring import kinds
from matcher.scoring.prepared import Prepared, prepared
from matcher.scoring.scorer import OUT_DTYPE
from matcher.scoring.signaltable import (
    BY_NAME,
    PAIRWISE,
    PAIRWISE_INPUTS,
    TRANSPOSED,
    Kind,
    Reverse,
)


def reverse_scores(arrays, query: int, among: np.ndarray, rerank: dict | None = None,
                   cache: dict | None = None, as_candidate: bool = False) -> np.ndarray:
    """s(j -> query) for each j in `among`, float32: the same sum as block_scores(among,
    [query]), read from the query's own rows (every graph matrix is symmetric or the transpose
    of another) and each j's row of per-city numbers (one gather), the signal weights of
    both kinds applied in one product, so a shortlist costs gathers, not one sparse product per
    row. `cache` keeps the query's rows between calls for the same query. A query that is not
    a candidate gets -inf everywhere (no list holds it) unless `as_candidate`: what each j would
    give it if it were one (shown, never ranked by)."""
    among = np.asarray(among, dtype=np.int64)
    ready = prepared(arrays)
    side = ready.reverse_side(rerank or arrays.rerank)
    cache = {} if cache is None else cache
    if "item" not in cache:
        cache.update(_reverse_query(arrays, ready, side, query))
    own = side.table[among].T  # (columns of side.table, len(among)), one gather
    row = side.row
    lightfm = _user_dots(arrays.user_embeddings, among, cache["item"])
    features = _reverse_features(side, cache, own, among, lightfm)
    by_kind = side.weights @ features  # (2, len(among)): the sum for either kind of asker
    by_kind += cache["constant"][:, None]
    total = own[row["lightfm_const"]] + own[row["lightfm_scale"]] * lightfm
    total += np.where(own[row["cold"]] != 0, by_kind[1], by_kind[0])
    out = total.astype(OUT_DTYPE)
    out[among == query] = -np.inf
    if not arrays.candidate_mask[query] and not as_candidate:  # nobody's list holds it
        out[:] = -np.inf
    return out


def _user_dots(users: np.ndarray, rows: np.ndarray, item: np.ndarray,
               chunk: int = 512) -> np.ndarray:
    """users[rows] . item[:-1] + item[-1] in float64, gathered a chunk of rows at a time (a
    chunk stays in cache; each row's dot is the same product whatever the chunk)."""
    out = np.empty(len(rows))
    for start in range(0, len(rows), chunk):
        part = users[rows[start:start + chunk]].astype(np.float64)
        np.matmul(part, item[:-1], out=out[start:start + chunk])
    out += item[-1]
    return out


def _reverse_query(arrays, ready: Prepared, side, query: int) -> dict:
    """What reverse_scores reads of the query itself, kept between its calls: for each signal
    the table reads QUERY_ROW, BY_COUNTRY or BY_REGION, the query's row it gathers from."""
    country = int(arrays.country_index[query])
    rows = ready.graph_rows(query)
    constant = sum(weights * ready.inputs[BY_NAME[name].inputs[0]][query]
                   for name, weights in side.query_terms.items()) + np.zeros(2)
    terms = {"item": ready.items_at(query), "constant": constant, "country": country,
             "inputs": {name: values[query] for name, values in ready.inputs.items()}}
    for name in _with_factors(side.names):
        signal = BY_NAME[name]
        if signal.kind is Kind.GRAPH_WALK:  # None: a zero row, nothing to gather
            terms[name] = None if TRANSPOSED[name] in rows["empty"] else rows[TRANSPOSED[name]]
        elif signal.kind is Kind.GROUP_PAIR:  # symmetric: the query's row, at the askers' group
            terms[name] = np.ascontiguousarray(signal.rows(ready, np.array([query]))[0])
        elif signal.kind is Kind.GROUP_COUNT:  # the other side counts: see _reverse_count
            terms[name] = _reverse_count(ready, signal.count, query, country)
    return terms


def _reverse_count(ready: Prepared, count: kinds.Count, query: int, country: int) -> np.ndarray:
    """A GROUP_COUNT read reversed, the query being the candidate: counted by the query side,
    each asker's count in the query's country (QUERY_ROW, gathered at the askers); counted by
    the candidate, the query's row over the countries (BY_COUNTRY, at the askers' countries)."""
    if count.by == "query":
        return ready.count_in(count.via, country)
    return kinds.count_of(ready.counts_by_country(count.via, np.array([query]))[0])


def _with_factors(names: list[str]) -> list[str]:
    """`names` and the factors of the products among them (a product reads its factors)."""
    return list(dict.fromkeys([*names, *(factor for name in names
                                         for factor in BY_NAME[name].factors or ())]))


def _pairwise(cache: dict, own: np.ndarray, row: dict) -> dict[str, np.ndarray]:
    """The PAIRWISE signals of each asker (the query side) and the query (the candidate),
    by their formulas from both sides' inputs."""
    askers = {name: own[row[name]] for name in PAIRWISE_INPUTS}
    return {name: BY_NAME[name].pairwise(askers, cache["inputs"]) for name in PAIRWISE}


def _reverse_features(side, cache: dict, own: np.ndarray, among: np.ndarray,
                      lightfm: np.ndarray) -> np.ndarray:
    """The signals `side.names` for each j in `among` as the asker, (names, len(among)), each
    read by the rule the signal table gives it (matcher.scoring.signaltable.Reverse)."""
    row = side.row
    groups = {Reverse.BY_COUNTRY: own[row["country"]].astype(np.int64),
              Reverse.BY_REGION: own[row["admin1"]].astype(np.int64)}
    values: dict[str, np.ndarray] = {}

    def read(name: str) -> np.ndarray:
        if name not in values:
            rule = BY_NAME[name].reverse
            if rule is Reverse.QUERY_ROW:
                values[name] = np.zeros(len(among)) if cache[name] is None else \
                    np.take(cache[name], among)
            elif rule in groups:
                values[name] = np.take(cache[name], groups[rule])
            elif rule is Reverse.SAME:  # the pairwise signals: both sides' own numbers
                values.update(_pairwise(cache, own, row))
            elif rule is Reverse.PRODUCT:
                left, right = BY_NAME[name].factors
                values[name] = kinds.product(read(left), read(right))
            elif rule is Reverse.OWN:  # LightFM, standardised by the asker's own moments
                values[name] = (lightfm - own[row["mean"]]) / own[row["spread"]]
            else:
                raise ValueError(f"reverse scoring folds {name!r} into the query's constant")
        return values[name]

    features = np.empty((len(side.names), len(among)))
    for out, name in zip(features, side.names, strict=True):
        out[:] = read(name)
    return features
