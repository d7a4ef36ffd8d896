"""What the training commands share: checking an output directory before any work, and which
open-data folder a build reads (training.cli, cli_data, cli_nightly)."""

from __future__ import annotations

import os


def output_dir(path, option: str = "--out"):
    """Check an output directory can be made, before any long work (nothing is created here):
    its nearest existing ancestor must be a writable directory."""
    from pathlib import Path

    from matcher.errors import InputError

    path = existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{option} {path}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: {existing} is not writable")
    return path


# Training commands are defined below this line, one section per stage.


def open_data_dir(open_data, no_open_data):
    """The open-data folder to build with (or None) and the report line when there is none:
    --no-open-data wins over the default; without either, the embedded data/open if present."""
    from pathlib import Path

    from matcher import config
    from matcher.errors import InputError

    if no_open_data and open_data:
        raise InputError("--open-data and --no-open-data contradict each other; give one")
    if no_open_data:
        return None, ("open data:            skipped (--no-open-data): features are GeoNames "
                      "and partnership facts only")
    if open_data:
        return Path(open_data), ""
    if config.DEFAULT_OPEN_DATA.is_dir():
        return config.DEFAULT_OPEN_DATA, ""
    return None, (f"open data:            none ({config.DEFAULT_OPEN_DATA} is absent); pass "
                  "--open-data DIR to add it")
