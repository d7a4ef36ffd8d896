"""The HTML report (matcher.programme.report): self-contained, deterministic, every pair on the web
app's map, names escaped, no scroll boxes; drawn from a file:// URL in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from pairing_factories import make_bilateral_model_dir

from matcher.api import Matcher
from matcher.errors import InputError
from matcher.places.lookup import CityRecord
from matcher.programme import pairing, report

BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")
# the only addresses in the report: the SVG namespace, and the vendored scripts' licence banners
KNOWN_URLS = {"http://www.w3.org/2000/svg", "https://d3js.org/d3-array/",
              "https://d3js.org/d3-geo/", "https://github.com/topojson/topojson-client"}


@pytest.fixture(scope="module")
def programme(tmp_path_factory) -> pairing.Programme:
    model_dir = make_bilateral_model_dir(tmp_path_factory.mktemp("report") / "v1")
    return pairing.pair_countries(Matcher.load(model_dir), "GB", "KR")


def hand_made() -> pairing.Programme:
    """Two cities a side, names that need escaping, one pair in each matching."""
    a = [CityRecord(0, 1, "Fish & <Chips>", "GB", "ENG", 200_000),
         CityRecord(1, 2, "Leeds", "GB", "ENG", 800_000)]
    b = [CityRecord(2, 3, 'Su"won', "KR", "41", 1_200_000),
         CityRecord(3, 4, "Ulsan", "KR", "31", 1_100_000)]
    pair = pairing.PairedCities(a[0], b[0], 8900.0, 0.8, 40.0, 0.7, 0.9, 50.0, 60.0, 70.0,
                                False, ("similar <size>",))
    matching = pairing.Matching("assignment", None, (pair,), 0.8, 0.8, (), ("Leeds",),
                                ("Ulsan",))
    return pairing.Programme(
        "GB", "KR", 1, False, "population >= 100,000", "population >= 100,000", tuple(a),
        tuple(b), ((a[1], b[1]),), matching,
        pairing.Matching("stable", "a", (pair,), 0.8, 0.8, (), ("Leeds",), ("Ulsan",)),
        {1: (51.5, -0.1), 2: (53.8, -1.5), 3: (37.3, 127.0), 4: (35.5, 129.3)})


def map_data(html: str, method: str) -> dict:
    block = html.split(f'<script type="application/json" id="map-{method}-data">')[1]
    return json.loads(block.split("</script>")[0])


def test_report_is_self_contained_and_deterministic(programme):
    html = report.render_html(programme)
    assert html == report.render_html(programme)
    assert set(re.findall(r"https?://[^\s\"')]+", html)) <= KNOWN_URLS
    assert not re.search(r"<script[^>]*\bsrc=|<link\b|@import|<img\b|@font-face", html)
    assert html.count('<svg class="worldmap" id=') == 2  # one map per matching
    assert '<script type="application/json" id="citytwin-atlas">{"type":"Topology"' in html
    assert "max-height" not in html and "overflow: auto" not in html  # no scroll boxes


def test_every_pair_is_a_link_of_its_map_in_one_colour_scale(programme):
    html = report.render_html(programme)
    legends = set()
    for matching in (programme.assignment, programme.stable):
        data = map_data(html, matching.method)
        assert sorted((link["from"], link["to"]) for link in data["links"]) == sorted(
            (p.a.geonameid, p.b.geonameid) for p in matching.pairs)
        panels = {city["id"]: city["panel"] for city in data["cities"]}
        assert all(panels[c.geonameid] == 0 for c in programme.candidates_a)
        assert all(panels[c.geonameid] == 1 for c in programme.candidates_b)
        legends.add(json.dumps(data["legend"], sort_keys=True))
        assert html.count('data-pair="') >= len(matching.pairs)
    assert len(legends) == 1  # both maps and both tables share one scale


def test_names_are_escaped_and_table_lists_each_pair():
    html = report.render_html(hand_made())
    assert "Fish &amp; &lt;Chips&gt;" in html and "<Chips>" not in html
    assert "Su&#34;won" in html and "similar &lt;size&gt;" in html
    assert html.count('<tr data-pair="1-3">') == 2
    assert "Existing GB–KR partnerships (1,\n    kept out of the new pairs):" in html
    assert "Leeds – Ulsan" in html


def test_unwritable_report_path(tmp_path):
    target = tmp_path / "missing-dir" / "report.html"
    with pytest.raises(InputError, match=r"--html .*report.html: cannot write the report"):
        report.write_report(hand_made(), target)


@pytest.mark.browser
def test_report_renders_in_headless_chromium(programme, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    page = report.write_report(programme, tmp_path / "report.html")
    result = subprocess.run(
        [browser, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=8000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    for matching in (programme.assignment, programme.stable):
        svg = re.search(rf'<svg class="worldmap" id="map-{matching.method}"[^>]*>', dom).group(0)
        assert 'data-drawn="1"' in svg, svg  # drawn from the inline shapes: no fetch from file://
        assert int(re.search(r'data-countries="(\d+)"', svg).group(1)) >= 2
        section = dom.split(f'id="map-{matching.method}"')[1].split("</svg>")[0]
        drawn = re.findall(r'class="link" stroke="[^"]+" data-link="(\d+-\d+)"', section)
        assert sorted(drawn) == sorted(f"{p.a.geonameid}-{p.b.geonameid}"
                                       for p in matching.pairs)
