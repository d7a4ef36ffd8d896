"""Bilateral matching (matcher.programme.matching) on random instances: stability, optimality."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.programme import matching

# ----------------------------------------------------------------- random instances


@st.composite
def instances(draw, max_side: int = 6):
    """Random preferences for both sides, an allowed mask, a capacity and a proposing side."""
    qa = draw(st.integers(1, max_side))
    qb = draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ties = draw(st.booleans())  # coarse scores make ties, which the tie-break must handle
    scores_a = rng.random((qa, qb))
    scores_b = rng.random((qb, qa))
    if ties:
        scores_a, scores_b = np.round(scores_a, 1), np.round(scores_b, 1)
    allowed = rng.random((qa, qb)) < draw(st.sampled_from([0.5, 0.8, 1.0]))
    capacity = draw(st.integers(1, 3))
    proposing = draw(st.sampled_from(["a", "b"]))
    return scores_a, scores_b, allowed, capacity, proposing


def naive_blocking(pairs, scores_a, scores_b, allowed, capacity):
    """Reference: the definition, pair by pair, with the same tie-break (lower index first)."""
    qa, qb = allowed.shape
    matched = set(pairs)

    def prefers(scores, city, new, old):  # does `city` rank `new` above `old`?
        return (-scores[city, new], new) < (-scores[city, old], old)

    out = []
    for i, j in itertools.product(range(qa), range(qb)):
        if not allowed[i, j] or (i, j) in matched:
            continue
        mine = [jj for ii, jj in matched if ii == i]
        theirs = [ii for ii, jj in matched if jj == j]
        a_wants = len(mine) < capacity or any(prefers(scores_a, i, j, jj) for jj in mine)
        b_wants = len(theirs) < capacity or any(prefers(scores_b, j, i, ii) for ii in theirs)
        if a_wants and b_wants:
            out.append((i, j))
    return out


def brute_force_best(weights, allowed, capacity):
    """Maximum total weight over every set of allowed pairs within the capacities."""
    edges = list(zip(*np.nonzero(allowed), strict=True))
    best = 0.0
    for size in range(len(edges) + 1):
        for subset in itertools.combinations(edges, size):
            load_a = np.bincount([i for i, _ in subset], minlength=allowed.shape[0])
            load_b = np.bincount([j for _, j in subset], minlength=allowed.shape[1])
            if load_a.max(initial=0) <= capacity and load_b.max(initial=0) <= capacity:
                best = max(best, sum(weights[i, j] for i, j in subset))
    return best


def valid(pairs, allowed, capacity):
    assert len(set(pairs)) == len(pairs)
    assert all(allowed[i, j] for i, j in pairs)
    if pairs:
        assert np.bincount([i for i, _ in pairs]).max() <= capacity
        assert np.bincount([j for _, j in pairs]).max() <= capacity


@settings(max_examples=300, deadline=None)
@given(instances())
def test_stable_matching_has_no_blocking_pair(instance):
    scores_a, scores_b, allowed, capacity, proposing = instance
    pairs = matching.stable_matching(scores_a, scores_b, allowed, capacity, proposing)
    valid(pairs, allowed, capacity)
    assert matching.blocking_pairs(pairs, scores_a, scores_b, allowed, capacity) == []
    assert naive_blocking(pairs, scores_a, scores_b, allowed, capacity) == []


@settings(max_examples=200, deadline=None)
@given(instances(), st.integers(0, 2**32 - 1))
def test_blocking_pairs_matches_the_definition_on_any_matching(instance, seed):
    scores_a, scores_b, allowed, capacity, _ = instance
    rng = np.random.default_rng(seed)
    pairs: list[tuple[int, int]] = []
    for i, j in rng.permutation(np.argwhere(allowed)).tolist():  # a random valid matching
        if (sum(1 for a, _ in pairs if a == i) < capacity
                and sum(1 for _, b in pairs if b == j) < capacity):
            pairs.append((i, j))
    pairs = pairs[:rng.integers(0, len(pairs) + 1)]
    assert (matching.blocking_pairs(pairs, scores_a, scores_b, allowed, capacity)
            == naive_blocking(pairs, scores_a, scores_b, allowed, capacity))


def test_blocking_pair_found_in_a_crossed_matching():
    scores_a = np.array([[0.9, 0.1], [0.5, 0.6]])  # A0 loves B0
    scores_b = np.array([[0.8, 0.2], [0.4, 0.3]])  # B0 loves A0, B1 prefers A0 too
    allowed = np.ones((2, 2), dtype=bool)
    assert matching.blocking_pairs([(0, 1), (1, 0)], scores_a, scores_b, allowed) == [(0, 0)]
    assert matching.stable_matching(scores_a, scores_b, allowed) == [(0, 0), (1, 1)]
    forbidden = allowed.copy()
    forbidden[0, 0] = False  # a forbidden pair can never block
    assert matching.blocking_pairs([(0, 1), (1, 0)], scores_a, scores_b, forbidden) == []


def test_each_side_gets_its_best_stable_matching_when_proposing():
    # the textbook instance with two stable matchings: each proposing side gets its optimum
    scores_a = np.array([[2, 1, 0], [0, 2, 1], [1, 0, 2]], dtype=float)
    scores_b = np.array([[1, 2, 0], [0, 1, 2], [2, 0, 1]], dtype=float)
    allowed = np.ones((3, 3), dtype=bool)
    a_side = matching.stable_matching(scores_a, scores_b, allowed, proposing="a")
    b_side = matching.stable_matching(scores_a, scores_b, allowed, proposing="b")
    assert a_side == [(0, 0), (1, 1), (2, 2)]  # every A city gets its first choice
    assert b_side == [(0, 2), (1, 0), (2, 1)]  # every B city gets its first choice


@settings(max_examples=150, deadline=None)
@given(instances(max_side=4))
def test_optimal_assignment_is_optimal(instance):
    scores_a, _, allowed, capacity, _ = instance
    weights = 0.05 + scores_a  # positive where allowed
    pairs = matching.optimal_assignment(weights, allowed, capacity)
    valid(pairs, allowed, capacity)
    total = sum(weights[i, j] for i, j in pairs)
    assert total == pytest.approx(brute_force_best(weights, allowed, capacity), abs=1e-9)


def test_replicated_assignment_never_pairs_two_cities_twice():
    weights = np.array([[0.9, 0.1], [0.1, 0.2]])
    allowed = np.ones((2, 2), dtype=bool)
    # capacity 2: the replicated problem would happily pair 0-0 twice
    assert matching.optimal_assignment(weights, allowed, 2) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert matching.optimal_assignment(np.array([[0.5]]), np.array([[True]]), 3) == [(0, 0)]
    assert matching.optimal_assignment(weights, np.zeros((2, 2), dtype=bool)) == []


def test_preference_ranks_break_ties_by_lower_index():
    ranks = matching.preference_ranks(np.array([[0.5, 0.9, 0.5, -np.inf]]))
    assert ranks.tolist() == [[1, 0, 2, 3]]


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True])
def test_bad_capacity_is_refused(capacity):
    with pytest.raises(ValueError, match="capacity"):
        matching.stable_matching(np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1), bool),
                                capacity)


def test_a_huge_capacity_is_solved_without_the_dense_blow_up():
    """Regression (issue 15): `twin pair GB KR --capacity 1000` asked for 47.0 GiB; a capacity
    beyond either side's size means 'every allowed pair', solved exactly and in little memory."""
    import tracemalloc

    from matcher.programme.matching import optimal_assignment

    rng = np.random.default_rng(0)
    weights = rng.uniform(0.1, 1.0, (107, 59))
    allowed = rng.uniform(size=weights.shape) > 0.1
    tracemalloc.start()
    pairs = optimal_assignment(weights, allowed, capacity=1000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sorted(pairs) == sorted(zip(*np.nonzero(allowed), strict=True))
    assert peak < 200 * 2**20
    small = optimal_assignment(weights, allowed, capacity=2)  # the exact solver agrees
    assert {i for i, _ in small} and max(np.bincount([i for i, _ in small])) <= 2
