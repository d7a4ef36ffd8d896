"""`twin serve`: check the model loads, print the URL, run uvicorn; and the same server in a
thread on a free port (`background_server`), for the tests and the benchmark."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click

from matcher.cli import MODEL_OPTION


def listen(host: str, port: int) -> socket.socket:
    """A bound socket for host:port (port 0: a free one); InputError naming the flags when the
    address cannot be used (in use, not this machine's, a privileged port)."""
    from matcher.errors import InputError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        raise InputError(f"--host {host} --port {port}: cannot listen there ({reason}); "
                         "choose another --port, or a --host address of this machine") from None
    return sock


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (localhost by default; see docs/WEB.md for a reverse proxy).")
@click.option("--port", type=click.IntRange(min=1, max=65535), default=8000, show_default=True)
@MODEL_OPTION
def serve_command(host: str, port: int, model_dir: str | None) -> None:
    """Serve the web app and the JSON API (follows models/current unless --model is given)."""
    serve(host, port, model_dir)


def serve(host: str, port: int, model_dir: str | None) -> None:
    """Load the model once (a missing or damaged one fails here, not on the first request),
    bind the address (one in use fails here too), then serve until interrupted."""
    import uvicorn

    from matcher.web.app import create_app

    app = create_app(model_dir=Path(model_dir) if model_dir else None)
    loaded = app.state.holder.get()
    sock = listen(host, port)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"citytwin: serving model {loaded.version} at http://{shown}:{port}/ "
               f"({'pinned to ' + str(loaded.path) if model_dir else 'following models/current'})"
               "; Ctrl-C stops")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextlib.contextmanager
def background_server(app, start_seconds: float = 20.0) -> Iterator[str]:
    """Serve `app` with uvicorn on a free localhost port in a thread; yields the base URL."""
    import uvicorn

    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_seconds
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
