"""What one nightly run reads, where it writes, and how strict it is: the options that the job
(training.nightly.job) and its checks (training.nightly.checks) both read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matcher import config


@dataclass(frozen=True)
class NightlyOptions:
    """What one nightly run reads, where it writes, and how strict it is."""

    partnership_files: tuple[Path, ...] = ()
    user_files: tuple[Path, ...] = ()
    wikidata_files: tuple[Path, ...] = ()
    indicators: Path | None = None
    indicator_schema: Path | None = None
    open_data: Path | None = None  # the open-data folder joined to the cities (None: without)
    models_dir: Path = config.MODELS_DIR
    data_dir: Path = config.DATA_DIR
    keep: int = 7
    tolerance: float = 0.01  # candidate recall@10 may trail the current model's by this much
    max_list_change: float = 0.5  # share of sampled cities whose top 10 may change
    max_resolution_drop: float = 0.05  # absolute, on a 0..1 resolution rate (5 points)
    max_partnership_drop: float = 0.20  # relative to the last good run
    max_row_drop: float = 0.02  # input rows, relative to the last good run (truncated exports)
    accept_data_change: bool = False  # skip the comparison with the last good run, once

    @property
    def sources(self) -> tuple[Path, ...]:
        return (*self.partnership_files, *self.user_files, *self.wikidata_files)
