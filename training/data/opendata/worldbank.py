"""World Bank World Development Indicators: country-level economy, openness and innovation.

The table is long (iso2, indicator, year, value). A row joins when its iso2 is a country of
the city table; every city then takes its country's values (level `country`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from matcher.columns import OpenColumns as O
from matcher.profile import RECENT_YEARS
from training.data.opendata.join import (
    CityIndex,
    Joined,
    SourceResult,
    numbers,
    read_table,
    source_result,
)

FILE = "world_bank_indicators.csv"
REQUIRED = ("iso2", "indicator", "year", "value")
COUNTRY_GROWTH_2010_2020 = "_country_growth_2010_2020"
COUNTRY_GROWTH_RECENT = "_country_growth_recent"
GROWTH_PERIOD = (2010, 2020)


def _latest(long: pd.DataFrame, indicator: str) -> pd.Series:
    """iso2 -> the indicator's value in its latest year with one."""
    rows = long[long["indicator"] == indicator].sort_values(["iso2", "year"])
    return rows.groupby("iso2")["value"].last()


def _recent_mean(long: pd.DataFrame, indicator: str, years: int) -> pd.Series:
    """iso2 -> mean of the indicator over its latest `years` years with values."""
    rows = long[long["indicator"] == indicator].sort_values(["iso2", "year"])
    return rows.groupby("iso2")["value"].apply(lambda v: v.tail(years).mean())


def country_values(long: pd.DataFrame) -> pd.DataFrame:
    """One row per iso2: the country-level values the features use (NaN where missing)."""
    long = long.dropna(subset=["value", "year"])
    growth = long[(long["indicator"] == "pop_growth_pct")
                  & long["year"].between(*GROWTH_PERIOD)].groupby("iso2")["value"].mean()
    gdp = long[long["indicator"] == "gdp_usd"].set_index(["iso2", "year"])["value"]
    fdi = long[long["indicator"] == "fdi_inflows_usd"].set_index(["iso2", "year"])["value"]
    fdi_share = (fdi / gdp.reindex(fdi.index) * 100.0).dropna().reset_index(name="value")
    fdi_share = fdi_share.sort_values(["iso2", "year"]).groupby("iso2")["value"].apply(
        lambda v: v.tail(RECENT_YEARS).mean())
    patents = long[long["indicator"] == "patent_apps_resident"].set_index(["iso2", "year"])
    people = long[long["indicator"] == "population"].set_index(["iso2", "year"])["value"]
    per_million = (patents["value"] / people.reindex(patents.index) * 1e6).dropna()
    per_million = per_million.reset_index(name="value").sort_values(["iso2", "year"])
    return pd.DataFrame({
        COUNTRY_GROWTH_2010_2020: growth,
        COUNTRY_GROWTH_RECENT: _recent_mean(long, "pop_growth_pct", RECENT_YEARS),
        O.GDP_PER_HEAD_PPP: _latest(long, "gdp_pc_ppp_usd"),
        O.GDP_PER_HEAD_GROWTH: _recent_mean(long, "gdp_pc_growth_pct", 2 * RECENT_YEARS),
        O.RND_SHARE: _latest(long, "rnd_pct_gdp"),
        O.PATENTS_PER_MILLION: per_million.groupby("iso2")["value"].last(),
        O.FDI_SHARE: fdi_share,
        O.TOURISM_SHARE: _latest(long, "tourism_receipts_pct_exports"),
    })


def derive(directory: Path, index: CityIndex) -> SourceResult:
    """Country values per city; a row joins when its country has cities in the table."""
    path, table = read_table(directory, FILE, REQUIRED)
    iso2 = table["iso2"].fillna("").astype(str).str.strip().str.upper()
    known = iso2.isin(index.countries).to_numpy()
    value = numbers(table, "value")
    n = len(table)
    reason = np.where(known, "", "no_country").astype(object)
    detail = np.where(known, "", "country '" + iso2 + "' has no city in the city table")
    missing = known & ~np.isfinite(value)
    reason[missing], detail[missing] = "no_value", "the value is empty"
    rows = np.where(reason == "", 0, -1).astype(np.int64)  # joined to a country, not a city
    joined = Joined(rows, np.where(rows >= 0, "country", "").astype(object), np.full(n, np.nan),
                    reason, detail.astype(object))
    long = pd.DataFrame({"iso2": iso2, "indicator": table["indicator"].astype(str),
                         "year": numbers(table, "year"), "value": value})[rows >= 0]
    values = country_values(long).reindex(index.country)
    columns = {name: values[name].to_numpy(dtype=np.float64) for name in values.columns}
    frame = table.assign(_name=table["indicator"].astype(str) + " " + table["year"].astype(str))
    return source_result("world_bank", path, joined, frame, "_name", "iso2",
                         np.full(n, np.nan), np.full(n, np.nan), columns)



