"""Sections of cities are not candidates (training.data.sections; issue 15), on real cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from training.data.sections import SECTION_RATIO, section_parents, sections_table
from training.model.dataset import candidate_mask

# name, country, lat, lon, population, has partnerships (GeoNames values of the snapshot)
CITIES = [
    ("London", "GB", 51.50853, -0.12574, 8_961_989, True),
    ("Archway", "GB", 51.56733, -0.13415, 215_667, False),
    ("Tottenham", "GB", 51.60373, -0.06794, 130_000, False),
    ("Walthamstow", "GB", 51.59067, -0.02077, 109_424, False),
    ("Enfield Town", "GB", 51.65147, -0.08497, 156_858, True),  # the borough of Enfield twins
    ("Becontree", "GB", 51.55290, 0.12900, 100_000, True),  # Barking and Dagenham twins
    ("Saint Peters", "GB", 51.36667, 1.41667, 125_370, False),  # Thanet's population
    ("Seoul", "KR", 37.56600, 126.97840, 10_349_312, True),
    ("Siheungdong", "KR", 37.45177, 126.91079, 128_142, False),
    ("Gwacheon", "KR", 37.42920, 126.98760, 70_000, True),  # a city of its own that twins
    ("Tokyo", "JP", 35.68950, 139.69171, 8_336_599, True),
    ("Kawaguchi", "JP", 35.80521, 139.71072, 607_373, False),  # 14x smaller: its own city
    ("Calais", "FR", 50.95194, 1.85635, 75_961, False),
    ("Dover", "GB", 51.12598, 1.31257, 28_000, False),
]


@pytest.fixture()
def cities() -> pd.DataFrame:
    rows = [dict(geonameid=i + 1, name=n, country_code=c, lat=lat, lon=lon, population=pop)
            for i, (n, c, lat, lon, pop, _) in enumerate(CITIES)]
    return pd.DataFrame(rows)


def has_partner() -> np.ndarray:
    return np.array([partnered for *_, partnered in CITIES])


def test_sections_of_london_and_seoul_are_found(cities):
    parents = section_parents(cities, has_partner())
    found = {cities.name[i]: cities.name[p] for i, p in enumerate(parents) if p >= 0}
    assert found == {"Archway": "London", "Tottenham": "London", "Walthamstow": "London",
                     "Siheungdong": "Seoul"}


def test_places_that_twin_and_cities_of_their_own_keep_their_rows(cities):
    parents = section_parents(cities, has_partner())
    kept = {cities.name[i] for i, p in enumerate(parents) if p < 0}
    assert {"Enfield Town", "Becontree", "Gwacheon", "Kawaguchi", "Calais", "Dover"} <= kept
    # the rule is only for cities without partnerships: Archway with one keeps its row
    partnered = has_partner()
    partnered[cities.index[cities.name == "Archway"][0]] = True
    assert section_parents(cities, partnered)[cities.index[cities.name == "Archway"][0]] == -1


def test_a_district_population_on_a_village_is_not_caught(cities):
    """The documented limit: Saint Peters (Kent) carries Thanet's 125k and no city 20 times
    larger lies within 15 km, so geography cannot tell."""
    parents = section_parents(cities, has_partner())
    assert parents[cities.index[cities.name == "Saint Peters"][0]] == -1


def test_the_ratio_and_the_border_hold(cities):
    moved = cities.copy()
    moved.loc[moved.name == "Kawaguchi", "population"] = int(8_336_599 / SECTION_RATIO) - 1
    parents = section_parents(moved, has_partner())
    assert moved.name[parents[moved.index[moved.name == "Kawaguchi"][0]]] == "Tokyo"
    foreign = cities.copy()  # a city just across a border is never a section
    foreign.loc[foreign.name == "Archway", "country_code"] = "FR"
    assert section_parents(foreign, has_partner())[1] == -1


def test_sections_are_not_candidates(cities):
    partners = has_partner()
    interactions = sp.csr_matrix((np.ones(partners.sum()),
                                  (np.flatnonzero(partners), np.flatnonzero(partners))),
                                 shape=(len(cities),) * 2)
    mask = candidate_mask(cities, interactions, min_population=50_000)
    offered = set(cities.name[mask])
    assert not offered & {"Archway", "Tottenham", "Walthamstow", "Siheungdong"}
    assert {"Enfield Town", "Becontree", "Kawaguchi", "Calais", "Gwacheon"} <= offered
    table = sections_table(cities, section_parents(cities, partners))
    assert table.name.tolist()[0] == "Archway" and table.section_of.tolist()[0] == "London"
