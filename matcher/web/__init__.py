"""`twin serve`: the web app over the public `matcher.api.Matcher` API (pages, JSON, map).

`create_app(...)` builds the FastAPI application; `matcher.web.state` keeps the loaded model and
follows `models/current`; `params` turns query strings into the CLI's filters; `views` shapes
what the templates and the map draw.
"""

from __future__ import annotations


def create_app(*args, **kwargs):
    """matcher.web.app.create_app, imported on first use (the report needs no web server)."""
    from matcher.web.app import create_app as build

    return build(*args, **kwargs)


__all__ = ["create_app"]
