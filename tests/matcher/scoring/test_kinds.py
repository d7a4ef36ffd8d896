"""matcher.scoring.kinds: each per-cell formula once, the same value however it is broadcast."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.scoring import kinds, signals, signaltable

PAIRWISE = [signaltable.BY_NAME[name] for name in signaltable.PAIRWISE]


def _inputs(seed: int, n: int = 40) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(-89, 89, n), rng.uniform(-180, 180, n)
    lat[1], lon[1] = lat[0] + 1e-5, lon[0] - 1e-5  # about a metre apart
    lat[3], lon[3] = -lat[2], lon[2] + (180 if lon[2] < 0 else -180)  # antipodes
    return kinds.city_inputs(np.radians(lat), np.radians(lon), rng.uniform(3, 7, n),
                             rng.integers(0, 9, n), rng.random(n) < 0.3) | {
        "lat": np.radians(lat), "lon": np.radians(lon)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_distance_is_the_great_circle(seed):
    inputs = _inputs(seed)
    query = {name: values[:, None] for name, values in inputs.items()}
    got = kinds.log_distance(tuple(query[name] for name in kinds.HALF_ANGLES),
                             tuple(inputs[name] for name in kinds.HALF_ANGLES))
    km = signals.haversine_km(inputs["lat"][:, None], inputs["lon"][:, None], inputs["lat"],
                              inputs["lon"])
    np.testing.assert_allclose(got, np.log1p(km), rtol=1e-9, atol=1e-12)
    assert got[0, 1] < np.log1p(0.01)  # nearby cities keep their metres, no cancellation
    np.testing.assert_allclose(np.expm1(got[2, 3]), np.pi * kinds.EARTH_RADIUS_KM, rtol=1e-6)


@pytest.mark.parametrize("signal", PAIRWISE, ids=lambda signal: signal.name)
def test_a_formula_gives_the_same_bits_however_it_is_broadcast(signal):
    """A block, listed pairs, one pair at a time and the reverse (many askers, one scalar
    query) evaluate one function: the paths agree to the bit, not merely to a tolerance."""
    inputs = _inputs(4)
    query = {name: values[:, None] for name, values in inputs.items()}
    block = signal.pairwise(query, inputs)
    listed_cols = np.array([[5, 2], [7, 7]])
    listed = signal.pairwise({name: values[:2, None] for name, values in inputs.items()},
                             {name: values[listed_cols] for name, values in inputs.items()})
    assert block.shape == (40, 40)
    np.testing.assert_array_equal(listed, block[np.array([[0], [1]]), listed_cols])
    for i, j in [(0, 1), (2, 3), (9, 30)]:
        one = signal.pairwise({name: values[i] for name, values in inputs.items()},
                              {name: values[j] for name, values in inputs.items()})
        assert one == block[i, j]
    reverse = signal.pairwise(inputs, {name: values[6] for name, values in inputs.items()})
    np.testing.assert_array_equal(reverse, block[:, 6])


def test_size_gap_and_both_capital():
    assert kinds.size_gap((np.float64(5.0),), (np.float64(3.5),)) == 1.5
    capital = np.array([1.0, 0.0])
    np.testing.assert_array_equal(kinds.both_capital((capital[:, None],), (capital,)),
                                  [[1.0, 0.0], [0.0, 0.0]])
    assert kinds.product(np.float64(2.0), np.float64(-3.0)) == -6.0


def test_every_formula_entry_reads_known_inputs():
    for signal in signaltable.TABLE:
        assert set(signal.inputs) <= set(kinds.INPUTS), signal.name
    assert set(signaltable.PAIRWISE_INPUTS) <= set(kinds.INPUTS)


def test_an_entry_without_its_formula_is_named(monkeypatch):
    broken = signaltable.Signal("bad_gap", signaltable.Kind.PAIRWISE, "no formula",
                                signaltable.Reverse.SAME, symmetric=True,
                                inputs=("log_population",))
    monkeypatch.setattr(signaltable, "TABLE", (*signaltable.TABLE, broken))
    assert any(problem.startswith("bad_gap:") for problem in signaltable.problems())


def test_a_group_pair_read_reversed_by_another_group_is_named(monkeypatch):
    wrong = signaltable.Signal("bad_pair", signaltable.Kind.GROUP_PAIR, "regions read by country",
                               signaltable.Reverse.BY_COUNTRY, symmetric=True, group="admin1",
                               rows=kinds.admin1_pair_rows)
    monkeypatch.setattr(signaltable, "TABLE", (*signaltable.TABLE, wrong))
    assert any(problem.startswith("bad_pair:") for problem in signaltable.problems())


def test_a_group_count_read_reversed_by_the_wrong_side_is_named(monkeypatch):
    wrong = signaltable.Signal("bad_count", signaltable.Kind.GROUP_COUNT, "counted by the "
                               "candidate, read as the query's row", signaltable.Reverse.QUERY_ROW,
                               count=kinds.Count("partners", "candidate"))
    missing = signaltable.Signal("no_count", signaltable.Kind.GROUP_COUNT, "no count",
                                 signaltable.Reverse.QUERY_ROW)
    monkeypatch.setattr(signaltable, "TABLE", (*signaltable.TABLE, wrong, missing))
    found = signaltable.problems()
    assert any(problem.startswith("bad_count:") for problem in found)
    assert any(problem.startswith("no_count:") for problem in found)


def test_every_group_count_is_declared_by_its_count():
    for name in signaltable.GROUP_COUNTS:
        count = signaltable.BY_NAME[name].count
        assert count.via in kinds.COUNT_VIAS and count.by in ("query", "candidate"), name
    assert set(signaltable.QUERY_COUNTS) | set(signaltable.CANDIDATE_COUNTS) \
        == set(signaltable.GROUP_COUNTS)
