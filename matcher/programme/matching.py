"""Bilateral matching algorithms over small score matrices (pure numpy/scipy, no model).

Rows i are country A's candidates, columns j country B's. `allowed` (qa, qb) marks the pairs that
may be matched; forbidden pairs are never matched and can never block. `capacity` is how many
partners any one city may take (the same on both sides).

- optimal_assignment: maximum total weight (scipy's linear_sum_assignment; with a capacity N the
  rows and columns are replicated N times, and if that pairs the same two cities twice the exact
  b-matching is solved as an integer programme, whose constraint matrix is totally unimodular);
- stable_matching: Gale-Shapley deferred acceptance with either side proposing, generalised to
  capacities on both sides (many-to-many, responsive preferences); the proposing side gets its
  best stable matching;
- blocking_pairs: the stability check, pairs (i, j) that would both rather be together.

Preferences are strict: by score, ties broken by the lower index.
"""

from __future__ import annotations

import numpy as np

SIDES = ("a", "b")
MAX_REPLICATED_CELLS = 4_000_000
"""Beyond this many cells (32 MB) the replicated assignment is skipped for the exact
b-matching, which needs one variable per allowed pair whatever the capacity."""


# ---------------------------------------------------------------------- the optimal assignment
def optimal_assignment(weights: np.ndarray, allowed: np.ndarray,
                       capacity: int = 1) -> list[tuple[int, int]]:
    """Allowed pairs (i, j) of maximum total weight, each i and j in at most `capacity` pairs.

    Weights must be positive where allowed. Forbidden entries get weight 0 and are dropped from
    the solution, which leaves a maximum-weight matching over the allowed pairs.
    """
    _check_capacity(capacity)
    from scipy.optimize import linear_sum_assignment

    weights = np.where(allowed, np.asarray(weights, dtype=np.float64), 0.0)
    if weights.size == 0 or not allowed.any():
        return []
    # No city can take more partners than the other side has cities: a larger capacity is that.
    capacity = min(capacity, max(allowed.shape))
    if weights.size * capacity * capacity > MAX_REPLICATED_CELLS:  # `--capacity 1000`: 47 GiB
        return sorted(_b_matching(weights, allowed, capacity))
    replicated = np.repeat(np.repeat(weights, capacity, axis=0), capacity, axis=1)
    slots_i, slots_j = linear_sum_assignment(replicated, maximize=True)
    pairs = [(int(i) // capacity, int(j) // capacity) for i, j in zip(slots_i, slots_j,
                                                                      strict=True)]
    pairs = [(i, j) for i, j in pairs if allowed[i, j]]
    if len(set(pairs)) < len(pairs):  # the relaxation paired two cities twice: solve exactly
        pairs = _b_matching(weights, allowed, capacity)
    return sorted(set(pairs))


def _b_matching(weights: np.ndarray, allowed: np.ndarray, capacity: int) -> list[tuple[int, int]]:
    """Exact maximum-weight b-matching (each node <= capacity, each pair at most once) by MILP."""
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    edges_i, edges_j = np.nonzero(allowed)
    m = len(edges_i)
    incidence = sp.vstack([
        sp.csr_matrix((np.ones(m), (edges_i, np.arange(m))), shape=(allowed.shape[0], m)),
        sp.csr_matrix((np.ones(m), (edges_j, np.arange(m))), shape=(allowed.shape[1], m)),
    ])
    result = milp(-weights[edges_i, edges_j], integrality=np.ones(m),
                  bounds=Bounds(0, 1), constraints=LinearConstraint(incidence, 0, capacity))
    if result.x is None:  # cannot happen: the empty matching is feasible
        raise RuntimeError(f"b-matching solver failed: {result.message}")
    chosen = np.flatnonzero(result.x > 0.5)
    return [(int(edges_i[e]), int(edges_j[e])) for e in chosen]


# ---------------------------------------------------------------------- the stable matching
def preference_ranks(scores: np.ndarray) -> np.ndarray:
    """Position of each column in each row's preference order (0 = favourite): by score
    descending, ties broken by the lower column index."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores),
                       axis=1) if scores.size else np.zeros(scores.shape, dtype=np.int64)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :], axis=1)
    return ranks


def stable_matching(scores_a: np.ndarray, scores_b: np.ndarray, allowed: np.ndarray,
                    capacity: int = 1, proposing: str = "a") -> list[tuple[int, int]]:
    """Deferred acceptance over allowed pairs; returns (i, j) with i in A, j in B.

    `scores_a` (qa, qb) are A's preferences, `scores_b` (qb, qa) B's (higher is better).
    The proposing side gets its best stable matching.
    """
    _check_capacity(capacity)
    if proposing not in SIDES:
        raise ValueError(f"proposing must be 'a' or 'b', got {proposing!r}")
    ranks_a, ranks_b = preference_ranks(scores_a), preference_ranks(scores_b)
    if proposing == "a":
        held = _deferred_acceptance(ranks_a, ranks_b, allowed, capacity)
        return sorted((i, j) for j, proposers in enumerate(held) for i in proposers)
    held = _deferred_acceptance(ranks_b, ranks_a, allowed.T, capacity)
    return sorted((i, j) for i, proposers in enumerate(held) for j in proposers)


def _deferred_acceptance(ranks_p: np.ndarray, ranks_r: np.ndarray, allowed: np.ndarray,
                         capacity: int) -> list[list[int]]:
    """Proposers (rows of ranks_p) propose in order; each receiver holds its best `capacity`.

    Returns, per receiver, the proposers it holds. Every proposer proposes to each acceptable
    receiver at most once, so this ends after at most qp * qr proposals.
    """
    n_p, n_r = allowed.shape
    lists = [sorted(np.flatnonzero(allowed[p]).tolist(), key=lambda r, p=p: ranks_p[p, r])
             for p in range(n_p)]
    next_choice = [0] * n_p
    holding = [0] * n_p
    held: list[list[int]] = [[] for _ in range(n_r)]
    queue = list(range(n_p - 1, -1, -1))  # pop() takes proposer 0 first: deterministic
    while queue:
        p = queue.pop()
        while holding[p] < capacity and next_choice[p] < len(lists[p]):
            r = lists[p][next_choice[p]]
            next_choice[p] += 1
            if len(held[r]) < capacity:
                held[r].append(p)
                holding[p] += 1
                continue
            worst = max(held[r], key=lambda q, r=r: ranks_r[r, q])
            if ranks_r[r, p] < ranks_r[r, worst]:
                held[r][held[r].index(worst)] = p
                holding[p] += 1
                holding[worst] -= 1
                queue.append(worst)
    return held


def blocking_pairs(pairs: list[tuple[int, int]], scores_a: np.ndarray, scores_b: np.ndarray,
                   allowed: np.ndarray, capacity: int = 1) -> list[tuple[int, int]]:
    """Allowed unmatched pairs (i, j) that would both rather be together: each has a free slot
    or prefers the other to its worst current partner. Empty for a stable matching."""
    ranks_a, ranks_b = preference_ranks(scores_a), preference_ranks(scores_b)
    n_a, n_b = allowed.shape
    matched = np.zeros((n_a, n_b), dtype=bool)
    for i, j in pairs:
        matched[i, j] = True
    load_a, load_b = matched.sum(axis=1), matched.sum(axis=0)
    # worst acceptable position each city would still trade up from (free slot: anything)
    worst_a = np.where(load_a < capacity, n_b,
                       np.where(matched, ranks_a, -1).max(axis=1, initial=-1))
    worst_b = np.where(load_b < capacity, n_a,
                       np.where(matched.T, ranks_b, -1).max(axis=1, initial=-1))
    wants_a = ranks_a < worst_a[:, None]
    wants_b = (ranks_b < worst_b[:, None]).T
    block = allowed & ~matched & wants_a & wants_b
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(block), strict=True)]


def _check_capacity(capacity: int) -> None:
    if not isinstance(capacity, (int, np.integer)) or isinstance(capacity, bool) or capacity < 1:
        raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
