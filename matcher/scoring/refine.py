"""The second stage: a piecewise-linear model re-orders each city's best candidates.

Stage one (the linear re-ranker, `signals.combine`) scores every candidate. Stage two, fitted on
stage one's shortlists of a validation split (training.model.rerank.fit_refine), reorders the best
`depth` candidates of a row (the query itself and its partners left out) by a sum of
piecewise-linear functions of the same signals: hinges max(0, z - knot) of each standardised
signal at quantile knots. On the snapshot it lifts held-out recall@10 where stage one's linear
sum cannot (the signals' effects bend).

The refined row is a permutation of the stage-one row inside the shortlist: the candidate
stage two ranks j-th receives the j-th best stage-one score. A row's multiset of scores, and so
its stored quantiles and every percentile read off them, does not change, and every cell outside
the shortlist keeps its stage-one score. The reverse side of mutual ranking (s(j -> q) for many
j) reads stage one: refining it would need every j's whole row.

A re-ranker part without "refine" (models trained before it) is stage one alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matcher.scoring.cells import pair_values
from matcher.scoring.prepared import prepared
from matcher.scoring.signals import ScoringArrays
from matcher.scoring.signaltable import GRAPH, INTERACTION_SIGNALS, SIGNALS, with_products

# The signals read as listed pairs (matcher.scoring.cells); the graph walks come from their rows.
LISTED = tuple(name for name in SIGNALS if name not in GRAPH and name not in INTERACTION_SIGNALS)


def part_for(arrays: ScoringArrays, query: int, rerank: dict | None = None) -> dict | None:
    """The query's stage-two parameters (its warm or cold part), or None (stage one alone)."""
    parts = rerank or arrays.rerank
    part = parts["warm" if arrays.has_history(np.array([query]))[0] else "cold"]
    return part.get("refine")


def deepest(rerank: dict) -> int:
    """The largest stage-two depth of a re-ranker's parts (0: stage one alone)."""
    return max((int(part["refine"]["depth"]) for part in rerank.values()
                if isinstance(part, dict) and part.get("refine")), default=0)


def hinge_design(standardised: np.ndarray, knots: list[list[float]]) -> np.ndarray:
    """[z, max(0, z_s - knot) for each signal s and knot]: stage two's design matrix (every
    hinge in one pass: each signal's column repeated once per knot)."""
    positions = [position for position, signal_knots in enumerate(knots) for _ in signal_knots]
    flat = np.array([knot for signal_knots in knots for knot in signal_knots], dtype=np.float64)
    hinges = np.subtract(standardised[:, positions], flat)
    return np.hstack([standardised, np.maximum(hinges, 0.0, out=hinges)])


def stage_two(refine: dict, values: dict[str, np.ndarray]) -> np.ndarray:
    """Stage two's logit for pairs whose signal `values` are given (name -> any shape), rounded
    to float32 so that inputs equal to within float noise (a block or one query) tie alike."""
    names = refine["signals"]
    shape = np.shape(values[names[0]])
    raw = np.column_stack([np.asarray(values[name], dtype=np.float64).ravel() for name in names])
    standardised = (raw - np.asarray(refine["mean"])) / np.asarray(refine["scale"])
    design = hinge_design(standardised, refine["knots"])
    coef = np.asarray(refine["coef"], dtype=np.float64)
    logit = (design * coef).sum(axis=1) + float(refine["intercept"])  # row by row: same bits
    return logit.astype(np.float32).reshape(shape)


def top_positions(row: np.ndarray, depth: int) -> np.ndarray:
    """Positions of the `depth` best finite values, best first; ties go to the lower position."""
    size = len(row)
    depth = min(depth, size)
    if depth == 0:
        return np.empty(0, dtype=np.int64)
    threshold = np.partition(row, size - depth)[size - depth]  # -inf sorts first
    if np.isneginf(threshold):  # fewer finite values than `depth`: all of them
        chosen = np.flatnonzero(np.isfinite(row))
    else:
        above = np.flatnonzero(row > threshold)
        tied = np.flatnonzero(row == threshold)[:depth - len(above)]
        chosen = np.concatenate([above, tied])
    return chosen[np.lexsort((chosen, -row[chosen]))]


def shortlist_of(row: np.ndarray, excluded: np.ndarray, depth: int) -> np.ndarray:
    """What stage two reorders: the row's best `depth` cells, not `excluded`, not -inf."""
    masked = row.copy()
    masked[excluded] = -np.inf
    return top_positions(masked, depth)


def reorder(row: np.ndarray, shortlist: np.ndarray, logit: np.ndarray) -> None:
    """Hand the shortlist's stage-one scores (best first) out in stage two's order, in place;
    equal logits keep stage one's order."""
    order = np.lexsort((np.arange(len(shortlist)), -logit))
    row[shortlist[order]] = row[shortlist]


def refine_row(row: np.ndarray, excluded: np.ndarray, refine: dict,
               signals_at: Callable[[np.ndarray], dict[str, np.ndarray]]) -> None:
    """Reorder the row's best `depth` cells (not `excluded`, not -inf) by stage two, in place.

    `signals_at(positions)` gives the signal values at those positions of the row."""
    shortlist = shortlist_of(row, excluded, int(refine["depth"]))
    if len(shortlist) >= 2:
        reorder(row, shortlist, stage_two(refine, signals_at(shortlist)))


def pair_signals(arrays: ScoringArrays, query: int, cols: np.ndarray) -> dict[str, np.ndarray]:
    """Every signal of `query` against the cities `cols`, (len(cols),) each: the same values as
    signals.signal_matrices(arrays, [query], cols), read from the query's cached graph rows."""
    rows = prepared(arrays).graph_rows(int(query))
    cols = np.asarray(cols, dtype=np.int64)[None, :]
    values = pair_values(arrays, np.array([query]), cols, LISTED, single=True)
    values.update({name: rows[name][cols] for name in GRAPH})
    return {name: column[0] for name, column in with_products(values).items()}


def pair_signals_block(arrays: ScoringArrays, queries: np.ndarray, cols: np.ndarray,
                       graph: dict | None = None) -> dict[str, np.ndarray]:
    """Every signal of each query against its own cities, `cols` (q, d): (q, d) each, the same
    values as pair_signals row by row. The graph signals are read from the block's sparse
    products (`graph`, as block_scores keeps them; the missing ones are computed here)."""
    from matcher.scoring.scorer import graph_products

    queries = np.asarray(queries, dtype=np.int64)
    graph = dict(graph or {})
    missing = {name for name in GRAPH if name not in graph}
    if missing:
        graph.update(graph_products(arrays, queries, missing))
    values = pair_values(arrays, queries, cols, LISTED)
    rows = np.repeat(np.arange(len(queries)), cols.shape[1])
    values.update({name: np.asarray(graph[name][rows, cols.ravel()]).reshape(cols.shape)
                   for name in GRAPH})
    return with_products(values)


def refine_block(arrays: ScoringArrays, queries: np.ndarray, block: np.ndarray,
                 rerank: dict | None = None, graph: dict | None = None) -> np.ndarray:
    """Stage two applied to rows of scores over the candidates, (q, candidates), in place:
    each query's partners are left out of its shortlist. Returns `block`. Several queries
    read their signals as one block (`graph`: block_scores' sparse graph products), and each
    kind's logits come from one design matrix."""
    ready = prepared(arrays)
    candidates = ready.candidates
    queries = np.asarray(queries, dtype=np.int64)
    parts = [part_for(arrays, query, rerank) for query in queries.tolist()]
    todo = np.array([i for i, part in enumerate(parts) if part is not None], dtype=np.int64)
    if not len(todo):
        return block
    shortlists = {}
    for i in todo.tolist():
        partners = ready.positions[arrays.partners(int(queries[i]))]
        shortlists[i] = shortlist_of(block[i], partners[partners >= 0], int(parts[i]["depth"]))
    width = max(len(shortlist) for shortlist in shortlists.values())
    if width < 2:
        return block
    padded = np.zeros((len(todo), width), dtype=np.int64)
    for slot, i in enumerate(todo.tolist()):
        padded[slot, :len(shortlists[i])] = candidates[shortlists[i]]
    if len(queries) == 1:
        values = {name: column[None, :] for name, column in
                  pair_signals(arrays, int(queries[0]), padded[0]).items()}
    else:
        kept = {name: matrix[todo] for name, matrix in graph.items()} if graph else None
        values = pair_signals_block(arrays, queries[todo], padded, kept)
    logits = np.empty(padded.shape, dtype=np.float32)
    for part in {id(parts[i]): parts[i] for i in todo.tolist()}.values():
        slots = np.flatnonzero([parts[i] is part for i in todo.tolist()])
        logits[slots] = stage_two(part, {name: column[slots] for name, column in values.items()})
    for slot, i in enumerate(todo.tolist()):
        size = len(shortlists[i])
        if size >= 2:
            reorder(block[i], shortlists[i], logits[slot, :size])
    return block


def refine_from_signals(refine: dict, scores: np.ndarray, row_signals: dict[str, np.ndarray],
                        excluded: np.ndarray) -> None:
    """Stage two on one row whose signals are already computed (evaluation, the reference
    path): `row_signals[name]` is the row's (c,) values at the same columns as `scores`."""
    refine_row(scores, excluded, refine,
               lambda positions: {name: row_signals[name][positions] for name in SIGNALS})


def problems(rerank: dict) -> list[str]:
    """What is wrong with the stage-two parts of a re-ranker document (empty: nothing), so a
    damaged rerank.json is named at load time, not met as an error inside a query."""
    found = []
    for kind, part in rerank.items():
        refine = part.get("refine") if isinstance(part, dict) else None
        if refine is None:
            continue
        try:
            names = list(refine["signals"])
            unknown = sorted(set(names) - set(SIGNALS))
            sizes = {key: len(refine[key]) for key in ("mean", "scale", "knots")}
            expected = len(names) + sum(len(knots) for knots in refine["knots"])
            if unknown:
                found.append(f"{kind}: unknown signals {unknown}")
            if any(size != len(names) for size in sizes.values()):
                found.append(f"{kind}: {len(names)} signals but sizes {sizes}")
            if len(refine["coef"]) != expected:
                found.append(f"{kind}: {len(refine['coef'])} coefficients, expected {expected}")
            if int(refine["depth"]) < 1 or not np.isfinite(float(refine["intercept"])):
                found.append(f"{kind}: depth {refine['depth']}, intercept {refine['intercept']}")
        except (KeyError, TypeError, ValueError) as error:
            found.append(f"{kind}: {type(error).__name__} {error}")
    return found
