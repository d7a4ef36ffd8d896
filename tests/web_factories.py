"""Shared helpers for the web app tests: model directories with a `current` link, and a model
whose user tag needs escaping (a real server in a thread: matcher.web.serve.background_server)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matcher_factories import relist_hashes
from pairing_factories import make_bilateral_model_dir

from matcher.store import registry

SCRIPT_TAG = "<script>alert('tag')</script>"


def tag_city(model_dir: Path, name: str, tag: str) -> Path:
    """Add `tag` to the user tags of the city called `name` (the profile shows them)."""
    path = Path(model_dir) / "cities.parquet"
    table = pd.read_parquet(path)
    rows = table["name"] == name
    table.loc[rows, "tags"] = table.loc[rows, "tags"].fillna("") + ";" + tag
    table.to_parquet(path, index=False)
    return relist_hashes(Path(model_dir))  # a changed file the server's verified load accepts


def models_with_versions(root: Path, seeds: tuple[int, ...] = (0, 1)) -> Path:
    """root/models with one bilateral version per seed ('v0', 'v1', ...); current -> the first."""
    models = Path(root) / "models"
    for seed in seeds:
        make_bilateral_model_dir(models / f"v{seed}", seed=seed)
    registry.switch_current(models, f"v{seeds[0]}")
    return models
