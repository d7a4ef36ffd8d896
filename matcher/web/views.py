"""What the pages show, shaped from the API's results: a city's profile card and the map's data.

The map data is plain JSON for `static/map.js`: panels (one projection each), cities (role, rank,
colour), links and one legend. Colours come from `colour` (below) over the page's range of
compatibility, so the cards, the map and the legend share one scale.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matcher import render
from matcher.columns import LEVEL_COUNTRY
from matcher.ranking import rank

# viridis-like: yellow for the weakest pair shown, deep purple for the strongest
PALETTE = ((230, 200, 20), (94, 201, 98), (33, 145, 140), (59, 82, 139), (68, 1, 84))


def colour(t: float) -> str:
    """Hex colour at t in 0..1 along PALETTE."""
    t = min(max(t, 0.0), 1.0) * (len(PALETTE) - 1)
    k = min(int(t), len(PALETTE) - 2)
    f = t - k
    rgb = (round(a + f * (b - a)) for a, b in zip(PALETTE[k], PALETTE[k + 1], strict=True))
    return "#" + "".join(f"{v:02x}" for v in rgb)

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
LEGEND_STOPS = 9
ROBUST_FROM = 20  # a colour scale over this many values or more ignores the outer 5% each side
MAP_PARTNERS = 40  # existing partners drawn as grey dots on a city's map
SPLIT_SPREAD_KM, SPLIT_DISTANCE_KM = 1500.0, 3000.0  # matches this close together, this far off:
# a panel of their own

# model column -> (label, source key); the order of the profile card
PROFILE_FIELDS = (
    ("population", "Population", "gazetteer"),
    ("country_name", "Country", "gazetteer"),
    ("admin1_code", "First-level region", "gazetteer"),
    ("is_capital", "Capital city", "gazetteer"),
    ("timezone", "Time zone", "gazetteer"),
    ("languages", "Languages of the country", "gazetteer"),
    ("partnership_count", "Partnerships on record", "partnerships"),
    ("partner_country_count", "Partner countries", "partnerships"),
    ("foreign_partner_share", "Share of partners abroad", "partnerships"),
    ("tags", "Themes (user tags)", "user"),
)
# model columns that are identifiers, encodings or repeats of the fields above
NOT_SHOWN = frozenset({
    "geonameid", "name", "asciiname", "alternatenames", "country_code", "lat", "lon",
    "continent", "log10_population", "population_band", "partnership_weight",
    "has_partnerships", "geo_cell", "is_candidate", "admin1_index", "degree",
    "partner_countries", "foreign_partner_count"})


def package_version() -> str:
    """citytwin's installed version (the footer, /api/version and the report)."""
    from importlib import metadata

    try:
        return metadata.version("citytwin")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Fact:
    """One line of a profile card."""

    label: str
    value: str
    source: str


@dataclass(frozen=True)
class Profile:
    """A city's card: who it is, and what the data says about it, with the sources."""

    geonameid: int
    name: str
    country_code: str
    country_name: str
    lat: float
    lon: float
    population: int
    is_candidate: bool
    facts: tuple[Fact, ...]


def _format(value: object, column: str) -> str | None:
    """Display text of a cell; None for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or type(value).__name__ == "bool_" or column.startswith(
            ("is_", "has_")):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value.replace(";", ", ") or None
    number = float(value)
    if column.endswith("_share"):
        return f"{100 * number:.0f}%"
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.3g}" if abs(number) < 1000 else f"{number:,.0f}"


@functools.lru_cache(maxsize=8)
def sources(model_path: str) -> dict[str, str]:
    """Where the profile's facts come from, read from the model's manifest."""
    try:
        manifest = json.loads((Path(model_path) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    data = manifest.get("data", {}) if isinstance(manifest, dict) else {}
    data = data if isinstance(data, dict) else {}
    gazetteer = data.get("gazetteer")
    source = gazetteer.get("source") if isinstance(gazetteer, dict) else None
    inputs = data.get("inputs") if isinstance(data.get("inputs"), list) else []
    names = ", ".join(str(i.get("name")) for i in inputs if isinstance(i, dict) and i.get("name"))
    return {"gazetteer": f"GeoNames ({source})" if source else "GeoNames",
            "partnerships": f"partnerships: {names}" if names else "the partnership data",
            "user": "user tags of the data build",
            "indicators": "indicator files of the data build"}


def profile(loaded, row: int) -> Profile:
    """The profile card of one model row: the gazetteer and partnership facts, then each
    dimension's open-data values as matcher.profile describes them (label, unit, source, and
    whether the value is the city's own or its country's), then any other indicator column."""
    from matcher.profile import LEVEL_COLUMNS, city_profile

    model = loaded.matcher.model
    where = sources(str(loaded.path))
    facts = []
    for column, label, source in PROFILE_FIELDS:
        if model.has_column(column):
            text = _format(model.column(column)[row], column)
            if column == "admin1_code" and text is not None:
                text = loaded.matcher.lookup.record(row).region  # 'Wales', not '02'
            if text is not None:
                facts.append(Fact(label, text, where[source]))
    values = {column: model.column(column)[row] for column in model.cities.columns}
    code = str(loaded.matcher.evidence.country_codes[row])
    country_name = loaded.matcher.lookup.country_names.get(code, code)
    shown = {column for column, _, _ in PROFILE_FIELDS}
    described = set(LEVEL_COLUMNS)
    for dimension_values in city_profile(values).values():
        for value in dimension_values:
            described.add(value.name)
            if value.name in shown:
                continue
            text = _profile_text(value)
            if text is not None:
                country = value.level == LEVEL_COUNTRY  # said on the card, not just the sources
                label = f"{value.label} ({country_name}, country level)" if country \
                    else value.label
                facts.append(Fact(label, text, value.source + (" (country level)"
                                                                if country else "")))
    known = {column for column, _, _ in PROFILE_FIELDS} | NOT_SHOWN | described
    for column in model.cities.columns:
        if column not in known:
            text = _format(model.column(column)[row], column)
            if text is not None:
                facts.append(Fact(column.replace("_", " "), text, where["indicators"]))
    ev, lookup = loaded.matcher.evidence, loaded.matcher.lookup
    code = str(ev.country_codes[row])
    return Profile(
        geonameid=int(model.geonameids[row]), name=ev.names[row], country_code=code,
        country_name=lookup.country_names.get(code, code), lat=float(ev.lat[row]),
        lon=float(ev.lon[row]), population=int(ev.populations[row]),
        is_candidate=bool(model.arrays.candidate_mask[row]), facts=tuple(facts))


def _profile_text(value) -> str | None:
    """A profile value as the card prints it: a number with its unit, themes joined."""
    if value.value is None or value.value == ():
        return None
    if isinstance(value.value, tuple):
        return ", ".join(value.value)
    if isinstance(value.value, bool):
        return "yes" if value.value else "no"
    if isinstance(value.value, int | float):
        number = float(value.value)
        if value.unit == "year":
            return str(int(number))
        text = f"{int(number):,}" if number.is_integer() else (
            f"{number:,.3g}" if abs(number) < 1000 else f"{number:,.0f}")
        unit = value.unit
        if unit == "$":
            return f"${text}"
        return text if unit in ("", "year") else f"{text} {unit}"
    return str(value.value)


@dataclass(frozen=True)
class Scale:
    """One colour scale per page: compatibility from `low` (yellow) to `high` (purple)."""

    low: float
    high: float

    @classmethod
    def over(cls, values: list[float]) -> Scale:
        """The range of the values; with ROBUST_FROM or more, their 5th to 95th percentile
        (one outlier would leave every other pair one colour; the ends saturate)."""
        if not values:
            return cls(0.0, 100.0)
        ordered = sorted(values)
        if len(ordered) >= ROBUST_FROM:
            low, high = _quantile(ordered, 0.05), _quantile(ordered, 0.95)
        else:
            low, high = ordered[0], ordered[-1]
        if high - low < 0.05:  # one value (compatibility has one decimal): a band around it
            low, high = max(0.0, low - 0.5), high + 0.5
        return cls(low, high)

    def colour(self, value: float) -> str:
        return colour((value - self.low) / (self.high - self.low))

    def legend(self, title: str) -> dict:
        stops = [colour(i / (LEGEND_STOPS - 1)) for i in range(LEGEND_STOPS)]
        return {"title": title, "low": round(self.low, 1), "high": round(self.high, 1),
                "stops": stops}


def score_text(value: float | None) -> str:
    """A 0-100 sub-score as a card shows it: render.score_text, with a typographic dash."""
    return render.score_text(value, missing="–")


def ink(background: str) -> str:
    """Dark or white text, whichever reads on a `#rrggbb` background (relative luminance)."""
    r, g, b = (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#1d2330" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.55 else "#ffffff"


def _quantile(ordered: list[float], q: float) -> float:
    """Linear-interpolated quantile of sorted values."""
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def _city(geonameid: int, name: str, country: str, lat: float, lon: float, role: str,
          panel: int = 0, rank: int | None = None, colour_: str | None = None,
          population: int = 0) -> dict:
    return {"id": int(geonameid), "name": name, "country": country, "lat": float(lat),
            "lon": float(lon), "role": role, "panel": panel, "rank": rank, "colour": colour_,
            "ink": ink(colour_) if colour_ else None,
            "population": int(population)}


def _centre(lats: np.ndarray, lons: np.ndarray) -> tuple[float, float]:
    """The spherical mean of points (degrees)."""
    phi, lam = np.radians(lats), np.radians(lons)
    x, y, z = (np.mean(np.cos(phi) * np.cos(lam)), np.mean(np.cos(phi) * np.sin(lam)),
               np.mean(np.sin(phi)))
    return float(np.degrees(np.arctan2(z, np.hypot(x, y)))), float(np.degrees(np.arctan2(y, x)))


def split_panels(card: Profile, matches) -> tuple[int, int] | None:
    """(query's panel, matches' panel) when the matches cluster far from the query (Sejong's
    British matches): one panel each, west on the left, so the cluster is not a dot on a world
    map; None for one panel."""
    if len(matches) < 2:
        return None
    lats = np.array([m.lat for m in matches])
    lons = np.array([m.lon for m in matches])
    lat, lon = _centre(lats, lons)
    spread = float(rank.haversine_km(lat, lon, lats, lons).max())
    away = float(rank.haversine_km(card.lat, card.lon, np.array([lat]), np.array([lon]))[0])
    if spread > SPLIT_SPREAD_KM or away < SPLIT_DISTANCE_KM:
        return None
    east = ((lon - card.lon + 540) % 360) - 180 > 0  # the matches lie east of the query
    return (0, 1) if east else (1, 0)


def city_map(loaded, card: Profile, result, scale: Scale) -> dict:
    """Map data of a city page: the query, its matches with a line each, its partners grey."""
    ev = loaded.matcher.evidence
    split = split_panels(card, result.matches)
    home, away = split if split else (0, 0)
    cities = [_city(card.geonameid, card.name, card.country_code, card.lat, card.lon, "query",
                    panel=home, population=card.population)]
    for partner in result.existing_partners[:MAP_PARTNERS]:
        cities.append(_city(partner.geonameid, partner.name, partner.country_code,
                            float(ev.lat[partner.row]), float(ev.lon[partner.row]), "partner",
                            panel=home, population=partner.population))
    links = []
    for match in result.matches:
        shade = scale.colour(match.compatibility)
        cities.append(_city(match.geonameid, match.name, match.country_code, match.lat,
                            match.lon, "match", panel=away, rank=match.rank, colour_=shade,
                            population=match.population))
        links.append({"from": card.geonameid, "to": match.geonameid, "colour": shade,
                      "rank": match.rank})
    panels = [{"title": ""}]
    if split:
        titles = {home: card.name, away: f"its matches, {_distance_words(card, result.matches)}"}
        weights = {home: 1, away: 2}  # the matches get the room
        panels = [{"title": titles[i], "weight": weights[i]} for i in (0, 1)]
    return {"panels": panels, "cities": cities, "links": links,
            "legend": scale.legend("compatibility (0-100)"),
            "roles": {"query": card.name, "match": "recommended partner (number = rank)",
                      "partner": "existing partner"}}


def _distance_words(card: Profile, matches) -> str:
    """'8,800-9,100 km away': how far the clustered matches are."""
    km = [m.distance_km for m in matches]
    low, high = (round(min(km), -2), round(max(km), -2))
    return f"{low:,.0f} km away" if low == high else f"{low:,.0f}-{high:,.0f} km away"


def pair_map(loaded, explanation) -> dict:
    """Map data of a pair page: the two cities and the line between them."""
    ev = loaded.matcher.evidence
    q, p = explanation.query, explanation.partner
    return {"panels": [{"title": ""}],
            "cities": [_city(q["geonameid"], q["name"], q["country_code"], ev.lat[q["row"]],
                             ev.lon[q["row"]], "query", population=q["population"]),
                       _city(p["geonameid"], p["name"], p["country_code"], ev.lat[p["row"]],
                             ev.lon[p["row"]], "match", colour_="#3b528b",
                             population=p["population"])],
            "links": [{"from": q["geonameid"], "to": p["geonameid"], "colour": "#3b528b"}],
            "legend": None,
            "roles": {"query": q["name"], "match": p["name"]}}


def programme_scale(programme) -> Scale:
    """One scale over both matchings of a programme."""
    return Scale.over([pair.compatibility for matching in (programme.assignment,
                                                           programme.stable)
                       for pair in matching.pairs])


def programme_map(programme, matching, scale: Scale) -> dict:
    """Map data of one matching: country A's cities on the left panel, B's on the right."""
    paired = {pair.a.geonameid for pair in matching.pairs} | {
        pair.b.geonameid for pair in matching.pairs}
    cities = []
    for panel, candidates in ((0, programme.candidates_a), (1, programme.candidates_b)):
        for city in candidates:
            lat, lon = programme.coordinates[city.geonameid]
            cities.append(_city(city.geonameid, city.name, city.country_code, lat, lon,
                                "match" if city.geonameid in paired else "candidate",
                                panel=panel, population=city.population))
    numbers: dict[int, list[int]] = {}
    shades: dict[int, str] = {}
    links = []
    for number, pair in enumerate(matching.pairs, start=1):
        shade = scale.colour(pair.compatibility)
        for city in (pair.a, pair.b):
            numbers.setdefault(city.geonameid, []).append(number)
            shades.setdefault(city.geonameid, shade)  # coloured as its first pair in the table
        links.append({"from": pair.a.geonameid, "to": pair.b.geonameid, "colour": shade,
                      "rank": number})
    for city in cities:
        if city["id"] in numbers:
            mine = numbers[city["id"]]
            city["rank"], city["colour"] = mine[0], shades[city["id"]]
            city["ink"] = ink(city["colour"])
            if len(mine) > 1:  # capacity above 1: the label names every pair
                city["label"] = f"{city['name']} ({', '.join(map(str, mine))})"
    return {"panels": [{"title": programme.country_a}, {"title": programme.country_b}],
            "cities": cities, "links": links, "legend": scale.legend("compatibility (0-100)"),
            "roles": {"match": "paired city (number = pair in the table)",
                      "candidate": "candidate left unpaired"}}
