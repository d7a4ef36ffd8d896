"""Compatibility 0-100 (matcher.ranking.compatibility): the score users read (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.ranking.compatibility import compatibility, describe, share_above


@pytest.mark.parametrize(("score", "expected"), [
    (0.0, 0.0), (0.5, 7.5), (0.9, 25.0), (0.99, 50.0), (0.999, 75.0), (0.9999, 100.0),
    (0.999999, 100.0), (1.0, 100.0)])
def test_each_25_points_is_ten_times_more_selective(score, expected):
    assert float(compatibility(score)) == pytest.approx(expected, abs=0.06)


@given(st.lists(st.floats(0, 1), min_size=2, max_size=50))
def test_monotone_in_the_ranking_score_and_bounded(scores):
    order = np.sort(np.array(scores))
    values = compatibility(order)
    assert np.all(np.diff(values) >= 0)
    assert np.all((values >= 0) & (values <= 100))


@given(st.floats(0.1, 99.9))
def test_share_above_inverts_it(value):
    assert float(compatibility(1 - share_above(value))) == pytest.approx(value, abs=1e-6)


def test_plain_words():
    assert describe(75.0) == "top 0.1%"
    assert describe(50.0) == "top 1%"
    assert describe(25.0) == "top 10%"
    assert describe(100.0) == "top 0.01% or better"


def test_nan_reads_as_no_match():
    assert float(compatibility(np.nan)) == 0.0


def test_a_city_best_matches_score_high_on_the_fixture(matcher_with_lists):
    """On the small model (20 candidates: the best is at most about the top 5%, 30 points)
    compatibility falls with the rank and is `compatibility(score)` of each row."""
    for city in ("Sejong", "Cardiff", "London, GB", "Busan"):
        matches = matcher_with_lists.recommend(city, k=5)
        values = [m.compatibility for m in matches]
        assert values == sorted(values, reverse=True)
        assert values[0] > 5
        for m in matches:
            assert m.compatibility == round(float(compatibility(m.score)), 1)
            assert 0 <= m.probability <= 1


@pytest.fixture(scope="module")
def matcher_with_lists(tmp_path_factory):
    from matcher_factories import make_model_dir

    from matcher.api import Matcher

    return Matcher.load(make_model_dir(tmp_path_factory.mktemp("compat") / "model"))
