"""The HTML report (matcher.report): self-contained, deterministic, every pair drawn."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from pairing_factories import make_bilateral_model_dir

from matcher import pairing, report
from matcher.api import Matcher
from matcher.errors import InputError
from matcher.lookup import CityRecord

BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")


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


def test_report_is_self_contained_and_deterministic(programme):
    html = report.render_html(programme)
    assert html == report.render_html(programme)
    urls = set(re.findall(r"https?://[^\s\"')]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    assert not re.search(r"<script[^>]*\bsrc=|<link\b|@import|<img\b|@font-face", html)
    assert html.count("<svg") == 2  # one map per matching


def test_every_pair_is_a_line_inside_the_map(programme):
    html = report.render_html(programme)
    for matching in (programme.assignment, programme.stable):
        lines = re.findall(rf'<path class="pair" d="M([\d.]+),([\d.]+) Q[^ ]+ ([\d.]+),([\d.]+)"'
                           rf'[^>]*data-pair="(\d+-\d+)" data-matching="{matching.method}"', html)
        assert sorted(line[4] for line in lines) == sorted(
            f"{p.a.geonameid}-{p.b.geonameid}" for p in matching.pairs)
        for xa, ya, xb, yb, _ in lines:
            assert 0 <= float(xa) <= report.PANEL_WIDTH  # A's end in A's panel
            assert report.WIDTH - report.PANEL_WIDTH <= float(xb) <= report.WIDTH
            assert 30 <= float(ya) <= report.HEIGHT and 30 <= float(yb) <= report.HEIGHT


def test_names_are_escaped_and_table_lists_each_pair():
    html = report.render_html(hand_made())
    assert "Fish &amp; &lt;Chips&gt;" in html and "<Chips>" not in html
    assert "Su&quot;won" in html and "similar &lt;size&gt;" in html
    assert html.count('<tr data-pair="1-3">') == 2
    assert "Existing GB&ndash;KR partnerships (1, kept out of the new pairs): Leeds" in html


def test_colour_scale_ends():
    assert report.colour(0.0) == "#e6c814"
    assert report.colour(1.0) == "#440154"
    assert report.colour(-3) == report.colour(0.0) and report.colour(7) == report.colour(1.0)


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
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    sizes = re.findall(r'data-rendered-width="(\d+)" data-rendered-height="(\d+)"', dom)
    assert len(sizes) == 2 and all(int(w) > 0 and int(h) > 0 for w, h in sizes)
    for matching in (programme.assignment, programme.stable):
        drawn = re.findall(rf'data-pair="(\d+-\d+)" data-matching="{matching.method}"'
                           rf'[^>]*data-drawn="1"', dom)
        assert sorted(drawn) == sorted(f"{p.a.geonameid}-{p.b.geonameid}"
                                       for p in matching.pairs)
