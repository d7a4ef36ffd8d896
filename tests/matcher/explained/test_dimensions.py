"""The three dimensions on their own data (matcher.explained.dimensions): known answers, invariants
and the weights that re-rank a shortlist."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import REPO

from matcher.columns import OpenColumns as O
from matcher.errors import InputError
from matcher.explained import dimensions as D

THEMES = ("maritime", "aviation-hub", "heritage", "climate-2030", "climate-action")


def make_data(values: dict[str, list[float]], themes: list[set[str]]) -> D.DimensionData:
    """A DimensionData over len(themes) cities, every one a candidate, values as given
    (scaled as their Comparison says), spreads from the values."""
    scales = {c.column: c for c in D.COMPARISONS}
    raw = {name: np.array(v, dtype=np.float64) for name, v in values.items()}
    for name, comparison in scales.items():
        if name in raw and comparison.zero_unknown:
            raw[name] = np.where(raw[name] == 0, np.nan, raw[name])
    scaled = {name: D._scaled(v, scales[name].scale if name in scales else "linear")
              for name, v in raw.items()}
    spreads = {name: D._spread(v) for name, v in scaled.items()}
    matrix = np.array([[t in row for t in THEMES] for row in themes], dtype=bool)
    rarity = np.maximum(np.log(len(themes) / (1.0 + matrix.sum(axis=0))), 0.1)
    return D.DimensionData(scaled, raw, spreads, matrix, THEMES, ("themes",) * len(THEMES),
                           rarity)


@pytest.fixture
def data() -> D.DimensionData:
    """Row 0 asks; 1 is its near twin on every dimension, 2 far on every one, 3-11 between."""
    n = 12
    rng = np.random.default_rng(3)
    population = [400_000, 420_000, 9_000_000, *rng.integers(20_000, 3_000_000, n - 3)]
    growth = [1.0, 1.1, -1.5, *rng.uniform(-1, 3, n - 3)]
    gdp = [50_000, 50_000, 4_000, *rng.uniform(3_000, 90_000, n - 3)]
    pace = [1.0, 1.0, 6.0, *rng.uniform(0, 5, n - 3)]
    partnerships = [10, 12, 0, *rng.integers(0, 40, n - 3)]
    air = [60, 55, 0, *rng.integers(0, 200, n - 3)]
    themes = [{"maritime", "heritage"}, {"maritime", "heritage"}, set(),
              *({str(t)} for t in rng.choice(["aviation-hub", "climate-action", ""], n - 3))]
    return make_data({"population": population, O.GROWTH_2000_2020: growth,
                      O.GDP_PER_HEAD_PPP: gdp, O.GDP_PER_HEAD_GROWTH: pace,
                      "partnership_count": partnerships, O.AIRPORT_INTL_DESTINATIONS: air},
                     themes)


def test_the_closer_candidate_scores_higher_on_every_dimension(data):
    """Known answer (issue 16): of two candidates, the one closer to the query on a dimension's
    data scores higher on it."""
    themes = D.asked_themes(data, 0)
    reference = np.arange(1, 12)
    subs = D.subscores(data, 0, reference, np.array([1, 2]), themes)
    for dimension in ("performance", "appetite"):
        near, far = subs[dimension]
        assert near > far, dimension
        assert near >= 90  # the near twin beats nearly every candidate
    near, far = D.raw_scores(data, 0, np.array([1, 2]), themes)["synergies"]
    assert near > far


def test_a_missing_value_is_no_data_not_a_made_up_score():
    data = make_data({"population": [1000, np.nan, 2000]}, [set(), set(), set()])
    subs = D.subscores(data, 0, np.array([1, 2]), np.array([1, 2]), D.asked_themes(data, 0))
    assert np.isnan(subs["performance"][0]) and np.isfinite(subs["performance"][1])
    assert np.isnan(subs["appetite"]).all()  # nothing on appetite at all
    assert D.shown(subs["performance"][0]) is None


def test_no_recorded_partnerships_is_no_data_on_that_value():
    """A city new to twinning (Sejong) is compared on its connections, not penalised as a city
    with no appetite: 0 partnerships is unknown."""
    data = make_data({"partnership_count": [0, 30, 1], O.AIRPORT_INTL_DESTINATIONS: [5, 5, 90]},
                     [set()] * 3)
    terms = {t.name: t.values for t in D.terms(data, 0, np.array([1, 2]), D.asked_themes(data, 0))}
    assert np.isnan(terms["partnership_count"]).all()
    raw = D.raw_scores(data, 0, np.array([1, 2]), D.asked_themes(data, 0))["appetite"]
    assert raw[0] > raw[1]  # the same air connectivity wins


def test_asked_themes_use_aliases_related_themes_and_say_what_no_city_has(data):
    asked = D.asked_themes(data, 2, ("Port", "smart city", "medtech"))
    assert asked.names == ("maritime", "smart-city")
    assert asked.unmatched == ("medtech",)
    related = asked.credit[1]
    assert related[THEMES.index("climate-action")] == D.RELATED_CREDIT
    assert related[THEMES.index("maritime")] == 0
    raw = D.raw_scores(data, 2, np.array([0, 3]), asked)["synergies"]
    assert np.isfinite(raw).all()


def test_economy_complement_pairs_a_mature_economy_with_a_fast_growing_one():
    data = make_data({O.GDP_PER_HEAD_PPP: [60_000, 5_000, 90_000, 60_000],
                      O.GDP_PER_HEAD_GROWTH: [0.8, 6.0, 3.0, 0.8]}, [set()] * 4)
    richer_slower, richer_faster, same = D.economy_complement(data, 0, np.array([1, 2, 3]))
    assert richer_slower > 0.5  # poorer and faster: complementary
    assert richer_faster == 0.0  # richer and faster: nothing to complete
    assert same == 0.0


def test_a_seaport_is_completed_by_an_air_hub():
    both = {"maritime", "aviation-hub"}
    data = make_data({}, [{"maritime"}, {"aviation-hub"}, {"maritime"}, set(), both])
    gateway = {t.name: t.values for t in D.terms(data, 0, np.array([1, 2, 3, 4]),
                                                   D.asked_themes(data, 0))}["gateway"]
    assert gateway.tolist() == [1.0, 0.0, 0.0, 0.0]  # a city with both completes nothing
    assert D.gateway(data, 1, np.array([0, 4])).tolist() == [1.0, 0.0]
    for query in (3, 4):  # neither, or both: no gateway to complete
        assert D.gateway(data, query, np.array([0, 1])) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1e3, 1e7), st.floats(-3, 5), st.integers(0, 60)),
                min_size=3, max_size=15),
       st.integers(0, 14))
def test_likeness_is_symmetric_and_scores_stay_in_range(rows, query):
    query = query % len(rows)
    data = make_data({"population": [r[0] for r in rows],
                      O.GROWTH_2000_2020: [r[1] for r in rows],
                      "partnership_count": [r[2] for r in rows]}, [set()] * len(rows))
    everyone = np.arange(len(rows))
    raw = D.raw_scores(data, query, everyone, D.asked_themes(data, query))
    for other in range(len(rows)):
        back = D.raw_scores(data, other, np.array([query]), D.asked_themes(data, other))
        for dimension in ("performance", "appetite"):
            a, b = raw[dimension][other], back[dimension][0]
            assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b)
    subs = D.subscores(data, query, everyone, everyone, D.asked_themes(data, query))
    for values in subs.values():
        finite = values[np.isfinite(values)]
        assert ((finite >= 0) & (finite <= 100)).all()
    order = np.argsort(raw["performance"])  # a higher raw score never gets a lower sub-score
    assert np.all(np.diff(subs["performance"][order]) >= -1e-9)


def test_parse_weights_reads_the_flag_and_names_what_is_wrong():
    assert D.parse_weights("performance=1, appetite=1,synergies=2") == (
        ("performance", 1.0), ("appetite", 1.0), ("synergies", 2.0))
    assert D.parse_weights({"model": 0, "synergies": 1}) == (("model", 0.0), ("synergies", 1.0))
    assert D.parse_weights(None) == ()
    for bad, words in (("speed=1", "unknown dimension 'speed'"), ("synergies=lots", "number"),
                       ("appetite=-1", "0 or more"), ("model=0", "every weight is 0")):
        with pytest.raises(InputError, match=words):
            D.parse_weights(bad)


def test_weighted_order_re_ranks_by_what_the_user_weighs():
    subs = {"performance": np.array([10.0, 90.0, 50.0]), "appetite": np.array([50.0] * 3),
            "synergies": np.array([np.nan, 20.0, 95.0])}
    compatibility = np.array([80.0, 20.0, 10.0])
    assert D.weighted_order(subs, compatibility, ()).tolist() == [0, 1, 2]
    assert D.weighted_order(subs, compatibility, (("model", 0.0), ("synergies", 1.0))) \
        .tolist() == [2, 0, 1]  # a missing sub-score counts 50
    # the compatibility weighs as much as the dimensions given unless model= says otherwise
    assert D.weighted_order(subs, compatibility, (("performance", 1.0),)).tolist() == [1, 0, 2]
    assert D.weighted_order(subs, compatibility, (("performance", 1.0), ("model", 0.0))) \
        .tolist() == [1, 2, 0]


def test_every_term_is_documented():
    """docs/DIMENSIONS.md lists every comparison and complementarity the code defines."""

    text = (REPO / "docs" / "DIMENSIONS.md").read_text()
    for comparison in D.COMPARISONS:
        assert f"`{comparison.column}`" in text, comparison.column
    for term in D.COMPLEMENT_TERMS:
        assert f"| {term} |" in text, term


def test_a_theme_is_written_one_way_for_asked_themes_and_tag_files():
    from training.data.indicators import normalise_tags

    assert D.tag_form(" Smart  City ") == "smart-city" == D.tag_form("smart_city")
    assert D.tag_form("--cyber__security-") == "cyber-security"
    assert D.normalise_theme("Ports") == "maritime" and D.normalise_theme("medtech") == "medtech"
    assert normalise_tags("Smart City; fintech,cyber_security") == \
        "cyber-security;fintech;smart-city"


def test_theme_list_is_one_reading_of_asked_themes():
    assert D.theme_list(["Port", " ", "smart city", "port"]) == ("maritime", "smart-city")
    with pytest.raises(InputError, match="give a list"):
        D.theme_list("smart-city")
