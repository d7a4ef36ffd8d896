"""The JSON API: the same JSON as `twin with --json`, `twin explain --json`, `twin pair --json`.

Filters are named as the CLI's flags with underscores (`country` repeatable or comma-separated,
`max_km`, `per_country`, `mutual=false` for `--one-sided`, `theme` repeatable, `weigh`, ...); see
matcher.web.params. Every
answer carries the model version it came from (`model_version`, and the `X-Model-Version`
header).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from matcher.errors import InputError
from matcher.web.params import ExplainQuery, PairQuery, RecommendQuery
from matcher.web.search import suggest

router = APIRouter(prefix="/api", tags=["api"])

THEME_HELP = ("the query city's own ambitions, matched against the candidates' themes "
              "(--theme; repeatable, or comma-separated), e.g. smart-city, maritime")
WEIGH_HELP = ("re-rank the model's best matches by what matters to you (--weigh), e.g. "
              "performance=1,appetite=1,synergies=2; model=W weighs the learned "
              "compatibility (1 unless given), a dimension not named weighs 0")

FORMATS = ("json", "csv")
MAX_SUGGESTIONS = 20


def _answer(body: dict, version: str) -> JSONResponse:
    return JSONResponse({**body, "model_version": version},
                        headers={"X-Model-Version": version})


def _required(request: Request, name: str, what: str) -> str:
    value = request.query_params.get(name, "").strip()
    if not value:
        raise InputError(f"{name}: give {what}")
    return value


def recommend_result(request: Request, city: str, allowed: tuple[str, ...] = ()):
    """(loaded model, Recommendation) for a request's city and filters; for a place outside the
    model's index, the model it was answered from (with the place as one more city)."""
    import dataclasses

    query = RecommendQuery.parse(request.query_params.multi_items(),
                                 allowed=("city", *allowed))
    loaded = request.app.state.holder.get()
    result = loaded.matcher.recommendation(city, query.filters(loaded.matcher))
    if result.stand_in is not None:
        answering, _, _ = loaded.matcher.answering(city)
        loaded = dataclasses.replace(loaded, matcher=answering)
    return loaded, result


@router.get("/recommend", summary="Twin partners for one city (as `twin with --json`)")
def recommend(request: Request,
              city: str = Query("", description="required: a name, 'Name, CC' or "
                                                "geonames:ID"),
              k: str | None = Query(None, description="how many, integer >= 1 (--top, "
                                                      "default 10)"),
              country: Annotated[list[str] | None, Query(
                  description="only these countries: ISO code or name (repeatable, or "
                              "comma-separated)")] = None,
              exclude_country: Annotated[list[str] | None, Query(
                  description="never these countries")] = None,
              include_domestic: str | None = Query(None, description="true/false"),
              min_population: str | None = Query(None, description="integer >= 0"),
              max_population: str | None = Query(None, description="integer >= 0"),
              max_km: str | None = Query(None, description="great-circle km, > 0"),
              per_country: str | None = Query(None, description="at most N per country; "
                                                                "0: no cap; default 3"),
              mutual: str | None = Query(None, description="true (default) or false "
                                                           "(--one-sided)"),
              theme: Annotated[list[str] | None, Query(description=THEME_HELP)] = None,
              weigh: str | None = Query(None, description=WEIGH_HELP),
              format: str = Query("json", description="json or csv"),
              download: str | None = Query(None, description="1: as an attachment")) -> Response:
    del k, country, exclude_country, include_domestic, min_population, max_population
    del max_km, per_country, mutual, theme, weigh  # documented here, parsed by .params
    where = _required(request, "city", "a city: a name, 'Name, CC' or geonames:ID")
    if format not in FORMATS:
        raise InputError(f"format: give json or csv, got {format!r}")
    loaded, result = recommend_result(request, where, allowed=("format", "download"))
    headers = {"X-Model-Version": loaded.version}
    if (download or "").lower() in ("1", "true", "yes", "on"):
        headers["Content-Disposition"] = (f'attachment; filename="citytwin-'
                                          f'{result.query.geonameid}.{format}"')
    if format == "csv":
        from matcher.render import recommendation_csv

        return Response(recommendation_csv(result), media_type="text/csv; charset=utf-8",
                        headers=headers)
    return JSONResponse({**result.to_dict(), "model_version": loaded.version}, headers=headers)


@router.get("/explain", summary="Why two cities match (as `twin explain --json`)")
def explain(request: Request,
            city: str = Query("", description="required: the first city, as for recommend"),
            partner: str = Query("", description="required: the second city"),
            theme: Annotated[list[str] | None, Query(description=THEME_HELP)] = None
            ) -> Response:
    del city, partner, theme
    query = _required(request, "city", "the first city")
    other = _required(request, "partner", "the second city")
    options = ExplainQuery.parse(request.query_params.multi_items(), allowed=("city", "partner"))
    loaded = request.app.state.holder.get()
    return _answer(options.explain(loaded.matcher, query, other).to_dict(), loaded.version)


@router.get("/pair", summary="A bilateral programme (as `twin pair --json`)")
def pair(request: Request,
         a: str = Query("", description="required: country A, ISO code or name (UK, Korea)"),
         b: str = Query("", description="required: country B"),
         min_population: str | None = Query(None, description="candidates from this size "
                                                                "up, default 100000"),
         capacity: str | None = Query(None, description="partners per city, default 1"),
         stable: str | None = Query(None, description="who proposes: a (default) or b"),
         include_existing: str | None = Query(None, description="true/false")) -> Response:
    del a, b, min_population, capacity, stable, include_existing
    country_a = _required(request, "a", "country A (ISO code or name)")
    country_b = _required(request, "b", "country B (ISO code or name)")
    query = PairQuery.parse(request.query_params.multi_items(), allowed=("a", "b"))
    loaded = request.app.state.holder.get()
    programme = request.app.state.programmes.get(loaded, query, country_a, country_b)
    return _answer(programme.to_dict(), loaded.version)


@router.get("/cities", summary="Suggestions for the search box")
def cities(request: Request, q: str = Query("", description="what the user typed"),
           limit: int = Query(8, ge=1, le=MAX_SUGGESTIONS)) -> Response:
    loaded = request.app.state.holder.get()
    found = suggest(loaded.matcher, loaded.prefix, q, limit, outside=loaded.outside)
    return _answer({"query": q, "cities": [s.to_dict() for s in found]}, loaded.version)


@router.get("/version", summary="The model version being served")
def version(request: Request) -> Response:
    from matcher.web.views import package_version

    loaded = request.app.state.holder.get()
    return _answer({"citytwin": package_version(), "model_path_name": loaded.path.name},
                   loaded.version)
