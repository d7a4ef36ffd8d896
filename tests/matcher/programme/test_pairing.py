"""Bilateral programmes (matcher.programme.pairing) : scores, countries, city files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pairing_factories import make_bilateral_model_dir

from matcher.api import Matcher
from matcher.errors import InputError
from matcher.places.lookup import CityLookup
from matcher.programme import pairing
from matcher.ranking import rank

# ----------------------------------------------------------------- on a tiny model


@pytest.fixture(scope="module", params=[0, 8], ids=["stage-one", "stage-two+admin1"])
def matcher(tmp_path_factory, request) -> Matcher:
    return Matcher.load(make_bilateral_model_dir(tmp_path_factory.mktemp("pair") / "v1",
                                                 refine_depth=request.param,
                                                 admin1=request.param > 0))


def test_compatibility_is_rank_mutual_score_pair_by_pair(matcher):
    model = matcher.model
    rows_a = pairing.candidate_rows(model, matcher.lookup, "GB", 100_000)
    rows_b = pairing.candidate_rows(model, matcher.lookup, "KR", 100_000)
    compat = pairing.compatibility(model, rows_a, rows_b)
    for i, a in enumerate(rows_a):
        forward = model.scores(a)
        for j, b in enumerate(rows_b):
            backward = model.scores(b)
            fa = model.percentile_of(np.array([a]), np.array([forward[b]]))
            rb = model.percentile_of(np.array([b]), np.array([backward[a]]))
            # float32 scores: a block and a single row may differ in the last bits
            assert compat.forward[i, j] == pytest.approx(forward[b], abs=1e-5)
            assert compat.backward[j, i] == pytest.approx(backward[a], abs=1e-5)
            assert compat.mutual[i, j] == pytest.approx(rank.combine_sides(fa, rb, True)[0],
                                                        abs=1e-4)
            assert compat.existing[i, j] == (b in model.partners_of(a))
    assert not (compat.allowed & compat.existing).any()
    assert (pairing.compatibility(model, rows_a, rows_b, include_existing=True).allowed
            == np.isfinite(compat.mutual)).all()


def test_programme_between_uk_and_korea(matcher):
    result = pairing.pair_countries(matcher, "United Kingdom", "Republic of Korea")
    assert (result.country_a, result.country_b) == ("GB", "KR")
    assert {c.country_code for c in result.candidates_a} == {"GB"}
    assert min(c.population for c in result.candidates_b) >= 100_000
    links = {(a.name, b.name) for a, b in result.existing}
    assert links == {("London", "Seoul"), ("Bristol", "Busan"), ("Manchester", "Cheongju"),
                     ("Newport", "Daejeon")}
    for matching in (result.assignment, result.stable):
        pairs = {(p.a.name, p.b.name) for p in matching.pairs}
        assert not pairs & links  # existing partnerships are kept out by default
        assert len(pairs) == min(len(result.candidates_a), len(result.candidates_b))
        assert matching.total == pytest.approx(sum(p.score for p in matching.pairs), abs=1e-5)
        assert matching.mean == pytest.approx(matching.total / len(pairs), abs=1e-6)
        assert [p.score for p in matching.pairs] == sorted(
            (p.score for p in matching.pairs), reverse=True)
        for p in matching.pairs:
            assert 0 < p.score <= 1 and 0 <= p.compatibility <= 100 and p.reasons
            assert all(0 <= v <= 100 for v in (p.performance, p.appetite, p.synergies))
    assert result.stable.blocking_pairs == ()
    assert result.assignment.total >= result.stable.total - 1e-9
    assert result.to_dict() == pairing.pair_countries(matcher, "UK", "Korea").to_dict()


def test_include_existing_and_capacity(matcher):
    result = pairing.pair_countries(matcher, "KR", "GB", include_existing=True, capacity=2,
                                    stable="b")
    assert result.stable.proposing == "b" and result.stable.blocking_pairs == ()
    for matching in (result.assignment, result.stable):
        loads = pd.Series([p.a.name for p in matching.pairs]).value_counts()
        assert loads.max() <= 2
    # Seoul-London is the planted best pair and may now be chosen again
    seoul_london = [p for p in result.assignment.pairs if {p.a.name, p.b.name}
                    == {"Seoul", "London"}]
    assert all(p.existing for p in seoul_london)


@pytest.mark.parametrize("text", ["GB", "gb", "UK", "United Kingdom", "Great Britain"])
def test_uk_aliases(matcher, text):
    assert pairing.resolve_side(matcher.lookup, text, "COUNTRY_A") == ("GB", None)


@pytest.mark.parametrize(("text", "region"), [("England", "ENG"), ("Scotland", "SCT"),
                                              ("Wales", "WLS"), ("Northern Ireland", "NIR")])
def test_a_nation_narrows_its_side_to_that_region(matcher, text, region):
    assert pairing.resolve_side(matcher.lookup, text, "COUNTRY_A") == ("GB", region)


@pytest.mark.parametrize("text", ["KR", "Korea", "South Korea", "Republic of Korea"])
def test_korea_aliases(matcher, text):
    assert pairing.resolve_side(matcher.lookup, text, "COUNTRY_B") == ("KR", None)


def test_unknown_or_identical_countries(matcher):
    with pytest.raises(InputError, match="COUNTRY_A: unknown country 'Atlantis'"):
        pairing.pair_countries(matcher, "Atlantis", "KR")
    with pytest.raises(InputError, match="COUNTRY_A and COUNTRY_B are both GB"):
        pairing.pair_countries(matcher, "England", "UK")
    with pytest.raises(InputError, match="no GB cities with population >= 50,000,000 in the model; "
                       "lower --min-population or list cities with --cities-a"):
        pairing.pair_countries(matcher, "GB", "KR", min_population=50_000_000)


def test_pair_wales_korea_uses_welsh_cities_only(matcher):
    """Regression (issue 15): `twin pair Wales KR` silently used every UK city."""
    result = pairing.pair_countries(matcher, "Wales", "KR", min_population=0)
    assert {c.name for c in result.candidates_a} == {"Cardiff", "Newport"}
    assert result.selection_a == "in Wales, population >= 0"
    assert all(p.a.admin1 == "WLS" for p in result.assignment.pairs)


def test_country_rows_narrow_to_a_region():
    frame = pd.DataFrame({
        "geonameid": [1, 2, 3, 4, 5], "name": ["Leeds", "Glasgow", "Cardiff", "Belfast", "Lyon"],
        "country_code": ["GB", "GB", "GB", "GB", "FR"],
        "admin1_code": ["ENG", "SCT", "WLS", "NIR", "84"], "population": [500_000] * 5})
    lookup = CityLookup.from_frame(frame)
    assert pairing.country_rows(lookup, "GB").tolist() == [0, 1, 2, 3]
    assert pairing.country_rows(lookup, "GB", "WLS").tolist() == [2]
    assert pairing.country_rows(lookup, "FR").tolist() == [4]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_city_files(matcher, tmp_path):
    good = write(tmp_path / "gb.txt",
                 "# our shortlist\nCardiff\n\nBristol, UK\ngeonames:2643123\n  Newport \n")
    korean = write(tmp_path / "kr.txt", "Daejeon\nSejong, KR\n")
    result = pairing.pair_countries(matcher, "GB", "KR", cities_a=good, cities_b=korean)
    # "Newport" alone is ambiguous (GB, US), but in a file of GB cities it means Newport, GB
    assert [c.name for c in result.candidates_a] == ["Cardiff", "Bristol", "Manchester", "Newport"]
    assert result.candidates_a[-1].geonameid == 2641598
    assert [c.name for c in result.candidates_b] == ["Daejeon", "Sejong"]
    assert result.selection_a == f"listed in {good}"
    assert len(result.assignment.pairs) == 2


@pytest.mark.parametrize(("text", "message"), [
    ("Cardiff\nAtlantis Qity\n", "line 2: no city called 'Atlantis Qity'"),
    ("Cardiff\n\nLondon, CA\n", "line 3: London is in CA, not GB"),
    ("Seoul\n", "line 1: Seoul is in KR, not GB; list only GB cities in this file"),
    ("Cardiff\ncardiff, gb\n", "line 2: Cardiff is already listed on line 1"),
    ("# nothing\n\n", "no cities listed"),
])
def test_bad_city_file_lines_name_file_and_line(matcher, tmp_path, text, message):
    path = write(tmp_path / "cities.txt", text)
    with pytest.raises(InputError) as error:
        pairing.pair_countries(matcher, "GB", "KR", cities_a=path)
    assert str(error.value).startswith(f"--cities-a {path}")
    assert message in str(error.value)


def test_missing_city_file(matcher, tmp_path):
    with pytest.raises(InputError, match=r"--cities-b .*missing.txt: cannot read the file"):
        pairing.pair_countries(matcher, "GB", "KR", cities_b=tmp_path / "missing.txt")


def test_name_ambiguous_outside_the_country_still_asks(matcher, tmp_path):
    path = write(tmp_path / "kr.txt", "Daejeon\nNewport\n")  # no Newport in KR: still ambiguous
    with pytest.raises(InputError, match="line 2: 'Newport' matches 2 cities"):
        pairing.pair_countries(matcher, "GB", "KR", cities_b=path)


def test_regression_a_clause_on_most_pairs_is_said_once_for_the_matching(matcher):
    """Issue 16: "GDP per head (PPP) GB $62k, KR $61k" stood on every pair of `twin pair GB
    KR`: reasons were made one query at a time, so no clause was ever common to a list."""
    result = pairing.pair_countries(matcher, "GB", "KR")
    matching = result.assignment
    assert len(matching.pairs) >= 3
    assert matching.said_once
    for clause in matching.said_once:
        assert not any(clause in p.reasons for p in matching.pairs)
    assert matching.to_dict()["said_once"] == list(matching.said_once)
