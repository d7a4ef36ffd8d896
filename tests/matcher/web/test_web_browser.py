"""The city page in headless Chromium: the map draws real country shapes, the query, a line per
match and their labels, and every match card is there; a screenshot is saved under tmp_path."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from fastapi import Request  # at module level: FastAPI resolves the route's annotations here
from pairing_factories import make_bilateral_model_dir

from matcher.api import Matcher
from matcher.web import create_app
from matcher.web.serve import background_server

BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--window-size=1280,1400", "--virtual-time-budget=10000")


def chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return browser


def run_browser(browser: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([browser, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.browser
def test_city_page_draws_map_and_cards(tmp_path):
    browser = chromium()
    model_dir = make_bilateral_model_dir(tmp_path / "models" / "v1")
    matches = Matcher.load(model_dir).recommend("Cardiff")
    with background_server(create_app(model_dir=model_dir)) as base:
        url = f"{base}/city/2653822"
        result = run_browser(browser, tmp_path, "--dump-dom", url)
        shot = tmp_path / "city.png"
        run_browser(browser, tmp_path, f"--screenshot={shot}", url)
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    svg = re.search(r'<svg class="worldmap" id="city-map"[^>]*>', dom).group(0)
    assert 'data-drawn="1"' in svg, svg
    countries = int(re.search(r'data-countries="(\d+)"', svg).group(1))
    assert countries > 20  # Europe and Korea's neighbours, at least
    assert dom.count('class="country"') == countries
    assert len(re.findall(r'<path d="M[^"]+" class="link"', dom)) == len(matches)
    assert int(re.search(r'data-labels="(\d+)"', svg).group(1)) >= 2  # at least two names fit
    assert dom.count('<article class="match card"') == len(matches)
    for match in matches:
        assert f'data-geonameid="{match.geonameid}"' in dom
    assert shot.exists() and shot.stat().st_size > 10_000


@pytest.mark.browser
def test_search_box_suggests_as_you_type(tmp_path):
    """static/search.js against /api/cities: typing 'Card' lists Cardiff, and an ambiguous
    name lists each candidate (the page types through a test-only route)."""
    from fastapi.responses import HTMLResponse

    browser = chromium()
    model_dir = make_bilateral_model_dir(tmp_path / "models" / "v1")
    app = create_app(model_dir=model_dir)

    @app.get("/typing/{text}", response_class=HTMLResponse)
    def typing(text: str) -> str:
        home = app.state.templates.get_template("home.html").render(
            request=None, examples=[], model_version="v1")
        return home.replace("</body>", (
            "<script>var box = document.querySelector('form.big input');"
            f"box.value = {json.dumps(text)};"
            "box.dispatchEvent(new Event('input'));</script></body>"))

    with background_server(app) as base:
        card = run_browser(browser, tmp_path, "--dump-dom", f"{base}/typing/Card").stdout
        newport = run_browser(browser, tmp_path, "--dump-dom", f"{base}/typing/Newport").stdout
    listed = re.findall(r'<li role="option"><b>([^<]+)</b><span>([^<]+)</span></li>', card)
    assert listed and listed[0][0] == "Cardiff" and "United Kingdom" in listed[0][1]
    options = re.findall(r'<li role="option"><b>Newport</b><span>([^<]+)</span></li>', newport)
    assert len(options) >= 2 and all("which one?" in o for o in options[:2])


@pytest.mark.browser
def test_city_page_with_themes_and_weights(tmp_path):
    """A link with theme= and weigh= draws the re-ranked cards and the map; typing a weight in
    its box writes the one `weigh` field the form sends (static/filters.js)."""
    from fastapi.responses import HTMLResponse

    from matcher.web import pages

    browser = chromium()
    model_dir = make_bilateral_model_dir(tmp_path / "models" / "v1")
    matcher = Matcher.load(model_dir)
    spec = matcher.make_filters(themes=["maritime"], weigh="performance=1,synergies=2")
    matches = matcher.recommendation("Cardiff", spec).matches
    app = create_app(model_dir=model_dir)

    @app.get("/typed-weight", response_class=HTMLResponse)
    def typed(request: Request) -> str:
        page = pages.city(request, "2653822").body.decode()
        return page.replace("</body>", (
            "<script>var box = document.querySelector('input[data-weigh=synergies]');"
            "box.value = '3'; box.dispatchEvent(new Event('input'));"
            "document.body.setAttribute('data-sent',"
            " document.querySelector('input[name=weigh]').value);</script></body>"))

    with background_server(app) as base:
        url = f"{base}/city/2653822?theme=maritime&weigh=performance=1,synergies=2"
        result = run_browser(browser, tmp_path, "--dump-dom", url)
        shot = tmp_path / "city-weighted.png"
        run_browser(browser, tmp_path, f"--screenshot={shot}", url)
        typed_dom = run_browser(browser, tmp_path, "--dump-dom", f"{base}/typed-weight").stdout
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'data-drawn="1"' in re.search(r'<svg class="worldmap" id="city-map"[^>]*>', dom).group(0)
    assert len(re.findall(r'<path d="M[^"]+" class="link"', dom)) == len(matches)
    cards = re.findall(r'<article class="match card" data-geonameid="(\d+)"', dom)
    assert cards == [str(m.geonameid) for m in matches]
    assert "Re-ranked by your weights (performance=1, synergies=2" in dom
    assert 'data-sent="synergies=3"' in typed_dom, typed_dom[-1500:]
    assert shot.exists() and shot.stat().st_size > 10_000
