"""matcher.web.params: query strings to the CLI's filters and back (a link reproduces the view)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.errors import InputError
from matcher.web.params import ExplainQuery, PairQuery, RecommendQuery

codes = st.lists(st.sampled_from(["GB", "KR", "FR", "Korea", "United Kingdom"]), max_size=3,
                 unique=True).map(tuple)
queries = st.builds(
    RecommendQuery, k=st.integers(1, 200), countries=codes, exclude_countries=codes,
    include_domestic=st.booleans(), min_population=st.none() | st.integers(0, 10**7),
    max_population=st.none() | st.integers(0, 10**7),
    max_km=st.none() | st.floats(0.001, 1e7, allow_nan=False),
    per_country=st.none() | st.integers(0, 10), mutual=st.none() | st.booleans(),
    themes=st.lists(st.sampled_from(["smart-city", "maritime", "net zero", "<b>x</b>"]),
                    max_size=3).map(tuple),
    weigh=st.none() | st.sampled_from(["synergies=2", "performance=1,appetite=0.5,model=2"]))


@given(queries)
def test_items_parse_back_to_the_same_query(query):
    assert RecommendQuery.parse(query.items()) == query


def test_defaults_leave_the_url_empty():
    assert RecommendQuery().items() == []
    assert RecommendQuery.parse([("k", ""), ("country", ""), ("min_population", "")]) == \
        RecommendQuery()


def test_repeated_and_comma_separated_countries():
    query = RecommendQuery.parse([("country", "GB, FR"), ("country", "KR")])
    assert query.countries == ("GB", "FR", "KR")


def test_themes_and_weigh_are_the_cli_flags():
    query = RecommendQuery.parse([("theme", "smart-city, maritime"), ("theme", "fintech"),
                                  ("weigh", "performance=1,synergies=2")])
    assert query.themes == ("smart-city", "maritime", "fintech")
    assert query.weigh == "performance=1,synergies=2"  # one value: its commas are its own
    assert query.items()[-4:] == [("theme", "smart-city"), ("theme", "maritime"),
                                  ("theme", "fintech"), ("weigh", "performance=1,synergies=2")]
    assert RecommendQuery.parse([("weigh", "")]) == RecommendQuery()  # an empty field
    assert ExplainQuery.parse([("theme", "maritime,port")]) == ExplainQuery(("maritime", "port"))
    with pytest.raises(InputError, match="unknown parameter 'k'; known: theme"):
        ExplainQuery.parse([("k", "3")])


def test_pair_defaults_are_the_cli_defaults():
    from matcher.cli import pair_command

    defaults = {p.name: p.default for p in pair_command.params}
    query = PairQuery()
    assert (query.min_population, query.capacity, query.proposing) == (
        defaults["min_population"], defaults["capacity"], defaults["proposing"])
    assert PairQuery.parse([("stable", "b"), ("capacity", "2")]) == PairQuery(capacity=2,
                                                                             proposing="b")


@pytest.mark.parametrize(("items", "message"), [
    ([("stable", "c")], "stable (--stable): 'c' is not one of 'a', 'b'."),
    ([("cities_a", "/etc/passwd")], "unknown parameter 'cities_a'"),
    ([("capacity", "0")], "capacity (--capacity): 0 is not in the range x>=1."),
])
def test_pair_errors(items, message):
    with pytest.raises(InputError) as error:
        PairQuery.parse(items)
    assert str(error.value).startswith(message)
