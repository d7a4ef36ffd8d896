"""The arrays explanations read, built once per model: names, countries, sizes, the partnership
graph, country and first-level region pair counts and a fixed reference sample of candidates
that sub-score percentiles are taken over.

A query reads a few rows of each: nothing here imports scipy (a fresh `twin with` builds it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matcher.places.regions import between_regions
from matcher.ranking.rank import haversine_km
from matcher.scoring.csr import CSR

NEAR_KM = 100.0
NEIGHBOURS_FOR_COLD = 5
REFERENCE_SAMPLE = 4096  # sub-score percentiles are over this evenly spaced sample of candidates


def _region_pairs(arrays):
    """region_pairs(a, b) for Evidence: the admin1_pair signal's count, read back from its
    log(1 + count) row (exact for counts)."""
    from matcher.scoring.prepared import prepared

    admin1 = arrays.admin1

    def count(a: int, b: int) -> int:
        return round(float(np.expm1(prepared(arrays).admin1_row(int(admin1[a]))[admin1[b]])))

    return count


@dataclass
class Evidence:
    """Arrays the explanations read, built once per model (one row per model city)."""

    names: list[str]
    country_codes: np.ndarray  # str
    country_ids: np.ndarray  # int
    populations: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    degree: np.ndarray
    activity: np.ndarray
    candidate: np.ndarray  # bool
    graph: CSR  # binary partnerships
    country_pairs: np.ndarray  # (countries, countries) partnership counts
    region_pairs: object = None  # region_pairs(a, b): partnerships between two cities' regions
    admin1: object = None  # (n,) str: each city's admin1 code (None: the regions go unnamed)
    _anchor_cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._pairs: tuple | None = None
        self._reference: tuple | None = None
        self.radians = (np.radians(self.lat), np.radians(self.lon))  # what haversine_km reads
        self._warm_rows = np.flatnonzero(self.degree > 0)
        candidates = np.flatnonzero(self.candidate)
        if len(candidates) > REFERENCE_SAMPLE:  # every (len / sample)-th: no numpy.random
            # import (about 15 ms of a fresh `twin with`); rows are in GeoNames id order
            candidates = candidates[np.linspace(0, len(candidates) - 1, REFERENCE_SAMPLE)
                                    .round().astype(np.int64)]
        self.reference_rows = candidates

    @classmethod
    def from_model(cls, model) -> Evidence:
        """Collect the arrays from a loaded matcher.store.model.Model."""
        arrays = model.arrays
        binary = arrays.binary
        degree = np.asarray(arrays.degree, dtype=np.float64)
        names = [str(x) for x in model.column("name")]
        codes = model.column("country_code").astype(str)
        if model.has_column("partner_countries"):
            partner_countries = model.column("partner_countries").astype(np.float64)
        else:
            partner_countries = np.zeros_like(degree)
        return cls(
            names=names, country_codes=codes, country_ids=np.asarray(arrays.country_index),
            populations=np.asarray(arrays.population, dtype=np.float64),
            lat=np.asarray(arrays.lat, dtype=np.float64),
            lon=np.asarray(arrays.lon, dtype=np.float64), degree=degree,
            activity=np.log1p(degree) + np.log1p(partner_countries),
            candidate=np.asarray(arrays.candidate_mask, dtype=bool), graph=binary,
            country_pairs=np.asarray(arrays.country_pairs),
            region_pairs=_region_pairs(arrays) if arrays.admin1_index is not None else None,
            admin1=model.column("admin1_code").astype(str)
            if model.has_column("admin1_code") else None,
        )

    # ------------------------------------------------------------ building blocks
    def reference(self, query: int) -> np.ndarray:
        """Rows the percentiles are taken over: the candidates (a fixed sample), not the query."""
        return self._reference_of(query)[1]

    def _reference_of(self, query: int) -> tuple[np.ndarray, np.ndarray]:
        """(mask of the sample without the query, those rows), kept for the last query (its
        sub-scores read them several times)."""
        cached = self._reference  # one (query, pair) tuple: threads never see a mixed pair
        if cached is None or cached[0] != query:
            keep = self.reference_rows != query
            cached = (query, (keep, self.reference_rows[keep]))
            self._reference = cached
        return cached[1]

    def partners(self, row: int) -> np.ndarray:
        return self.graph.row(row)

    def region_pair_count(self, a: int, b: int) -> int:
        """Partnerships between the two cities' first-level regions (0 for older models)."""
        return 0 if self.region_pairs is None else self.region_pairs(a, b)

    def regions_text(self, a: int, b: int) -> str:
        """The two cities' regions as a reason says them: 'between Wales and
        Baden-Württemberg', 'within Brittany', else 'between these two regions'."""
        if self.admin1 is None:
            return "between these two regions"
        return between_regions(str(self.country_codes[a]), str(self.admin1[a]),
                               str(self.country_codes[b]), str(self.admin1[b]))

    def pair_count(self, a: int, b: int) -> int:
        """Partnerships in the model graph between the two cities' countries."""
        return round(float(self.country_pairs[self.country_ids[a], self.country_ids[b]]))

    def anchor_pairs(self, query: int) -> tuple[np.ndarray, str, np.ndarray, np.ndarray]:
        """anchors(query), and every (anchor, anchor's partner) pair but the query, as two
        arrays: built once per query (each of its picks reads them)."""
        cached = self._pairs  # one (query, pairs) tuple: threads never see a mixed pair
        if cached is None or cached[0] != query:
            anchors, kind = self.anchors(query)
            lists = [self.partners(a) for a in anchors.tolist()]
            anchor_of = np.repeat(anchors, [len(x) for x in lists]).astype(np.int64)
            others = np.concatenate(lists).astype(np.int64) if lists else np.empty(0, np.int64)
            keep = others != query
            cached = (query, (anchors, kind, anchor_of[keep], others[keep]))
            self._pairs = cached
        return cached[1]

    def anchors(self, query: int) -> tuple[np.ndarray, str]:
        """The query's partners, or for a city without any its nearest cities that have some."""
        partners = self.partners(query)
        if len(partners):
            return partners, "partner"
        cached = self._anchor_cache.get(query)
        if cached is None:
            warm = self._warm_rows
            distance = haversine_km(self.lat[query], self.lon[query], self.lat[warm],
                                    self.lon[warm])
            distance[warm == query] = np.inf
            take = min(NEIGHBOURS_FOR_COLD, len(warm))
            nearest = np.argpartition(distance, take - 1)[:take] if take else np.empty(0, int)
            nearest = nearest[np.lexsort((warm[nearest], distance[nearest]))]
            cached = warm[nearest[distance[nearest] <= 2 * NEAR_KM]]
            if len(self._anchor_cache) > 1024:
                self._anchor_cache.clear()
            self._anchor_cache[query] = cached
        return cached, "neighbour"

