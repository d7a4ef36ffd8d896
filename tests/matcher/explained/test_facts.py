"""Reasons that cite facts (explained.facts) and the pair breakdown (explained.breakdown)."""

from __future__ import annotations

import itertools

import pytest
from matcher_factories import make_model_dir

from matcher.api import Matcher
from matcher.explained import facts
from matcher.explained.breakdown import render, value_text
from matcher.explained.facts import Fact, said_once, short_number


@pytest.fixture(scope="module")
def matcher(tmp_path_factory) -> Matcher:
    return Matcher.load(make_model_dir(tmp_path_factory.mktemp("model") / "v1"))


def test_short_number():
    assert short_number(394_630) == "395k" and short_number(8_961_989) == "9.0M"
    assert short_number(950) == "950" and short_number(62_009, money=True) == "$62k"
    assert short_number(0) == "unknown"


def test_shared_themes_and_connections_cite_their_source(matcher):
    cardiff, bristol = matcher.resolve("Cardiff"), matcher.resolve("Bristol")
    texts = [f.text for f in matcher.facts.pair(cardiff, bristol)]
    assert "both seaports (World Port Index)" in texts  # the fixture's "port" tag
    assert "both tagged university (user tags: tags)" in texts
    london, seoul = matcher.resolve("London, GB"), matcher.resolve("Seoul")
    texts = [f.text for f in matcher.facts.pair(london, seoul)]
    assert "London grew 1.2% a year 2000-2020, Seoul 0.3% (UN WUP)" in texts


def test_a_mature_and_a_fast_growing_economy_is_cited_with_both_figures(matcher):
    sejong, newport_us = matcher.resolve("Sejong"), matcher.resolve("Newport, US")
    (economy,) = [f for f in matcher.facts.pair(sejong, newport_us) if f.kind == "economy"]
    assert economy.text == ("a mature and a fast-growing economy: GDP per head (PPP) KR $50k, "
                            "US $75k, growing 2.3% and 1.6% a year (World Bank, country level)")


def test_asked_themes_are_cited_first(matcher):
    sejong, cardiff = matcher.resolve("Sejong"), matcher.resolve("Cardiff")
    found = matcher.facts.pair(sejong, cardiff, ("university",))
    assert found[0] == Fact("asked", "has the theme you asked for, university (user tags: "
                                     "tags)")


def test_regression_said_once_keeps_the_rows_order_in_every_process():
    """Regression: the clauses said once above London's list came in a different order on each
    run (they were counted over a set of texts, whose order follows the hash seed)."""
    texts = ["both national capitals (GeoNames)", "both host 10+ diplomatic missions (Wikidata)",
             "both Covenant of Mayors signatories (Covenant of Mayors)",
             "each has an airport with 50+ international destinations (OurAirports/OpenFlights)"]
    for order in itertools.permutations(texts):
        rows = [[Fact("theme", text) for text in order] for _ in range(4)]
        assert said_once(rows)[0] == list(order)


def test_said_once_moves_a_clause_on_most_rows_above_the_list():
    """Regression (issue 16): 'similar size; 2 existing KR-GB partnerships' stood on every row
    of Sejong's UK list and said nothing about any one of them."""
    gdp = Fact("gdp", "GDP per head (PPP) KR $61k, GB $62k (World Bank, country level)")
    rows = [[gdp, Fact("size", f"similar size (395k vs {n}k)")] for n in (300, 310, 320, 330)]
    rows.append([Fact("theme", "both seaports (World Port Index)")])
    common, kept = said_once(rows)
    assert common == [gdp.text, facts.KIND_SUMMARY["size"]]  # 4 of 5 rows: nearly every one
    assert kept == [[], [], [], [], [Fact("theme", "both seaports (World Port Index)")]]
    few = rows[:2]
    assert said_once(few) == ([], few)  # two rows: nothing is "most rows"
    mixed = [[Fact("size", "similar size (1k vs 1k)")], [], [], [], []]
    assert said_once(mixed) == ([], mixed)


def test_a_list_says_its_common_clauses_once(matcher):
    result = matcher.recommendation("Sejong", matcher.make_filters(10))
    assert result.said_once
    for clause in result.said_once:
        assert not any(clause in m.reasons for m in result.matches)
    assert result.to_dict()["said_once"] == list(result.said_once)


def test_value_text_reads_as_people_write():
    assert value_text(None) == "no data" and value_text(float("nan")) == "no data"
    assert value_text(True) == "yes" and value_text(0.887, "% a year") == "0.9% a year"
    assert value_text(62_009.5, "$") == "$62k" and value_text(2030.0, "year") == "2030"
    assert value_text(66.0, "destinations") == "66"


def test_explain_lists_each_dimension_side_by_side(matcher):
    explained = matcher.explain("Sejong", "Cardiff", themes=["university", "fintech"])
    text = "\n".join(render(explained.subscores, "Sejong", "Cardiff"))
    assert "performance:" in text and "appetite:" in text and "synergies:" in text
    assert "GDP per head (PPP)" in text and "$50k" in text and "$52k" in text
    assert "themes asked for that no city has in the data: fintech" in text
    themes = [v for v in explained.subscores["synergies"]["values"] if v["label"] == "themes"]
    assert themes[0]["query"] == "university" and "university" in themes[0]["partner"]
    assert explained.render().count("closeness") == 4  # the heading and one per dimension
