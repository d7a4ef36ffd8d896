"""The HTML pages: home, city, pair, programme, the API docs, and error pages.

Every page is rendered by a Jinja2 template with autoescaping; the map's data goes in as a JSON
script block (`tojson` escapes <, > and &), read by static/map.js.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher.errors import (
    AmbiguousCityError,
    CityNotFoundError,
    CityOutsideIndexError,
    InputError,
)
from matcher.web import views
from matcher.web.api_routes import recommend_result
from matcher.web.params import ExplainQuery, PairQuery, RecommendQuery

router = APIRouter(include_in_schema=False)

EXAMPLES = ("Sejong, KR", "Cardiff, GB", "London, GB", "Llandovery, GB", "Yangpyeong, KR",
            "Lyon, FR")
PROGRAMME_CACHE = 16


class ProgrammeCache:
    """The last few programmes computed, per model version (a programme takes a second)."""

    def __init__(self, size: int = PROGRAMME_CACHE) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, loaded, query: PairQuery, country_a: str, country_b: str):
        lookup = loaded.matcher.lookup
        from matcher.programme.pairing import resolve_side

        key = (str(loaded.path), query, resolve_side(lookup, country_a, "a"),
               resolve_side(lookup, country_b, "b"))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        programme = query.programme(loaded.matcher, country_a, country_b)
        with self._lock:
            self._items[key] = programme
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return programme


def _render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    loaded = request.app.state.holder.current  # the footer names the version that answered
    context.setdefault("model_version", loaded.version if loaded is not None else "none")
    return request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status)


def error_page(request: Request, body: dict) -> HTMLResponse:
    """An error as a page: the message, and links for suggestions or candidates."""
    return _render(request, "error.html", status=body["status"], error=body)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    loaded = request.app.state.holder.get()
    examples = []
    for text in EXAMPLES:
        try:
            examples.append(loaded.matcher.lookup.record(loaded.matcher.resolve(text)))
        except (CityNotFoundError, AmbiguousCityError, InputError):
            continue
    return _render(request, "home.html", examples=examples, model_version=loaded.version)


@router.get("/search")
def search(request: Request, q: str = "") -> Response:
    """The search form without JavaScript: one city goes to its page, else a choice. A
    gazetteer place outside the index goes to its page too, which ranks it as one more city.
    Other parameters (the city page's filters) go along."""
    loaded = request.app.state.holder.get()
    try:
        row = loaded.matcher.resolve(q)  # errors render as pages with the candidates
        geonameid = int(loaded.matcher.model.geonameids[row])
    except CityOutsideIndexError as error:
        if error.place is None:
            raise
        geonameid = error.place.geonameid
    rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "q"])
    return RedirectResponse(f"/city/{geonameid}" + (f"?{rest}" if rest else ""), status_code=303)


def theme_names(matcher) -> tuple[str, ...]:
    """The themes field's suggestions: the model's themes, and the asked themes it matches
    through related ones (smart-city through the climate commitments)."""
    from matcher.explained.dimensions import RELATED_THEMES

    known = set(matcher.dimensions.theme_names)
    related = {theme for theme, others in RELATED_THEMES.items() if known & set(others)}
    return tuple(sorted(known | related))


@router.get("/city/{city}", response_class=HTMLResponse)
def city(request: Request, city: str) -> Response:
    """A city's page by GeoNames id; any other text (a name, `geonames:ID`) is searched."""
    from matcher.render import preamble

    if not city.isdigit():
        asked = urlencode([("q", city), *request.query_params.multi_items()])
        return RedirectResponse(f"/search?{asked}", status_code=303)
    geonameid = int(city)
    query = RecommendQuery.parse(request.query_params.multi_items())
    loaded, result = recommend_result(request, f"geonames:{geonameid}")
    card = views.profile(loaded, result.query.row)
    scale = views.Scale.over([m.compatibility for m in result.matches])
    link = urlencode([("city", f"geonames:{geonameid}"), *query.items()])
    colours = {m.geonameid: scale.colour(m.compatibility) for m in result.matches}
    return _render(request, "city.html", card=card, result=result, query=query,
                   map_data=views.city_map(loaded, card, result, scale), colours=colours,
                   api_link=link, preamble=preamble(result), weights=dict(result.weights),
                   pair_query=urlencode(ExplainQuery(query.themes).items()),
                   theme_names=theme_names(loaded.matcher), model_version=loaded.version)


@router.get("/pair/{a}/{b}", response_class=HTMLResponse)
def pair(request: Request, a: int, b: int) -> HTMLResponse:
    query = ExplainQuery.parse(request.query_params.multi_items())
    loaded = request.app.state.holder.get()
    explanation = query.explain(loaded.matcher, f"geonames:{a}", f"geonames:{b}")
    answering, _, _ = loaded.matcher.pair_rows(f"geonames:{a}", f"geonames:{b}")
    loaded = dataclasses.replace(loaded, matcher=answering)  # holds a place outside the index
    cards = [views.profile(loaded, side["row"]) for side in (explanation.query,
                                                             explanation.partner)]
    api_link = urlencode([("city", f"geonames:{a}"), ("partner", f"geonames:{b}"),
                          *query.items()])
    return _render(request, "pair.html", e=explanation, cards=cards, query=query,
                   api_link=api_link, theme_names=theme_names(loaded.matcher),
                   themes_query=urlencode(query.items()),
                   map_data=views.pair_map(loaded, explanation), model_version=loaded.version)


@router.get("/programme", response_class=HTMLResponse)
def programme(request: Request) -> HTMLResponse:
    params = request.query_params
    query = PairQuery.parse(params.multi_items(), allowed=("a", "b"))
    loaded = request.app.state.holder.get()
    a, b = params.get("a", "").strip(), params.get("b", "").strip()
    if not a or not b:
        return _render(request, "programme.html", programme=None, query=query, a=a, b=b,
                       model_version=loaded.version)
    result = request.app.state.programmes.get(loaded, query, a, b)
    scale = views.programme_scale(result)
    maps = {m.method: views.programme_map(result, m, scale)
            for m in (result.assignment, result.stable)}
    colours = {m.method: [scale.colour(p.compatibility) for p in m.pairs]
               for m in (result.assignment, result.stable)}
    api_link = urlencode([("a", a), ("b", b), *[(k, v) for k, v in params.multi_items()
                                                 if k not in ("a", "b")]])
    return _render(request, "programme.html", programme=result, query=query, a=a, b=b,
                   maps=maps, colours=colours, api_link=api_link, links=True,
                   model_version=loaded.version)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """The OpenAPI description as a page (Swagger UI would load from a CDN)."""
    spec = request.app.openapi()
    return _render(request, "docs.html", spec=spec)


@router.get("/licences", response_class=HTMLResponse)
def licences(request: Request) -> HTMLResponse:
    """The vendored map data and scripts: where they come from and their licences."""
    vendor = views.STATIC / "vendor"
    texts = [(path.name, path.read_text(encoding="utf-8"))
             for path in [vendor / "README.md", *sorted(vendor.glob("LICENSE-*"))]]
    return _render(request, "licences.html", texts=texts)
