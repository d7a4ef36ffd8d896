"""Reasons and the pair breakdown (matcher.explained.explain, matcher.explained.explanation,
matcher.explained.breakdown) on the factory model."""

from __future__ import annotations

import json

import pytest
from matcher_factories import make_model_dir

from matcher.api import Matcher
from matcher.errors import InputError
from matcher.explained import explain
from matcher.explained.dimensions import DIMENSIONS
from matcher.explained.explain import reasons


@pytest.fixture(scope="module", params=[0, 6], ids=["stage-one", "stage-two"])
def matcher(tmp_path_factory, request) -> Matcher:
    return Matcher.load(make_model_dir(tmp_path_factory.mktemp("model") / "v1",
                                       refine_depth=request.param))


def test_reasons_cite_size_country_history_and_neighbours(matcher, monkeypatch):
    monkeypatch.setattr(explain, "THIN_PRECEDENT", 3)  # the fixture's KR-GB has 4
    ev = matcher.evidence
    sejong, manchester = matcher.resolve("Sejong"), matcher.resolve("Manchester")
    facts = matcher.facts.pair(sejong, manchester)
    assert reasons(ev, sejong, manchester, facts) == [
        "nearby Cheongju twins with Manchester", "4 existing KR-GB partnerships",
        "similar size (395k vs 396k)", "GDP per head (PPP) KR $50k, GB $52k (World Bank, "
        "country level)"]
    cardiff = matcher.resolve("Cardiff")
    line = reasons(ev, sejong, cardiff, matcher.facts.pair(sejong, cardiff))
    assert "nearby Daejeon twins with Newport, 17 km from Cardiff" in line
    assert reasons(ev, sejong, matcher.resolve("Newport, US"), [])[-1].startswith(
        "recommended by the learned model")


def test_thin_precedent_is_said_once_not_on_every_row(matcher):
    """Regression (issue 15): '2 existing KR-GB partnerships' was the reason on every row."""
    ev = matcher.evidence
    sejong = matcher.resolve("Sejong")
    assert ev.pair_count(sejong, matcher.resolve("Manchester")) < explain.THIN_PRECEDENT
    result = matcher.recommendation("Sejong", matcher.make_filters(5, countries=["GB"]))
    assert result.thin_precedent == (("GB", ev.pair_count(sejong, matcher.resolve("Cardiff"))),)
    assert not any("existing KR-GB" in reason for m in result.matches for reason in m.reasons)
    assert "thin precedent" in matcher.explain("Sejong", "Cardiff").render()


def test_a_country_history_on_most_rows_is_said_once(matcher, monkeypatch):
    """Regression (issue 16): '103 existing KR-CN partnerships' stood on most of Sejong's rows.
    A history worth citing that would stand on at least half the rows is said once above the
    list (common_precedent, largest first), and the rows keep only what is their own."""
    monkeypatch.setattr(explain, "THIN_PRECEDENT", 3)  # the fixture's KR-GB has 4
    ev = matcher.evidence
    sejong = matcher.resolve("Sejong")
    gb = [matcher.resolve(name) for name in ("Manchester", "Cardiff", "London, GB")]
    assert explain.common_precedent(ev, sejong, gb) == [("GB", ev.pair_count(sejong, gb[0]))]
    domestic = [r for r in range(ev.degree.size) if ev.country_codes[r] == "KR" and r != sejong]
    assert explain.common_precedent(ev, sejong, domestic[:2] + gb[:1]) == []  # one row of three
    assert "4 existing KR-GB partnerships" not in reasons(ev, sejong, gb[0], [],
                                                          country_history=False)
    result = matcher.recommendation("Sejong", matcher.make_filters(3, countries=["GB"]))
    assert result.precedent == (("GB", 4),)
    assert not any("existing KR-GB" in reason for m in result.matches for reason in m.reasons)
    assert result.to_dict()["precedent"] == [{"country_code": "GB", "partnerships": 4}]


def test_reasons_count_partnerships_between_the_two_regions(tmp_path, monkeypatch):
    """With first-level regions (admin1_pair), the country-pair reason says how many of those
    partnerships join the two cities' own regions: the count a naive loop over edges gives."""
    monkeypatch.setattr(explain, "THIN_PRECEDENT", 3)  # the fixture's KR-GB has 4
    matcher = Matcher.load(make_model_dir(tmp_path / "v1", admin1=True))
    ev, arrays = matcher.evidence, matcher.model.arrays
    admin1 = arrays.admin1
    graph = arrays.graph
    edges = [(int(a), int(b)) for a in range(arrays.n_cities) for b in graph.row(a)]
    cheongju, london = matcher.resolve("Cheongju"), matcher.resolve("London, GB")
    regional = sum(admin1[a] == admin1[cheongju] and admin1[b] == admin1[london]
                   for a, b in edges)
    assert regional > 0  # Cheongju twins with Manchester, in London's region
    assert ev.region_pair_count(cheongju, london) == regional
    country = ev.pair_count(cheongju, london)
    # the fixture puts Cheongju in KR 13: the reason names both regions
    assert f"{country} existing KR-GB partnerships, {regional} between Gyeonggi and England" \
        in reasons(ev, cheongju, london, [])
    explained = matcher.explain("Cheongju", "London, GB")
    assert explained.country_pair["between_regions"] == regional
    assert f"{regional} of them between Gyeonggi and England" in explained.render()
    sejong = matcher.resolve("Sejong")  # alone in its region: the reason does not mention it
    assert ev.region_pair_count(sejong, london) == 0
    assert "4 existing KR-GB partnerships" in reasons(ev, sejong, london, [])


def test_reasons_keep_these_two_regions_when_a_region_has_no_name(tmp_path, monkeypatch):
    """A region no table names (a code of its own) leaves the phrase as it was: 'between these
    two regions', and so does a model without admin1 codes."""
    monkeypatch.setattr(explain, "THIN_PRECEDENT", 3)
    matcher = Matcher.load(make_model_dir(tmp_path / "v1", admin1=True))
    ev = matcher.evidence
    cheongju, london = matcher.resolve("Cheongju"), matcher.resolve("London, GB")
    regional = ev.region_pair_count(cheongju, london)
    unnamed = ev.admin1.copy()
    unnamed[cheongju] = "99"  # no KR region has this code
    monkeypatch.setattr(ev, "admin1", unnamed)
    assert f"{regional} between these two regions" in reasons(ev, cheongju, london, [])[0]
    monkeypatch.setattr(ev, "admin1", None)
    assert f"{regional} between these two regions" in reasons(ev, cheongju, london, [])[0]


def test_subscores_measure_each_dimension_on_its_data(matcher):
    """Sejong (395k) is alike in size to Manchester (396k), not to London (9.0M): performance
    says so; the list's sub-scores are matcher.explained.dimensions' for the same pairs."""
    result = matcher.recommendation("Sejong", matcher.make_filters(10, countries=["GB"]))
    by_name = {m.name: m for m in result.matches}
    assert by_name["Manchester"].performance > by_name["London"].performance
    for m in result.matches:
        for name in DIMENSIONS:
            value = getattr(m, name)
            assert value is None or 0 <= value <= 100


def test_explain_pair_breakdown(matcher):
    result = matcher.explain("Sejong", "Cardiff")
    assert result.query["name"] == "Sejong" and result.partner["name"] == "Cardiff"
    assert not result.already_partners and not result.query_has_partnerships
    assert result.country_pair["count"] == 4
    assert "Daejeon (KR) - Newport (GB)" in result.country_pair["examples"]
    assert any("Daejeon" in line for line in result.evidence)
    assert set(result.subscores) == set(DIMENSIONS)
    size = result.subscores["performance"]["values"][0]
    assert (size["label"], size["query"], size["partner"]) == ("population", "395k", "372k")
    assert size["compared_for"] == "likeness" and 0 < size["closeness"] <= 1
    air = [v for v in result.subscores["appetite"]["values"]
           if v["label"] == "international air destinations"]
    assert (air[0]["query"], air[0]["partner"]) == ("0", "20")
    for side in (result.query_ranks_partner, result.partner_ranks_query):
        assert 1 <= side["position"] <= side["out_of"] and 0 <= side["percentile"] <= 1
    assert 0 < result.compatibility_mutual <= 100 and 0 < result.compatibility_one_sided <= 100
    assert set(result.signals) >= {"lightfm", "country_pair"}
    json.dumps(result.to_dict())
    text = result.render()
    assert text.startswith("Sejong, KR and Cardiff, GB (")
    assert "Sejong has no recorded partnerships" in text


def test_explain_agrees_with_recommend(matcher):
    """The query's side is the list's; the partner's side reads the partner's own final list
    (stage two included), where the list reads its stage one: equal without stage two."""
    top = matcher.recommend("Cardiff", k=1)[0]
    result = matcher.explain("Cardiff", top.geonameid)
    assert result.query_ranks_partner["percentile"] == pytest.approx(top.query_ranks_partner,
                                                                     abs=1e-6)
    if "refine" not in matcher.model.rerank["warm"]:
        assert result.compatibility_mutual == pytest.approx(top.compatibility, abs=0.11)
        assert result.partner_ranks_query["percentile"] == pytest.approx(
            top.partner_ranks_query, abs=1e-6)
        for name in ("performance", "appetite", "synergies"):
            assert result.subscores[name]["score"] == pytest.approx(getattr(top, name), abs=0.11)


@pytest.mark.parametrize(("a", "b"), [("Sejong", "Cardiff"), ("Cardiff", "Daejeon"),
                                      ("London, GB", "Seoul"), ("Malmo", "Busan")])
def test_explain_is_symmetric_in_mutual_mode(matcher, a, b):
    """Regression (issue 15): `twin explain A B` and `B A` gave different compatibilities."""
    ab, ba = matcher.explain(a, b), matcher.explain(b, a)
    assert ab.compatibility_mutual == ba.compatibility_mutual
    assert ab.probability == pytest.approx(ba.probability)
    assert ab.query_ranks_partner == ba.partner_ranks_query


def test_explain_says_where_stage_two_moved_the_partner(matcher):
    for partner in ("Cardiff", "Nantes", "Daejeon"):
        result = matcher.explain("Sejong", partner)
        if "refine" not in matcher.model.rerank["cold"]:
            assert result.stage_two is None and "stage two" not in result.render()
            continue
        two = result.stage_two
        assert two["position"] == result.query_ranks_partner["position"]
        if two["stage_one_position"] > two["depth"]:  # outside the shortlist: unmoved
            assert two["position"] == two["stage_one_position"]
        assert "stage two: " in result.render()


def test_explain_existing_pair_and_same_city(matcher):
    assert matcher.explain("Cardiff", "Nantes").already_partners
    domestic = "same country: `twin with` leaves domestic partners out unless --include-domestic"
    assert domestic in matcher.explain("Sejong", "Daejeon").render()
    assert domestic not in matcher.explain("Sejong", "Cardiff").render()
    with pytest.raises(InputError, match="are the same city"):
        matcher.explain("Sejong", "geonames:11523293")


def test_nearest_evidence_equals_collaborative_evidence_pick_by_pick(matcher):
    """One distance pass for every pick gives each pick's own one-line evidence."""
    from matcher.explained.explain import collaborative_evidence, nearest_evidence

    ev = matcher.evidence
    everyone = list(range(len(ev.names)))
    for query in (matcher.resolve("Sejong"), 0, len(ev.names) - 1):
        partners = [p for p in everyone if p != query]
        assert nearest_evidence(ev, query, partners) == [
            collaborative_evidence(ev, query, p, limit=1) for p in partners]


def test_regression_two_cities_of_one_name_are_told_apart(matcher):
    """Regression (issue 16): "its partner Newport twins with Newport" named neither country."""
    ev = matcher.evidence
    malmo, newport_us = matcher.resolve("Malmo"), matcher.resolve("Newport, US")
    assert explain.collaborative_evidence(ev, malmo, newport_us, limit=1) == [
        "its partner Newport (GB) twins with Newport (US)"]
    assert explain.nearest_evidence(ev, malmo, [newport_us]) == [
        ["its partner Newport (GB) twins with Newport (US)"]]
