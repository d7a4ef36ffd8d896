"""A self-contained HTML report of a bilateral programme (`twin pair --html`): the web app's
programme sections (matcher/web/templates/_matching.html), each matching as a map of real country
shapes and a full-width table, in one file that needs no server and no network.

The map is the web app's own (static/map.js with d3-geo, topojson-client and the Natural Earth
shapes of world-atlas, all inlined), so the report and `/programme` draw the same map with one
colour scale for both matchings. The tables are not scroll boxes: the report prints on paper
(the stylesheet's print rules keep rows and maps whole). Same programme in, same bytes out.
"""

from __future__ import annotations

import functools
from pathlib import Path

from matcher.programme.pairing import Programme

REPORT_ATLAS = "50m"  # the panels zoom to one country each: the finer Natural Earth shapes


@functools.lru_cache(maxsize=1)
def _assets() -> dict[str, str]:
    """The stylesheet, scripts and country shapes the report inlines, read from the package."""
    from matcher.web.views import STATIC

    vendor = STATIC / "vendor"

    def read(path: Path) -> str:
        return path.read_text(encoding="utf-8")

    return {"css": read(STATIC / "app.css"), "map": read(STATIC / "map.js"),
            "d3_array": read(vendor / "d3-array.min.js"), "d3_geo": read(vendor / "d3-geo.min.js"),
            "topojson": read(vendor / "topojson-client.min.js"),
            "atlas": read(vendor / f"countries-{REPORT_ATLAS}.json").strip(),
            "atlas_name": f"countries-{REPORT_ATLAS}"}


def render_html(programme: Programme, model_version: str | None = None) -> str:
    """The whole report as one HTML string (deterministic); `model_version` names the model
    version it came from."""
    import jinja2

    from matcher.web import views

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(views.TEMPLATES)),
                                     autoescape=True, keep_trailing_newline=True)
    environment.filters["ink"] = views.ink
    environment.filters["score"] = views.score_text
    scale = views.programme_scale(programme)
    matchings = (programme.assignment, programme.stable)
    return environment.get_template("report.html").render(
        programme=programme, assets=_assets(), links=False, package_version=views.package_version(),
        model_version=model_version,
        maps={m.method: views.programme_map(programme, m, scale) for m in matchings},
        colours={m.method: [scale.colour(p.compatibility) for p in m.pairs] for m in matchings})


def write_report(programme: Programme, path: Path, model_version: str | None = None) -> Path:
    """Write render_html(programme) to `path` (UTF-8); InputError if it cannot be written."""
    from matcher.errors import InputError

    try:
        Path(path).write_text(render_html(programme, model_version), encoding="utf-8")
    except OSError as error:
        raise InputError(f"--html {path}: cannot write the report ({error})") from error
    return Path(path)
