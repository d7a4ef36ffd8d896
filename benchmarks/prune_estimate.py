"""How far could the batch prune its dense terms? An upper estimate, on the real snapshot.

The batch scores every (query, candidate) cell exactly; the dense per-cell terms (distance, size
gap, country and region tables, LightFM interactions) cost about 40% of it. A pruned design would
compute the LightFM product and the graph terms everywhere, bound the rest per group of
candidates, and score exactly only the cells whose bound reaches the row's best `--depth`. This
script measures the best case of that: the bound is the oracle one (each group's true maximum of
the non-LightFM part, which no cheap bound beats), so the counts it prints are a floor on the
cells a real bound would leave. Timing is not measured here (see `make bench BENCH_ARGS=
--batch-parts` for what the other parts cost). Usage: `.venv/bin/python
benchmarks/prune_estimate.py [--blocks 4] [--depth 257]`.
"""

from __future__ import annotations

import argparse

import numpy as np


def _groups(keys: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """A group id per candidate from equal keys, and the number of groups."""
    _, group = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
    group = group.ravel()
    return group, int(group.max()) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=4, help="blocks of 64 queries to sample")
    parser.add_argument("--depth", type=int, default=257,
                        help="exact cells a row needs (the batch shortlist and its bound)")
    args = parser.parse_args()

    from matcher.api import Matcher
    from matcher.ranking import fused
    from matcher.scoring import scorer
    from matcher.scoring.prepared import prepared

    matcher = Matcher.load()
    arrays = matcher.model.arrays
    ready = prepared(arrays)
    candidates = ready.candidates
    cities = matcher.model.cities
    lat = cities["lat"].to_numpy()[candidates]
    lon = cities["lon"].to_numpy()[candidates]
    region = ready.candidate_admin1.astype(np.int64)
    population_band = np.floor(arrays.log_population[candidates] / 0.5).astype(int)
    cell = [np.floor(lat / 2).astype(int), np.floor(lon / 2).astype(int)]
    groupings = {"region": _groups([region]),
                 "region x population band": _groups([region, population_band]),
                 "region x band x 2-degree cell": _groups([region, population_band, *cell])}

    order = np.argsort(~arrays.has_history(np.arange(arrays.n_cities)), kind="stable")
    kept: dict[str, np.ndarray] = {}

    def dense_terms(out: np.ndarray, *rest) -> None:
        kept["product"] = out.copy()  # the LightFM product and column terms, before the rest
        kept["inputs"] = rest
        fused.add_dense_terms(out, *rest)

    def graph_terms(out: np.ndarray, *rest) -> None:
        before = out.copy()
        scorer.add_graph_terms(out, *rest)
        kept["graph"] = out - before

    print(f"cells per row an oracle group bound leaves for an exact top {args.depth}, "
          f"of {len(candidates):,} candidates")
    for start in np.linspace(0, len(order) - 64, args.blocks).astype(int).tolist():
        queries = order[start:start + 64]
        scores = scorer.block_scores(arrays, queries, terms=(dense_terms, graph_terms))
        scores = scores.astype(np.float64)
        rest = np.where(np.isfinite(scores), scores - kept["product"], -np.inf)
        threshold = -np.sort(-scores, axis=1)[:, args.depth - 1]
        for label, (group, count) in groupings.items():
            best = np.full((len(queries), count), -np.inf)
            for row in range(len(queries)):
                np.maximum.at(best[row], group, rest[row])
            passing = ((kept["product"] + best[:, group]) >= threshold[:, None]).sum(axis=1)
            _report(start, label, count, passing)
        group, count = groupings["region x population band"]
        bound = _group_bound(arrays, queries, kept["inputs"], group, count, lat, lon)
        upper = kept["product"] + kept["graph"] + bound + 1e-6 * (1.0 + np.abs(scores))
        assert np.all(upper[np.isfinite(scores)] >= scores[np.isfinite(scores)]), "not a bound"
        _report(start, "real bound, region x band", count,
                (upper >= threshold[:, None]).sum(axis=1))


def _report(start: int, label: str, count: int, passing: np.ndarray) -> None:
    print(f"queries {start:>6}+64  {label:<30} {count:>6} groups: median "
          f"{int(np.median(passing)):>5}, p90 {int(np.percentile(passing, 90)):>5}, "
          f"max {int(passing.max()):>5}")


def _interval_max(low: np.ndarray, high: np.ndarray, square: np.ndarray,
                  linear: np.ndarray) -> np.ndarray:
    """max of square * x^2 + linear * x over x in [low, high], elementwise."""
    def value(x):
        return square * x * x + linear * x

    best = np.maximum(value(low), value(high))
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.where(square < 0, -linear / (2 * square), low)
    inside = (square < 0) & (vertex > low) & (vertex < high)
    return np.where(inside, np.maximum(best, value(np.clip(vertex, low, high))), best)


def _group_bound(arrays, queries: np.ndarray, inputs: tuple, group: np.ndarray, count: int,
                 lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(q, candidates): an upper bound of every cell's dense terms from per-group summaries
    (each group's population range, a circle around its cities, whether it holds a capital,
    its country and region) plus the cell's own LightFM value for the interaction terms."""
    from matcher.scoring import scorer
    from matcher.scoring.prepared import prepared
    from matcher.scoring.signals import EARTH_RADIUS_KM

    _, _, _, lightfm, interacting, get, zeros = inputs
    ready = prepared(arrays)
    population = arrays.log_population[ready.candidates]
    own = arrays.log_population[queries]
    members = np.argsort(group, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(group[members])) + 1]
    low_population = np.minimum.reduceat(population[members], starts)
    high_population = np.maximum.reduceat(population[members], starts)
    capital = np.maximum.reduceat(arrays.is_capital[ready.candidates][members].astype(float),
                                  starts)
    first = members[starts]
    country = ready.candidate_countries[first]
    region = ready.candidate_admin1[first]

    def unit(latitude, longitude):
        latitude, longitude = np.radians(latitude), np.radians(longitude)
        return np.stack([np.cos(latitude) * np.cos(longitude),
                         np.cos(latitude) * np.sin(longitude), np.sin(latitude)], axis=-1)

    points = unit(lat, lon)
    centre = np.add.reduceat(points[members], starts)
    centre /= np.linalg.norm(centre, axis=1, keepdims=True)
    angle = np.arccos(np.clip(np.einsum("ij,ij->i", points, centre[group]), -1.0, 1.0))
    radius = np.zeros(count)
    np.maximum.at(radius, group, angle * EARTH_RADIUS_KM)
    query_points = unit(np.degrees(arrays.lat_rad[queries]),
                        np.degrees(arrays.lon_rad[queries]))
    centre_km = np.arccos(np.clip(query_points @ centre.T, -1.0, 1.0)) * EARTH_RADIUS_KM
    near = np.log1p(np.maximum(centre_km - radius - 1.0, 0.0))
    far = np.log1p(centre_km + radius + 1.0)

    table, by_admin1 = scorer.country_table(arrays, queries, get, zeros)
    bound = table[:, region if by_admin1 else country].copy()
    affinity = get("candidate_affinity", zeros)
    query_countries = arrays.country_index[queries]
    for row, query_country in enumerate(query_countries.tolist()):
        values = ready.in_country_at(int(query_country), ready.candidates)[members]
        best = np.maximum.reduceat(values, starts) if affinity[row] >= 0 else \
            np.minimum.reduceat(values, starts)
        bound[row] += affinity[row] * best
    gap_low = np.where((own[:, None] >= low_population) & (own[:, None] <= high_population), 0.0,
                       np.minimum(np.abs(low_population - own[:, None]),
                                  np.abs(high_population - own[:, None])))
    gap_high = np.maximum(np.abs(low_population - own[:, None]),
                          np.abs(high_population - own[:, None]))
    bound += _interval_max(gap_low, gap_high, get("size_gap_squared", zeros)[:, None],
                           get("size_gap", zeros)[:, None])
    bound += _interval_max(near, far, get("log_distance_squared", zeros)[:, None],
                           get("log_distance", zeros)[:, None])
    both_capital = (get("both_capital", zeros) * arrays.is_capital[queries])[:, None]
    bound += np.where(capital > 0, np.maximum(both_capital, 0.0), 0.0)
    cells = bound[:, group]
    if lightfm is not None:
        rows = np.flatnonzero(interacting)
        pairs = ready.log_country_pairs[query_countries[rows]][:, country]
        by_pair = get("lightfm_country_pair", zeros)[rows, None]
        by_distance = get("lightfm_distance", zeros)[rows, None]
        low_factor = (by_pair * pairs + by_distance * near[rows])[:, group]
        high_factor = (by_pair * pairs + by_distance * far[rows])[:, group]
        cells[rows] += np.maximum(lightfm * low_factor, lightfm * high_factor)
    return cells


if __name__ == "__main__":
    main()
