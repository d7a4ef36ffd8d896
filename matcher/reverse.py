"""s(j -> query) for a shortlist of askers j: the reverse direction of mutual ranking.

The same logit as `scorer.block_scores(among, [query])`, read from the query's own rows (every
graph matrix is symmetric or the transpose of another, `scorer.TRANSPOSED`) and each asker's row
of per-city numbers, so a shortlist costs gathers rather than one block row per asker.
"""

from __future__ import annotations

import numpy as np

from matcher.prepared import GRAPH, Prepared, prepared
from matcher.scorer import OUT_DTYPE, TRANSPOSED
from matcher.signals import EARTH_RADIUS_KM


def reverse_scores(arrays, query: int, among: np.ndarray, rerank: dict | None = None,
                   cache: dict | None = None) -> np.ndarray:
    """s(j -> query) for each j in `among`, float32: the same sum as block_scores(among,
    [query]), read from the query's own rows (every graph matrix is symmetric or the transpose
    of another) and each j's row of per-city numbers (one gather), the signal weights of
    both kinds applied in one product, so a shortlist costs gathers, not one sparse product per
    row. `cache` keeps the query's rows between calls for the same query."""
    among = np.asarray(among, dtype=np.int64)
    ready = prepared(arrays)
    side = ready.reverse_side(rerank or arrays.rerank)
    cache = {} if cache is None else cache
    if "item" not in cache:
        cache.update(_reverse_query(arrays, ready, side, query))
    own = side.table[among].T  # (columns of side.table, len(among)), one gather
    row = side.row
    lightfm = _user_dots(arrays.user_embeddings, among, cache["item"])
    features = _reverse_features(arrays, side, cache, own, among, lightfm)
    by_kind = side.weights @ features  # (2, len(among)): the sum for either kind of asker
    by_kind += cache["constant"][:, None]
    total = own[row["lightfm_const"]] + own[row["lightfm_scale"]] * lightfm
    total += np.where(own[row["cold"]] != 0, by_kind[1], by_kind[0])
    out = total.astype(OUT_DTYPE)
    out[among == query] = -np.inf
    if not arrays.candidate_mask[query]:
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
    """What reverse_scores reads of the query itself, kept between its calls."""
    country = int(arrays.country_index[query])
    rows = ready.graph_rows(query)
    weights = dict(zip(side.names, side.weights.T, strict=True))
    constant = side.query_terms["log_degree"] * ready.log_degree[query] \
        + side.query_terms["log_population"] * arrays.derived["log_population"][query]
    terms = {"item": ready.items_at(query), "constant": constant,
             "own_partners": np.log1p(rows["own_countries"]),
             "pairs": np.ascontiguousarray(ready.log_country_pairs[:, country]),
             "country": country, "trig": (ready.trig[1][query], ready.trig[3][query]),
             "log_population": arrays.derived["log_population"][query],
             "is_capital": float(arrays.is_capital[query])}
    for name in GRAPH:  # None: a zero row, nothing to gather
        terms[name] = None if TRANSPOSED[name] in rows["empty"] else rows[TRANSPOSED[name]]
    if "country_affinity" in weights:
        terms["country_affinity"] = ready.in_country(country)
    if "region_country" in weights:
        terms["region_country"] = ready.near_country(country)
    if "admin1_pair" in weights:
        terms["admin1_pair"] = ready.admin1_row(int(arrays.derived["admin1"][query]))
    return terms


def _reverse_features(arrays, side, cache: dict, own: np.ndarray, among: np.ndarray,
                      lightfm: np.ndarray) -> np.ndarray:
    """The signals `side.names` for each j in `among` as the asker, (names, len(among))."""
    row, country = side.row, cache["country"]
    countries = own[row["country"]].astype(np.int64)
    lat, lon = cache["trig"]
    half = own[row["lat_0"]] * lat[0] + own[row["lat_1"]] * lat[1]
    half *= half
    east = own[row["lon_0"]] * lon[0] + own[row["lon_1"]] * lon[1]
    half += east * east
    log_distance = np.log1p(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(half, 1.0))))
    size_gap = np.abs(cache["log_population"] - own[row["log_population"]])
    pairs = cache["pairs"][countries]
    standard = None
    if "lightfm_distance" in side.names or "lightfm_country_pair" in side.names:
        standard = (lightfm - own[row["mean"]]) / own[row["spread"]]
    features = np.empty((len(side.names), len(among)))
    for out, name in zip(features, side.names, strict=True):
        if name in GRAPH and cache[name] is None:
            out[:] = 0.0
        elif name in GRAPH or name in ("country_affinity", "region_country"):
            np.take(cache[name], among, out=out)
        elif name == "country_pair":
            out[:] = pairs
        elif name == "same_country":
            np.equal(countries, country, out=out, casting="unsafe")
        elif name == "candidate_affinity":
            np.take(cache["own_partners"], countries, out=out)
        elif name in ("size_gap", "log_distance"):
            out[:] = size_gap if name == "size_gap" else log_distance
        elif name in ("size_gap_squared", "log_distance_squared"):
            np.square(size_gap if name == "size_gap_squared" else log_distance, out=out)
        elif name == "lightfm_distance":
            np.multiply(standard, log_distance, out=out)
        elif name == "lightfm_country_pair":
            np.multiply(standard, pairs, out=out)
        elif name == "both_capital":
            np.multiply(own[row["is_capital"]], cache["is_capital"], out=out)
        elif name == "admin1_pair":  # symmetric: the query's region row, at each j's region
            np.take(cache["admin1_pair"], own[row["admin1"]].astype(np.int64), out=out)
        else:
            raise ValueError(f"reverse scoring does not know the signal {name!r}")
    return features
