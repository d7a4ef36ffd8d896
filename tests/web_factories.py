"""Shared helpers for the web app tests: model directories with a `current` link, a real
server in a thread, and a model whose user tag needs escaping."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from pairing_factories import make_bilateral_model_dir

from matcher import registry

SCRIPT_TAG = "<script>alert('tag')</script>"


def tag_city(model_dir: Path, name: str, tag: str) -> Path:
    """Add `tag` to the user tags of the city called `name` (the profile shows them)."""
    path = Path(model_dir) / "cities.parquet"
    table = pd.read_parquet(path)
    rows = table["name"] == name
    table.loc[rows, "tags"] = table.loc[rows, "tags"].fillna("") + ";" + tag
    table.to_parquet(path, index=False)
    return Path(model_dir)


def models_with_versions(root: Path, seeds: tuple[int, ...] = (0, 1)) -> Path:
    """root/models with one bilateral version per seed ('v0', 'v1', ...); current -> the first."""
    models = Path(root) / "models"
    for seed in seeds:
        make_bilateral_model_dir(models / f"v{seed}", seed=seed)
    registry.switch_current(models, f"v{seeds[0]}")
    return models


@contextlib.contextmanager
def running_server(app) -> Iterator[str]:
    """Serve `app` with uvicorn on a free localhost port in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
