"""A gazetteer place outside the model's index is scored as one more city of it
(matcher.places.outside)."""

from __future__ import annotations

import numpy as np
import pytest
from matcher_factories import make_model_dir, random_arrays

from matcher.api import Matcher
from matcher.errors import CityOutsideIndexError
from matcher.places import outside
from matcher.scoring import scorer, signals
from matcher.scoring.final_scores import score_matrix


@pytest.fixture(scope="module")
def matcher(tmp_path_factory) -> Matcher:
    return Matcher.load(make_model_dir(tmp_path_factory.mktemp("outside") / "v1"))


def test_neighbour_row_is_the_training_kernel():
    """One definition of the neighbour kernel: a city's row recomputed from its coordinates is
    its row of training's geo_kernel over the same cities."""
    from training.model.dataset import geo_kernel

    arrays = random_arrays(5, n=40)
    rng = np.random.default_rng(5)
    arrays.lat = 50.0 + rng.random(40) * 2.0  # close together: many neighbours
    arrays.lon = 2.0 * rng.random(40)
    kernel = geo_kernel(arrays.lat, arrays.lon, radius_km=60.0, scale_km=25.0)
    for city in (0, 7, 39):
        columns, weights = outside.neighbour_row(arrays, float(arrays.lat[city]),
                                                 float(arrays.lon[city]), 60.0, 25.0, skip=city)
        expected = kernel[city].toarray().ravel()
        got = np.zeros(40, dtype=np.float32)
        got[columns] = weights
        assert set(columns.tolist()) == set(np.flatnonzero(expected).tolist())
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_the_appended_row_is_a_cold_city_that_no_list_holds():
    arrays = random_arrays(2, n=30)
    extension = outside.extend(arrays, lat=10.0, lon=20.0, population=4000, country=1,
                               admin1=None, config={})
    extended = extension.arrays
    row = extension.row
    assert row == arrays.n_cities and extended.n_cities == row + 1
    assert not extended.candidate_mask[row] and extended.degree[row] == 0
    assert extended.admin1[row] == arrays.admin1.max() + 1  # a region of its own
    np.testing.assert_array_equal(extended.user_embeddings[row],
                                  arrays.user_embeddings[extension.stand_in])
    assert extended.degree[extension.stand_in] == 0 or not (arrays.degree == 0).any()
    # every other city's scores are unchanged: the new row is nobody's candidate
    old = score_matrix(arrays, np.arange(5))
    new = score_matrix(extended, np.arange(5))
    np.testing.assert_allclose(new[:, :row], old, rtol=1e-6, atol=1e-6)
    assert np.isneginf(new[:, row]).all()
    # the new row scores through the fast path as the reference does
    fast = scorer.block_scores(extended, np.array([row]))[0].astype(np.float64)
    reference = score_matrix(extended, np.array([row]),
                             signals.signal_matrices(extended, np.array([row]),
                                                     np.flatnonzero(extended.candidate_mask)),
                             np.flatnonzero(extended.candidate_mask))[0]
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-5)


def test_regression_a_small_town_gets_an_answer(matcher):
    """Issue 15: a town of the gazetteer outside the index ('Tenby', 4,696 people) was told it
    could not be scored. It is ranked as one more city of the index, one-sided, with the index
    city whose LightFM view it borrows named."""
    with pytest.raises(CityOutsideIndexError):
        matcher.resolve("Tenby, GB")
    result = matcher.recommendation("Tenby, GB")
    assert result.query.name == "Tenby" and result.query.country_code == "GB"
    assert result.stand_in is not None and result.stand_in.country_code == "GB"
    assert not result.mutual and not result.ranked_by_others
    assert result.matches and all(m.country_code != "GB" for m in result.matches)
    candidates = set(matcher.model.geonameids[matcher.model.arrays.candidate_mask].tolist())
    assert {m.geonameid for m in result.matches} <= candidates
    assert result.matches[0].compatibility >= result.matches[-1].compatibility
    assert result.to_dict()["stand_in"]["name"] == result.stand_in.name
    assert matcher.model.n_cities == len(matcher.model.geonameids)  # the model is not changed


def test_regression_a_place_outside_the_index_has_its_country_values_not_its_stand_ins(matcher):
    """Issue 16: Tenby's appetite read "-" on every row (no open-data values at all) and it would
    have borrowed the stand-in's themes with its features. It shares its country's World Bank
    values; its own city-level values stay unknown, and it has no themes of its own."""
    from matcher.columns import OpenColumns as O

    answering, row, stand_in = matcher.answering("Tenby, GB")
    table = answering.model
    cardiff = matcher.resolve("Cardiff")
    assert table.column(O.GDP_PER_HEAD_PPP)[row] == matcher.model.column(
        O.GDP_PER_HEAD_PPP)[cardiff]
    assert table.column(O.GROWTH_LEVEL)[row] == "country"
    assert np.isnan(table.column(O.AIRPORT_INTL_DESTINATIONS)[row])
    assert answering.dimensions.themes_of(row) == ()
    assert answering.dimensions.themes_of(stand_in)  # the stand-in has some to borrow
    result = matcher.recommendation("Tenby, GB")
    assert all(m.performance is not None for m in result.matches)


def test_a_place_whose_country_the_index_lacks_is_not_extended(matcher):
    from matcher.places.gazetteer import GazetteerPlace

    codes = set(matcher.model.column("country_code").astype(str).tolist())
    assert "IS" not in codes
    place = GazetteerPlace(row=0, geonameid=2633274, name="Akureyri", country_code="IS",
                           admin1="", population=17_000, lat=65.68, lon=-18.09)
    assert outside.extended_model(matcher.model, place) is None


def test_explain_reads_a_place_outside_the_index_either_way_round(matcher):
    """Issue 15: `twin explain Tenby X` said Tenby could not be scored; a city no list holds is
    read as if it were a candidate, so explain A B equals B A."""
    partner = matcher.recommendation("Tenby, GB").matches[0]
    there = matcher.explain("Tenby, GB", f"geonames:{partner.geonameid}")
    back = matcher.explain(f"geonames:{partner.geonameid}", "Tenby, GB")
    assert there.as_if_candidate == ["Tenby"] == back.as_if_candidate
    assert there.compatibility_mutual == back.compatibility_mutual > 0
    assert 0 < there.partner_ranks_query["percentile"] <= 1
    assert "read as if it were one" in there.render()
