"""A self-contained HTML report of a bilateral programme: a map of both countries' cities with a
line per pair coloured by score, and the table beside it.

One file, no server, no network: inline CSS and SVG (each country in its own panel, drawn with an
equirectangular projection scaled by cos(latitude)), no external scripts, fonts or tiles. A few
lines of inline script only record, once the page is laid out, how big each map and line was
drawn (data-rendered-* and data-drawn attributes) so a headless browser test can check it.
Same programme in, same bytes out.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from matcher.lookup import population_text
from matcher.pairing import Matching, PairedCities, Programme

WIDTH, HEIGHT = 780, 470
PANEL_WIDTH = 300  # each country's panel; the lines cross the gap between them
PAD = 26
LABELLED = 8  # the most populous cities of each side get a name on the map
# viridis-like: yellow for the weakest pair shown, deep purple for the strongest
PALETTE = ((230, 200, 20), (94, 201, 98), (33, 145, 140), (59, 82, 139), (68, 1, 84))


def colour(t: float) -> str:
    """Hex colour at t in 0..1 along PALETTE."""
    t = min(max(t, 0.0), 1.0) * (len(PALETTE) - 1)
    k = min(int(t), len(PALETTE) - 2)
    f = t - k
    rgb = (round(a + f * (b - a)) for a, b in zip(PALETTE[k], PALETTE[k + 1], strict=True))
    return "#" + "".join(f"{v:02x}" for v in rgb)


class Projection:
    """Equirectangular lat/lon -> panel pixels, fitted to the cities' box, aspect preserved."""

    def __init__(self, lats: list[float], lons: list[float], left: float, width: float) -> None:
        lat0, lat1 = min(lats), max(lats)
        lon0, lon1 = min(lons), max(lons)
        self.kx = math.cos(math.radians((lat0 + lat1) / 2))
        span_x = max((lon1 - lon0) * self.kx, 0.5)
        span_y = max(lat1 - lat0, 0.5)
        self.scale = min((width - 2 * PAD) / span_x, (HEIGHT - 2 * PAD - 30) / span_y)
        self.x0 = left + (width - span_x * self.scale) / 2 - (lon0 * self.kx) * self.scale
        self.y0 = 30 + (HEIGHT - 30 - span_y * self.scale) / 2 + lat1 * self.scale
        self.box = (lat0, lat1, lon0, lon1)

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        return self.x0 + lon * self.kx * self.scale, self.y0 - lat * self.scale


def _graticule(p: Projection, left: float, width: float) -> list[str]:
    """Faint lines every whole degree over the panel."""
    lat0, lat1, lon0, lon1 = p.box
    out = []
    for lat in range(math.floor(lat0) - 1, math.ceil(lat1) + 2):
        _, y = p(lat, lon0)
        if 30 <= y <= HEIGHT:
            out.append(f'<line class="grid" x1="{left:.1f}" y1="{y:.1f}" '
                       f'x2="{left + width:.1f}" y2="{y:.1f}"/>')
    for lon in range(math.floor(lon0) - 2, math.ceil(lon1) + 3):
        x, _ = p(lat0, lon)
        if left <= x <= left + width:
            out.append(f'<line class="grid" x1="{x:.1f}" y1="30" x2="{x:.1f}" y2="{HEIGHT}"/>')
    return out


def _radius(population: int) -> float:
    return 2.0 + 1.6 * math.log10(max(population, 10_000) / 10_000)


def _map(programme: Programme, matching: Matching, low: float, high: float) -> str:
    """The SVG: both countries' candidate cities and one coloured line per pair."""
    cities = {"a": programme.candidates_a, "b": programme.candidates_b}
    coords = {side: {c.geonameid: c for c in group} for side, group in cities.items()}
    located = programme.coordinates
    panels = {"a": (0.0, programme.country_a), "b": (WIDTH - PANEL_WIDTH, programme.country_b)}
    projections = {}
    parts = [f'<svg class="map" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
             f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="map of the {matching.method} pairs">']
    for side, (left, code) in panels.items():
        ids = [g for g in coords[side] if g in located]
        p = Projection([located[g][0] for g in ids], [located[g][1] for g in ids], left,
                       PANEL_WIDTH)
        projections[side] = p
        parts.append(f'<rect class="panel" x="{left:.1f}" y="30" width="{PANEL_WIDTH}" '
                     f'height="{HEIGHT - 30}" rx="8"/>')
        parts.extend(_graticule(p, left, PANEL_WIDTH))
        parts.append(f'<text class="country" x="{left + PANEL_WIDTH / 2:.1f}" y="20">'
                     f'{escape(code)}</text>')
    for pair in sorted(matching.pairs, key=lambda p: (p.score, p.a.geonameid, p.b.geonameid)):
        (xa, ya), (xb, yb) = (projections[s](*located[c.geonameid])
                              for s, c in (("a", pair.a), ("b", pair.b)))
        t = 0.5 if high <= low else (pair.score - low) / (high - low)
        mid_x, mid_y = (xa + xb) / 2, (ya + yb) / 2 - 40
        parts.append(
            f'<path class="pair" d="M{xa:.1f},{ya:.1f} Q{mid_x:.1f},{mid_y:.1f} '
            f'{xb:.1f},{yb:.1f}" stroke="{colour(t)}" '
            f'data-pair="{pair.a.geonameid}-{pair.b.geonameid}" '
            f'data-matching="{matching.method}" data-score="{pair.score:.6f}">'
            f'<title>{escape(pair.a.name)} - {escape(pair.b.name)}: score {pair.score:.3f}, '
            f'compatibility {pair.compatibility:.1f}</title></path>')
    matched = {pair.a.geonameid for pair in matching.pairs} | {
        pair.b.geonameid for pair in matching.pairs}
    for side, group in cities.items():
        biggest = {c.geonameid for c in sorted(group, key=lambda c: (-c.population,
                                                                    c.geonameid))[:LABELLED]}
        for city in sorted(group, key=lambda c: (-c.population, c.geonameid)):
            if city.geonameid not in located:
                continue
            x, y = projections[side](*located[city.geonameid])
            kind = "city matched" if city.geonameid in matched else "city"
            parts.append(f'<circle class="{kind}" cx="{x:.1f}" cy="{y:.1f}" '
                         f'r="{_radius(city.population):.1f}"><title>{escape(city.name)}, '
                         f'{population_text(city.population)}</title></circle>')
            if city.geonameid in biggest:
                right = x > panels[side][0] + 0.7 * PANEL_WIDTH  # label inward near the edge
                parts.append(f'<text class="label" x="{x - 6 if right else x + 6:.1f}" '
                             f'y="{y + 3:.1f}" text-anchor="{"end" if right else "start"}">'
                             f'{escape(city.name)}</text>')
    parts.append(_legend(low, high))
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(low: float, high: float) -> str:
    stops = "".join(f'<stop offset="{k / (len(PALETTE) - 1):.2f}" stop-color="{colour(k / 4)}"/>'
                    for k in range(len(PALETTE)))
    x, y = WIDTH / 2 - 70, HEIGHT - 26
    return (f'<defs><linearGradient id="scale">{stops}</linearGradient></defs>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="140" height="8" fill="url(#scale)"/>'
            f'<text class="legend" x="{x:.1f}" y="{y + 20:.1f}">{low:.3f}</text>'
            f'<text class="legend" x="{x + 140:.1f}" y="{y + 20:.1f}" '
            f'text-anchor="end">{high:.3f}</text>'
            f'<text class="legend" x="{WIDTH / 2:.1f}" y="{y - 6:.1f}" '
            f'text-anchor="middle">pair score</text>')


def _table(programme: Programme, matching: Matching, low: float, high: float) -> str:
    """The pairs as an HTML table, each row with its line's colour."""
    a, b = escape(programme.country_a), escape(programme.country_b)
    head = (f"<tr><th></th><th>#</th><th>{a} city &ndash; {b} city</th><th>score</th>"
            '<th title="compatibility 0-100">compat</th>'
            '<th title="performance / appetite / synergies, 0-100">perf/app/syn</th>'
            "</tr>")
    rows = []
    for n, pair in enumerate(matching.pairs, start=1):
        t = 0.5 if high <= low else (pair.score - low) / (high - low)
        rows.append(_row(n, pair, colour(t)))
    return f'<table class="pairs">\n<thead>{head}</thead>\n<tbody>\n' + "\n".join(rows) + (
        "\n</tbody>\n</table>")


def _row(n: int, pair: PairedCities, swatch: str) -> str:
    names = (f'<span class="name">{escape(pair.a.name)} &ndash; {escape(pair.b.name)}</span>'
             f'<br><span class="km">{pair.distance_km:,.0f} km'
             f'{" &middot; already partners" if pair.existing else ""}</span>'
             f'<br><span class="why">{escape("; ".join(pair.reasons))}</span>')
    cells = [f'<span class="swatch" style="background:{swatch}"></span>', str(n), names,
             f"{pair.score:.3f}", f"{pair.compatibility:.1f}",
             f"{pair.performance:.0f} / {pair.appetite:.0f} / {pair.synergies:.0f}"]
    right = {1, 3, 4, 5}
    tds = "".join(f'<td class="num">{c}</td>' if i in right else f"<td>{c}</td>"
                  for i, c in enumerate(cells))
    return f'<tr data-pair="{pair.a.geonameid}-{pair.b.geonameid}">{tds}</tr>'


def _section(programme: Programme, matching: Matching) -> str:
    scores = [pair.score for pair in matching.pairs]
    low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)
    if matching.method == "assignment":
        title = "Optimal assignment: maximum total compatibility"
    else:
        side = programme.country_a if matching.proposing == "a" else programme.country_b
        title = f"Stable matching: {escape(side)} cities propose"
    check = ("no blocking pair: no two cities would both rather have each other"
             if not matching.blocking_pairs
             else f"{len(matching.blocking_pairs)} blocking pairs (not stable)")
    summary = (f"{len(matching.pairs)} pairs &middot; total {matching.total:.3f} &middot; "
               f"mean {matching.mean:.3f} &middot; {check}")
    return (f'<section id="{matching.method}">\n<h2>{title}</h2>\n<p class="summary">{summary}'
            f'</p>\n<div class="layout">\n<div class="figure">\n'
            f"{_map(programme, matching, low, high)}\n</div>\n<div class=\"table\">\n"
            f"{_table(programme, matching, low, high)}\n</div>\n</div>\n</section>")


STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px;
       color: #1d2433; background: #f6f7fb; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 4px; }
p { margin: 4px 0; } .summary { color: #4b5568; }
.layout { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
.figure { flex: 0 0 auto; background: #fff; border-radius: 10px; padding: 8px;
          box-shadow: 0 1px 3px rgba(0,0,0,.12); }
.table { flex: 1 1 520px; max-height: 486px; overflow: auto; background: #fff;
         border-radius: 10px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e6e8ef; text-align: left;
         vertical-align: top; }
th { white-space: nowrap; }
th { position: sticky; top: 0; background: #eef0f6; } td.num { text-align: right; }
tbody tr:hover { background: #f3f0ff; }
.name { font-weight: 500; } .km, .why { color: #5b6478; font-size: 12px; }
td.num { white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; }
svg .panel { fill: #eef3f8; stroke: #c9d3df; } svg .grid { stroke: #dbe3ec; stroke-width: 1; }
svg .country { font-size: 15px; font-weight: 600; text-anchor: middle; fill: #1d2433; }
svg .pair { fill: none; stroke-width: 1.7; stroke-opacity: .8; }
svg .pair:hover { stroke-width: 4; stroke-opacity: 1; }
svg .city { fill: #fff; stroke: #6b7588; stroke-width: 1; }
svg .city.matched { fill: #1d2433; stroke: #fff; }
svg .label { font-size: 10.5px; fill: #2d3648; paint-order: stroke; stroke: #eef3f8;
             stroke-width: 3px; }
svg .legend { font-size: 11px; fill: #4b5568; }
"""

MEASURE = """
window.addEventListener("load", function () {
  document.querySelectorAll("svg.map").forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    svg.setAttribute("data-rendered-width", Math.round(box.width));
    svg.setAttribute("data-rendered-height", Math.round(box.height));
  });
  document.querySelectorAll("svg .pair").forEach(function (line) {
    var box = line.getBBox();
    line.setAttribute("data-drawn", box.width + box.height > 0 ? "1" : "0");
  });
});
"""


def render_html(programme: Programme) -> str:
    """The whole report as one HTML string (deterministic)."""
    a, b = escape(programme.country_a), escape(programme.country_b)
    existing = programme.existing
    fate = "allowed" if programme.include_existing else "kept out of the new pairs"
    if existing:
        listed = ", ".join(f"{escape(x.name)} &ndash; {escape(y.name)}" for x, y in existing)
        existing_line = f"Existing {a}&ndash;{b} partnerships ({len(existing)}, {fate}): {listed}"
    else:
        existing_line = f"No existing {a}&ndash;{b} partnerships in the model."
    intro = (f"{len(programme.candidates_a)} {a} cities ({escape(programme.selection_a)}) and "
             f"{len(programme.candidates_b)} {b} cities ({escape(programme.selection_b)}); up "
             f"to {programme.capacity} partner(s) per city. A pair's score (0&ndash;1) is the "
             "geometric mean of where each city ranks the other in its own list.")
    sections = "\n".join(_section(programme, m) for m in (programme.assignment,
                                                           programme.stable))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>Twin-city programme {a} &times; {b}</title>\n<style>{STYLE}</style>\n"
            f"<script>{MEASURE}</script>\n</head>\n<body>\n"
            f"<h1>Twin-city programme: {a} &times; {b}</h1>\n<p>{intro}</p>\n"
            f'<p class="summary">{existing_line}</p>\n{sections}\n</body>\n</html>\n')


def write_report(programme: Programme, path: Path) -> Path:
    """Write render_html(programme) to `path` (UTF-8); InputError if it cannot be written."""
    from matcher.errors import InputError

    try:
        Path(path).write_text(render_html(programme), encoding="utf-8")
    except OSError as error:
        raise InputError(f"--html {path}: cannot write the report ({error})") from error
    return Path(path)
