"""The FastAPI application: model holder, error handling, templates and static files.

Read-only: every route is a GET; no request parameter names a file (the model directory is
fixed at start-up, the static files are served from the package). Errors a user causes are a 4xx
with the CLI's message (JSON under /api, an HTML page elsewhere); anything else is a logged 500
with no traceback in the response.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from matcher.errors import (
    AmbiguousCityError,
    CityNotFoundError,
    CitytwinError,
    DataError,
    ModelLoadError,
    ModelNotFoundError,
)
from matcher.web.state import CHECK_SECONDS, ModelHolder
from matcher.web.views import STATIC, TEMPLATES, ink, package_version, score_text

log = logging.getLogger("citytwin.web")


def status_of(error: CitytwinError) -> int:
    """HTTP status of a citytwin error: the server's model or data missing or damaged is a 503,
    an unknown city a 404, any other (bad value, ambiguous city) the request's fault, 400."""
    if isinstance(error, CityNotFoundError):
        return 404
    if isinstance(error, (ModelNotFoundError, ModelLoadError, DataError)):
        return 503
    return 400


def error_body(error: CitytwinError) -> dict:
    """The JSON of an error: its message, kind, and suggestions or candidates when it has them."""
    body: dict = {"error": str(error), "kind": type(error).__name__,
                  "status": status_of(error)}
    if isinstance(error, CityNotFoundError):
        body["suggestions"] = list(error.suggestions)
    if isinstance(error, AmbiguousCityError):
        body["candidates"] = [{k: v for k, v in c.items() if k != "row"}
                              for c in error.candidates]
    return body


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def create_app(models_dir: Path | None = None, model_dir: Path | None = None,
               check_seconds: float = CHECK_SECONDS) -> FastAPI:
    """The web app serving `model_dir`, or else whatever `models_dir/current` points to."""
    from matcher.web import api_routes, pages

    app = FastAPI(title="citytwin", version=package_version(),
                  description="Twin-city recommendations: the JSON behind `twin with`, "
                              "`twin explain` and `twin pair`.",
                  docs_url=None, redoc_url=None)  # Swagger UI loads from a CDN: own /docs
    app.state.holder = ModelHolder(models_dir=models_dir, model_dir=model_dir,
                                   check_seconds=check_seconds)
    app.state.templates = Jinja2Templates(directory=str(TEMPLATES))
    app.state.templates.env.globals["package_version"] = package_version()
    app.state.templates.env.filters["ink"] = ink
    app.state.templates.env.filters["score"] = score_text
    app.state.programmes = pages.ProgrammeCache()
    app.add_middleware(GZipMiddleware, minimum_size=2048)  # the 1:50m shapes: 756 kB -> ~250 kB
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(api_routes.router)
    app.include_router(pages.router)

    @app.exception_handler(CitytwinError)
    async def citytwin_error(request: Request, error: CitytwinError):
        if _wants_json(request):
            return JSONResponse(error_body(error), status_code=status_of(error))
        return pages.error_page(request, error_body(error))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ())[1:])}: {e.get('msg')}"
                             for e in error.errors())
        body = {"error": problems or "invalid request", "kind": "InputError", "status": 400}
        if _wants_json(request):
            return JSONResponse(body, status_code=400)
        return pages.error_page(request, body)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        message = "no such page" if error.status_code == 404 else str(error.detail)
        body = {"error": message, "kind": "HTTPException", "status": error.status_code}
        if _wants_json(request) or request.url.path.startswith("/static/"):
            return JSONResponse(body, status_code=error.status_code)
        return pages.error_page(request, body)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        log.exception("unexpected error on %s", request.url.path)
        body = {"error": "internal error; the server log has the details", "kind": "internal",
                "status": 500}
        if _wants_json(request):
            return JSONResponse(body, status_code=500)
        return HTMLResponse("<!doctype html><title>citytwin: error</title>"
                            "<p>Internal error; the server log has the details.</p>",
                            status_code=500)

    return app
