"""Open-data features: each table of the open-data folder joined to the processed city table.

One module per table (wup, worldbank, airports, ports, missions, covenant, heritage), each
returning a join.SourceResult; `build_open_features` runs them all and combines their columns
into the catalogue's per-city values (matcher.profile.CATALOGUE): growth falls back from the
agglomeration to the country (`growth_level` says which), themes are ';'-joined tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.columns import LEVEL_CITY, LEVEL_COUNTRY
from matcher.columns import Columns as C
from matcher.columns import OpenColumns as O
from matcher.errors import InputError
from matcher.profile import CATALOGUE, SOURCES, THEME_RULES
from training.data.opendata import airports, covenant, heritage, missions, ports, worldbank, wup
from training.data.opendata.join import UNJOINED_COLUMNS, CityIndex, SourceResult, TableReport

MODULES = (wup, worldbank, airports, ports, missions, covenant, heritage)
UNJOINED_FILE = "opendata_unjoined.csv"
OPEN_FEATURES = tuple(info for info in CATALOGUE if not info.builtin)


@dataclass(frozen=True)
class OpenFeatures:
    """The open data's per-city values (rows in city-table order) and what the joins did."""

    values: pd.DataFrame  # one column per OPEN_FEATURES entry
    reports: tuple[TableReport, ...]
    unjoined: pd.DataFrame  # UNJOINED_COLUMNS
    inputs: tuple[tuple[str, Path], ...]  # (source key, file)

    def report(self) -> dict:
        return {report.table: report.to_dict() for report in self.reports}


def _themes(results: list[SourceResult], cities: pd.DataFrame) -> np.ndarray:
    """';'-joined theme tags per city, in THEME_RULES order."""
    flags = {"government": cities[C.IS_CAPITAL].fillna(False).astype(bool).to_numpy()}
    for result in results:
        flags.update(result.themes)
    unknown = set(flags) - set(THEME_RULES)
    assert not unknown, f"themes without a rule in matcher.profile.THEME_RULES: {unknown}"
    order = [theme for theme in THEME_RULES if theme in flags]
    stacked = np.column_stack([flags[theme] for theme in order])
    return np.asarray([";".join(t for t, on in zip(order, row, strict=True) if on)
                       for row in stacked.tolist()], dtype=object)


def _combine(results: list[SourceResult], cities: pd.DataFrame) -> pd.DataFrame:
    """The catalogue's open columns from the tables' columns (growth falls back)."""
    columns: dict[str, np.ndarray] = {}
    for result in results:
        columns.update(result.columns)
    own = np.isfinite(columns[wup.CITY_GROWTH_2000_2020])
    columns[O.GROWTH_2000_2020] = np.where(own, columns[wup.CITY_GROWTH_2000_2020],
                                           columns[worldbank.COUNTRY_GROWTH_2010_2020])
    columns[O.GROWTH_2020_2035] = np.where(own, columns[wup.CITY_GROWTH_2020_2035],
                                           columns[worldbank.COUNTRY_GROWTH_RECENT])
    columns[O.GROWTH_LEVEL] = np.where(own, LEVEL_CITY, LEVEL_COUNTRY).astype(object)
    columns[O.THEMES] = _themes(results, cities)
    table = pd.DataFrame(index=cities.index)
    for info in OPEN_FEATURES:
        values = columns[info.name]
        if info.kind == "numeric":
            table[info.name] = np.round(np.asarray(values, dtype=np.float64), 6)
        elif info.kind == "binary":
            table[info.name] = np.asarray(values, dtype=bool)
        else:
            table[info.name] = pd.Series(values, index=cities.index, dtype="str")
    return table


def check_folder(directory: Path) -> None:
    """InputError naming the folder or the first missing table (checked before a build)."""
    from training.data.opendata.join import find_table

    if not directory.is_dir():
        raise InputError(f"--open-data {directory}: not a folder; give the folder of the open "
                         "tables (data/open) or build without them (--no-open-data)")
    for module in MODULES:
        find_table(directory, module.FILE)


def build_open_features(directory: Path, cities: pd.DataFrame) -> OpenFeatures:
    """Join every open table in `directory` to `cities`; InputError naming a missing or broken
    file (nothing is skipped silently: turn the open data off with --no-open-data)."""
    directory = Path(directory)
    check_folder(directory)
    cities = cities.reset_index(drop=True)
    index = CityIndex(cities)
    results = [module.derive(directory, index) for module in MODULES]
    unjoined = pd.concat([r.unjoined for r in results], ignore_index=True)[UNJOINED_COLUMNS]
    return OpenFeatures(_combine(results, cities), tuple(r.report for r in results), unjoined,
                        tuple((r.key, r.path) for r in results))


def source_manifest(features: OpenFeatures) -> list[dict]:
    """Source, licence and join rate of each table (the build manifest's open_data entry)."""
    rates = {report.table: report for report in features.reports}
    return [{"table": key, "file": path.name, "source": SOURCES[key].title,
             "licence": SOURCES[key].licence, "rows_in": rates[key].rows_in,
             "rows_joined": rates[key].rows_joined, "join_rate": rates[key].join_rate}
            for key, path in features.inputs]
