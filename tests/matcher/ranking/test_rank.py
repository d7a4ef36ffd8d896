"""Pure ranking logic (matcher.ranking.rank): reciprocity, eligibility, country cap, percentiles."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.errors import InputError
from matcher.ranking import rank
from matcher.ranking.percentiles import percentile_from_quantiles


def test_mutual_is_the_geometric_mean_and_one_sided_the_forward_side():
    forward, reverse = np.array([0.81, 0.9, 1.0]), np.array([1.0, 0.1, 0.0])
    np.testing.assert_allclose(rank.combine_sides(forward, reverse, True)[:2], [0.9, 0.3])
    assert rank.combine_sides(forward, reverse, True)[2] < 1e-4  # nobody wants it back
    np.testing.assert_allclose(rank.combine_sides(forward, reverse, False), forward)


def test_defaults_are_single_named_constants():
    assert rank.Filters().mutual is rank.MUTUAL_DEFAULT
    assert rank.Filters().per_country == rank.PER_COUNTRY_DEFAULT
    assert rank.Filters(per_country=0).cap is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"k": 0}, "top: k must be a positive integer"),
    ({"per_country": -1}, "per_country: must be a non-negative integer or None"),
    ({"min_population": 10, "max_population": 5}, "min_population (10) is above max_population"),
    ({"max_km": 0}, "max_km: must be > 0"),
])
def test_bad_filters_name_the_argument(kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rank.Filters(**kwargs)


def test_top_k_sorts_and_breaks_ties_by_row():
    ranking = np.array([0.5, 0.9, 0.9, 0.1, 0.7])
    mask = np.ones(5, dtype=bool)
    countries = np.zeros(5, dtype=np.int64)
    assert rank.top_k(ranking, mask, 3, countries, None).tolist() == [1, 2, 4]
    assert rank.top_k(ranking, mask, 3, countries, 1).tolist() == [1]
    assert rank.top_k(ranking, np.zeros(5, dtype=bool), 3, countries, None).tolist() == []


def test_cap_digs_past_a_dominant_country():
    n = 1000
    ranking = np.linspace(1.0, 0.0, n)
    countries = np.zeros(n, dtype=np.int64)
    countries[-3:] = [1, 2, 3]  # the only other countries are at the very bottom
    picks = rank.top_k(ranking, np.ones(n, dtype=bool), 5, countries, 1)
    assert picks.tolist() == [0, 997, 998, 999]


def test_eligible_drops_self_partners_domestic_and_filtered():
    scores = np.array([-np.inf, 1.0, 2.0, 3.0, 4.0, np.nan])
    countries = np.array([0, 0, 1, 1, 2, 2])
    population = np.array([100, 200, 300, 400, 500, 600])
    distance = np.array([0.0, 10, 20, 30, 40, 50])
    mask = rank.eligible(1, scores, np.array([2]), countries, population, distance,
                         rank.Filters(), None, None)
    assert np.flatnonzero(mask).tolist() == [3, 4]
    spec = rank.Filters(include_domestic=True, max_km=35, min_population=150)
    mask = rank.eligible(1, scores, np.array([], dtype=int), countries, population, distance,
                         spec, None, np.array([2]))
    assert np.flatnonzero(mask).tolist() == [2, 3]
    # asking for the own country includes it
    mask = rank.eligible(3, scores, np.array([], dtype=int), countries, population, distance,
                         rank.Filters(), np.array([1]), None)
    assert np.flatnonzero(mask).tolist() == [2]


def test_haversine_known_distance():
    km = rank.haversine_km(51.48, -3.18, np.array([36.48]), np.array([127.29]))[0]
    assert 9000 < km < 9200  # Cardiff - Sejong


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=3, max_size=30).map(sorted),
       st.lists(st.floats(-6, 6), min_size=1, max_size=20))
def test_percentile_in_row_matches_the_models_interpolation(quantiles, values):
    quantiles = np.asarray(quantiles)
    levels = np.linspace(0, 1, len(quantiles))
    values = np.asarray(values)
    expected = percentile_from_quantiles(np.tile(quantiles, (len(values), 1)), levels, values)
    np.testing.assert_allclose(rank.percentile_in_row(quantiles, levels, values), expected)


def test_midrank_percentile_counts_ties_half():
    np.testing.assert_allclose(rank.midrank_percentile(np.array([1, 2, 2, 3]), np.array([2, 9])),
                               [0.5, 1.0])


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 60), st.integers(1, 12), st.one_of(st.none(), st.integers(1, 4)),
       st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_top_k_equals_a_full_greedy_walk(n, k, cap, n_countries, seed):
    rng = np.random.default_rng(seed)
    ranking = rng.integers(0, 8, n) / 8.0  # many ties
    mask = rng.random(n) < 0.8
    countries = rng.integers(0, n_countries, n)
    picks = rank.top_k(ranking, mask, k, countries, cap)
    order = [i for i in sorted(range(n), key=lambda i: (-ranking[i], i)) if mask[i]]
    expected, counts = [], {}
    for i in order:
        if cap is None or counts.get(countries[i], 0) < cap:
            counts[countries[i]] = counts.get(countries[i], 0) + 1
            expected.append(i)
        if len(expected) == k:
            break
    assert picks.tolist() == expected
    assert len(picks) <= k and all(mask[picks])
    assert np.all(np.diff(ranking[picks]) <= 0)


def test_regression_country_filter_is_not_starved_by_the_cap():
    """Bug: `twin with Cardiff --country KR -k 5` returned 3 rows, the per-country cap of 3
    applied to the only country the user asked for."""
    from matcher.ranking.rank import Filters

    assert Filters(k=5, countries=("KR",), per_country=3).cap == 5
    assert Filters(k=10, countries=("KR", "JP"), per_country=3).cap == 5
    assert Filters(k=10, countries=("KR", "JP", "CN", "TW"), per_country=3).cap == 3
    assert Filters(k=10, per_country=3).cap == 3
    assert Filters(k=10, countries=("KR",), per_country=None).cap is None


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=6),
       st.sampled_from([None, 1, 2]), st.booleans())
def test_mutual_top_k_equals_ranking_every_eligible_city(seed, k, cap, ranked_by_others):
    """The shortlisted mutual top-k gives the picks of ranking every eligible city by both
    sides at once (and reads side 2 only for a shortlist)."""
    rng = np.random.default_rng(seed)
    n = 300
    scores = rng.normal(size=n)
    scores[rng.random(n) < 0.2] = -np.inf
    mask = np.isfinite(scores) & (rng.random(n) < 0.9)
    levels = np.linspace(0.0, 1.0, 21)
    quantiles = np.quantile(scores[np.isfinite(scores)], levels)
    countries = rng.integers(0, 4, size=n)
    floor = rank.PERCENTILE_FLOOR
    wanted_back = rng.random(n) if ranked_by_others else np.full(n, floor)
    asked = []

    def reverse_of(rows, cache=None):
        asked.append(len(rows))
        return wanted_back[rows]

    query = rank.QueryRanking(quantiles, levels, countries, ranked_by_others)
    spec = rank.Filters(k=k, per_country=cap)
    with patch.object(rank, "MUTUAL_SHORTLIST_MIN", 8), \
            patch.object(rank, "MUTUAL_SHORTLIST_PER_K", 2):  # small shortlists that must grow
        picks, ranking, _, _ = rank.mutual_top_k(scores, mask, spec, query,
                                                 lambda rows, cache: reverse_of(rows))
    everyone = np.zeros(n)
    everyone[mask] = rank.combine_sides(
        rank.percentile_in_row(quantiles, levels, scores[mask]), wanted_back[mask], True)
    expected = rank.top_k(everyone, mask, k, countries, cap)
    assert picks.tolist() == expected.tolist()
    np.testing.assert_allclose(ranking[picks], everyone[picks])
    assert sum(asked) <= max(mask.sum(), 1)  # each eligible city's side 2 read at most once
