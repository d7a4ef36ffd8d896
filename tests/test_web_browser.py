"""The city page in headless Chromium: the map draws real country shapes, the query, a line per
match and their labels, and every match card is there; a screenshot is saved under tmp_path."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
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
