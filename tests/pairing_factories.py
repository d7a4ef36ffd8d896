"""Tiny model directories with more British and Korean cities, for the bilateral pairing tests.

Wraps matcher_factories.make_model_dir: its city frame gets `extra_gb` / `extra_kr` invented cities
("Gbtown 0", "Krtown 0", ...) placed inside each country, with seeded populations; ids are below
the factory's synthetic range so each gets exact score quantiles.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import matcher_factories
import numpy as np
import pandas as pd

BOXES = {"GB": ((50.5, 55.5), (-4.5, 0.5), "ENG", "United Kingdom", "EU"),
         "KR": ((34.8, 37.8), (126.5, 129.3), "11", "South Korea", "AS")}
FIRST_ID = 9_000_000


def extra_cities(code: str, count: int, seed: int, first_id: int) -> pd.DataFrame:
    """`count` invented cities inside the country's box, populations 20k..2M."""
    (lat0, lat1), (lon0, lon1), admin1, _, _ = BOXES[code]
    rng = np.random.default_rng(seed)
    stem = f"{code.title()}town"
    return pd.DataFrame({
        "geonameid": first_id + np.arange(count),
        "name": [f"{stem} {i}" for i in range(count)],
        "asciiname": [f"{stem} {i}" for i in range(count)],
        "alternatenames": "",
        "country_code": code,
        "admin1_code": admin1,
        "lat": rng.uniform(lat0, lat1, count),
        "lon": rng.uniform(lon0, lon1, count),
        "population": rng.integers(20_000, 2_000_000, count),
        "tags": rng.choice(["", "port", "university", "automotive"], count),
    })


def make_bilateral_model_dir(path: Path, extra_gb: int = 6, extra_kr: int = 4, seed: int = 0,
                             synthetic: int = 0, refine_depth: int = 0,
                             admin1: bool = False) -> Path:
    """make_model_dir with extra GB and KR cities (see the module docstring)."""
    original = matcher_factories.city_frame

    def city_frame(synthetic: int = 0, seed: int = 0) -> pd.DataFrame:
        frame = original(synthetic, seed)
        extra = pd.concat([extra_cities("GB", extra_gb, seed + 11, FIRST_ID),
                           extra_cities("KR", extra_kr, seed + 12, FIRST_ID + 100_000)],
                          ignore_index=True)
        extra["country_name"] = extra["country_code"].map({c: b[3] for c, b in BOXES.items()})
        extra["continent"] = extra["country_code"].map({c: b[4] for c, b in BOXES.items()})
        extra["timezone"] = "UTC"
        extra["is_capital"] = False
        extra["population"] = extra["population"].astype(np.int64)
        return pd.concat([frame, extra], ignore_index=True).sort_values(
            "geonameid", ignore_index=True)

    with mock.patch.object(matcher_factories, "city_frame", city_frame):
        return matcher_factories.make_model_dir(path, seed=seed, synthetic=synthetic,
                                                refine_depth=refine_depth, admin1=admin1)
