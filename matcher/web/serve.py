"""`twin serve`: check the model loads, print the URL, run uvicorn."""

from __future__ import annotations

from pathlib import Path

import click


def serve(host: str, port: int, model_dir: str | None) -> None:
    """Load the model once (a missing or damaged one fails here, not on the first request),
    then serve until interrupted."""
    import uvicorn

    from matcher.web.app import create_app

    app = create_app(model_dir=Path(model_dir) if model_dir else None)
    loaded = app.state.holder.get()
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"citytwin: serving model {loaded.version} at http://{shown}:{port}/ "
               f"({'pinned to ' + str(loaded.path) if model_dir else 'following models/current'})"
               "; Ctrl-C stops")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
