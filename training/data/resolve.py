"""Entity resolution: map every partnership end to a GeoNames id, keep one edge per city pair.

Rules (each end independently, same rules for every source; `method` in the report counts each):
1. `id`: a GeoNames id given by the source (user CSV, Wikidata P1566) that the gazetteer knows.
2. Otherwise the country text becomes ISO2 codes (training.data.countries) and the name becomes
   folded variants, most specific first (full name, sub-city unit, the unit without administrative
   words such as `District`, `Borough of`, `-gu`, `Gmina`, each half of `Albula/Alvra`, parent
   city). For each variant in turn, gazetteer places of that folded name (name, ASCII name or Latin
   alternate name) in those countries (and their territories: Mariehamn, Finland is AX) are
   candidates. With coordinates a candidate confirms only within MATCH_KM of them (`name_near`): the
   nearest wins, and among candidates within TIE_KM of the nearest the most populous. A place of >=
   REGION_MIN_POPULATION within REGION_KM also confirms (`name_region`: sources geocode `Veracruz`
   at its region's centroid). Without coordinates the most populous wins (`name_only`). Sub-city
   units: the unit when GeoNames has it near the coordinates (Tokyo wards), else the parent city
   (Seoul districts -> Seoul); both listings of a partnership take the same variants.
3. `fuzzy_near`: a typo (rapidfuzz ratio >= FUZZY_SCORE) within FUZZY_KM, or one name's words all
   within the other's (`Bad Kötzting` ~ `Kötzting`) within TOKEN_KM, in the stated countries.
   `name_part`: one piece of a hyphenated name within PART_KM (`Aÿ-Champagne` -> Aÿ; merged
   communes keep their old names). Both are names confirmed by the coordinates, not guesses.
4. `coords_abroad`: the coordinates lie in another country than the stated one (the geocoder
   picked a namesake abroad, `Surrey, Canada` placed in England) and the name exists in the
   stated country: the most populous such place. It lowers within_30km_rate, honestly.
5. Blank or unrecognised country with coordinates: rules 2-3 across all countries.
The next two rules stand in a nearby place for a name that no gazetteer place of the stated
countries carries at all (never when a place of that name exists elsewhere in them: then either
the coordinates or the name are wrong and nothing is guessed; never without a recognised country;
only places of the stated countries). The stand-in is never farther than AREA_KM from the row's
coordinates, so it is the right location, country and (for areas) size band for the model, which
uses nothing else; the report counts these ends apart so their share is visible.
6. `area_main_town`: the name marks an administrative area (training.data.names.is_area_name:
   County, District, Borough, Oblast, `-shire`, ...), which GeoNames' populated-place table lacks:
   the area is represented by its main town, the most populous place within AREA_KM = 15 km of the
   coordinates (sources put an area at its centroid; 15 km is about the radius of a typical
   district, county or municipality of 500-1500 km2, so the town found is usually inside it, while a
   20 km radius already pulled in neighbouring cities: Flintshire -> Chester, East Staffordshire ->
   Derby). The same, after rule 7 finds nothing, in MUNICIPALITY_COUNTRIES, where twinning partners
   are municipalities named as such (Mariagerfjord, Nittedal, Selwyn).
7. `nearest_place`: otherwise (a village below the gazetteer's 500-inhabitant floor, a borough
   without a marker) the nearest place within NEAREST_KM = 5 km: a neighbour that close shares
   location, country and region; 5 km is about the spacing of villages in rural Europe, so a
   village farther from any listed place (or any name in a sparse region) stays unresolved.
A name that no place carries but that names a first-level region of the stated country (ISO
3166-2 through pycountry: `Western Cape`, or any name qualified `(state)`, `(province)`:
`Victoria (state)`) is rejected as `region_not_city` before rules 6-7, never stood in by a
village near the region's centroid (Bonnievale, Mandurang).
Anything else is rejected with a reason (no_name_match, namesake_far, unknown_country,
unknown_geonameid, region_not_city); a name matching only in another country near the
coordinates is NOT taken: on this data it is mostly the geocoder placing a namesake abroad
(Randwick, England -> Sydney).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from sklearn.neighbors import BallTree

from matcher.columns import Columns as C
from matcher.scoring.signals import EARTH_RADIUS_KM, haversine_km
from training.data.countries import CountryNormaliser
from training.data.names import (
    fold,
    is_area_name,
    is_latin,
    name_parts,
    name_variants,
    names_region,
    token_subset,
)

EARTH_KM = EARTH_RADIUS_KM
MATCH_KM = 50.0  # a name match must lie this close to the row's coordinates
REGION_KM = 150.0  # ... or this close for a large city geocoded at its region's centroid
REGION_MIN_POPULATION = 100_000
TIE_KM = 5.0  # candidates this much farther than the nearest still compete on population
FUZZY_KM = 15.0  # typo-level fuzzy matches must lie this close to the coordinates
FUZZY_SCORE = 88.0
TOKEN_KM = 15.0  # 'Bad Kötzting' ~ 'Kötzting', 'Greater Bendigo' ~ 'Bendigo' this close
TOKEN_SCORE = 95.0
PART_KM = 10.0  # one part of a compound name ('Aÿ' of 'Aÿ-Champagne') must lie this close
AREA_KM = 15.0  # an administrative area is represented by its main town within this radius
NEAREST_KM = 5.0  # a village below the gazetteer floor by the nearest place within this radius
WITHIN_KM = 30.0  # the report's within_30km_rate
# countries whose twinning partners are municipalities or councils that Wikipedia lists by the
# municipality's own name (kommune, kommun, vald, novads, sveitarfélag, LGA, si/gun): a name
# there matching no populated place, with none within NEAREST_KM, is taken as such an area
MUNICIPALITY_COUNTRIES = frozenset({
    "NO", "SE", "DK", "IS", "GL", "FO", "FI", "EE", "LV", "AU", "NZ", "ZA", "KR",
})
END_COLUMNS = ["index", "method", "distance_km", "reason", "detail"]


@dataclass(frozen=True)
class EndQuery:
    """One partnership end as a source gives it."""

    name: str
    country: str
    lat: float
    lon: float
    geonameid: int | None
    strict_country: bool  # user files: an unrecognised country rejects the end


class Resolver:
    """Name and coordinate indexes over a gazetteer city table (row positions of `cities`)."""

    def __init__(self, cities: pd.DataFrame, countries: pd.DataFrame) -> None:
        self.cities = cities.reset_index(drop=True)
        self.ids = self.cities[C.GEONAMEID].to_numpy(np.int64)
        self.row_of_id = {int(g): i for i, g in enumerate(self.ids)}
        self.country = self.cities[C.COUNTRY].to_numpy(dtype=object)
        self.population = self.cities[C.POPULATION].to_numpy(np.int64)
        self.radians = np.radians(self.cities[[C.LAT, C.LON]].to_numpy(np.float64))
        self.tree = BallTree(self.radians, metric="haversine")
        self.countries = CountryNormaliser(
            countries[C.ISO2].tolist(), countries[C.ISO3].tolist(),
            countries[C.COUNTRY_NAME].tolist())
        self.spellings: list[list[str]] = []
        self.by_name = self._name_index()

    def _name_index(self) -> dict[str, np.ndarray]:
        """Folded spelling -> gazetteer rows; also fills self.spellings (row -> its keys)."""
        keys: dict[str, list[int]] = {}
        names = zip(self.cities[C.NAME], self.cities[C.ASCII_NAME], self.cities[C.ALT_NAMES],
                    strict=True)
        for row, (name, ascii_name, alts) in enumerate(names):
            spellings = {name, ascii_name, *(a for a in alts.split(";") if a and is_latin(a))}
            folded = sorted({fold(s) for s in spellings} - {""})
            self.spellings.append(folded)
            for key in folded:
                keys.setdefault(key, []).append(row)
        return {k: np.asarray(v, dtype=np.int64) for k, v in keys.items()}

    def distances_km(self, rows: np.ndarray, lat: float, lon: float) -> np.ndarray:
        """Haversine distance from (lat, lon) to each gazetteer row, vectorised."""
        return haversine_km(np.radians(lat), np.radians(lon), self.radians[rows, 0],
                            self.radians[rows, 1])

    def _candidates(self, key: str, codes: tuple[str, ...]) -> np.ndarray:
        rows = self.by_name.get(key, np.empty(0, np.int64))
        return rows[np.isin(self.country[rows], codes)] if codes and len(rows) else rows

    def _most_populous(self, rows: np.ndarray) -> int:
        return int(rows[np.lexsort((self.ids[rows], -self.population[rows]))[0]])

    def _nearest(self, rows: np.ndarray, dist: np.ndarray) -> int:
        close = dist <= dist.min() + TIE_KM
        return self._most_populous(rows[close])

    def _fuzzy_near(self, variants: list[str], codes, lat: float, lon: float) -> int:
        """Best approximate name match near the coordinates, or -1: a typo-level match
        (ratio >= FUZZY_SCORE) within FUZZY_KM, or a token-subset match within TOKEN_KM."""
        rows, dist = self.tree.query_radius(np.radians([[lat, lon]]), r=TOKEN_KM / EARTH_KM,
                                            return_distance=True)
        rows, dist = rows[0], dist[0] * EARTH_KM
        if codes:
            keep = np.isin(self.country[rows], codes)
            rows, dist = rows[keep], dist[keep]
        best: tuple[float, float, int] = (0.0, 0.0, -1)
        for row, km in zip(rows.tolist(), dist.tolist(), strict=True):
            for v in variants[:2]:
                for spelling in self.spellings[row]:
                    if km <= FUZZY_KM:
                        score = fuzz.ratio(v, spelling)
                        score = score if score >= FUZZY_SCORE else 0.0
                    else:
                        score = 0.0
                    if not score and token_subset(v, spelling):
                        score = TOKEN_SCORE
                    if score and (score, -km, -row) > (best[0], -best[1], -best[2]):
                        best = (score, km, row)
        return best[2]

    def _near(self, lat: float, lon: float, km: float, codes) -> tuple[np.ndarray, np.ndarray]:
        """Gazetteer rows within km of (lat, lon) in the given countries, and their distances."""
        rows, dist = self.tree.query_radius(np.radians([[lat, lon]]), r=km / EARTH_KM,
                                            return_distance=True)
        rows, dist = rows[0], dist[0] * EARTH_KM
        keep = np.isin(self.country[rows], codes)
        return rows[keep], dist[keep]

    def _part_near(self, parts: list[str], codes, lat: float, lon: float) -> int:
        """Nearest place named like one part of a compound name within PART_KM, or -1."""
        rows, dist = self._near(lat, lon, PART_KM, codes)
        hits = [(km, int(self.ids[row]), int(row)) for row, km in zip(rows, dist, strict=True)
                if any(part in self.spellings[row] for part in parts)]
        return min(hits)[2] if hits else -1

    def _stand_in(self, end: EndQuery, codes) -> tuple[int, str]:
        """For a name no gazetteer place carries, a place in the stated countries: a marked
        area's main town (most populous within AREA_KM), else the nearest place within
        NEAREST_KM, else, in MUNICIPALITY_COUNTRIES, the main town within AREA_KM."""
        area = is_area_name(end.name)
        if not area:
            rows, dist = self._near(end.lat, end.lon, NEAREST_KM, codes)
            if len(rows):
                return int(rows[np.lexsort((self.ids[rows], dist))[0]]), "nearest_place"
        if area or codes[0] in MUNICIPALITY_COUNTRIES:
            rows, _ = self._near(end.lat, end.lon, AREA_KM, codes)
            if len(rows):
                return self._most_populous(rows), "area_main_town"
        return -1, ""

    def resolve(self, end: EndQuery) -> tuple[int, str, float, str | None, str | None]:
        """(gazetteer row or -1, method, distance km or NaN, reason, detail) for one end."""
        has_coords = bool(np.isfinite(end.lat) and np.isfinite(end.lon))
        if end.geonameid is not None and end.geonameid in self.row_of_id:
            return self._done(self.row_of_id[end.geonameid], "id", end, has_coords)
        variants, qualifier = name_variants(end.name)
        codes = self.countries.codes_for(end.country)
        if not end.country.strip() and qualifier:
            codes = self.countries.codes_for(qualifier) or ()
        label = f"'{end.name}' ({end.country or 'no country'})"
        if codes is None and (end.strict_country or not has_coords):
            return (-1, "", np.nan, "unknown_country",
                    f"{label}: country not recognised; use an ISO2 code or an English name")
        codes = self.countries.search_codes(codes or ())
        if not variants:
            missing = f"GeoNames id {end.geonameid} is not in the gazetteer and no name is given"
            return -1, "", np.nan, "unknown_geonameid", f"{label}: {missing}"
        seen_far: list[int] = []
        for key in variants:
            rows = self._candidates(key, codes)
            if not len(rows):
                continue
            if not has_coords:
                return self._done(self._most_populous(rows), "name_only", end, False)
            dist = self.distances_km(rows, end.lat, end.lon)
            near = dist <= MATCH_KM
            if near.any():
                return self._done(self._nearest(rows[near], dist[near]), "name_near", end, True)
            big = (self.population[rows] >= REGION_MIN_POPULATION) & (dist <= REGION_KM)
            if big.any():
                return self._done(self._nearest(rows[big], dist[big]), "name_region", end, True)
            seen_far.extend(int(r) for r in rows)
        if has_coords:
            row = self._fuzzy_near(variants, codes, end.lat, end.lon)
            if row >= 0:
                return self._done(row, "fuzzy_near", end, True)
            if codes and (parts := name_parts(end.name)):
                row = self._part_near(parts, codes, end.lat, end.lon)
                if row >= 0:
                    return self._done(row, "name_part", end, True)
        if seen_far and codes and has_coords:
            _, nearest = self.tree.query(np.radians([[end.lat, end.lon]]), k=1)
            if self.country[nearest[0, 0]] not in codes:
                return self._done(self._most_populous(np.asarray(seen_far)), "coords_abroad",
                                  end, True)
        if seen_far:
            return (-1, "", np.nan, "namesake_far",
                    f"{label}: places of that name exist only farther than {MATCH_KM:.0f} km "
                    f"from ({end.lat}, {end.lon})")
        if codes and (region := names_region(end.name, codes[0])) is not None:
            return (-1, "", np.nan, "region_not_city",
                    f"{label}: names {region}, a first-level region of {codes[0]}, not a "
                    "city; give the city meant, or leave the row out")
        if has_coords and codes:
            row, method = self._stand_in(end, codes)
            if row >= 0:
                return self._done(row, method, end, True)
            radius = (AREA_KM if is_area_name(end.name) or codes[0] in MUNICIPALITY_COUNTRIES
                      else NEAREST_KM)
            return (-1, "", np.nan, "no_name_match",
                    f"{label}: no GeoNames populated place matches, and none lies within "
                    f"{radius:.0f} km of ({end.lat}, {end.lon}) in {'/'.join(codes)}")
        return -1, "", np.nan, "no_name_match", f"{label}: no GeoNames populated place matches"

    def _done(self, row: int, method: str, end: EndQuery, has_coords: bool):
        dist = (float(self.distances_km(np.asarray([row]), end.lat, end.lon)[0])
                if has_coords else np.nan)
        return row, method, dist, None, None


def _end_queries(rows: pd.DataFrame, side: str) -> pd.DataFrame:
    cols = [f"name_{side}", f"country_{side}", f"lat_{side}", f"lon_{side}",
            f"geonameid_{side}"]
    ends = rows[cols].copy()
    ends.columns = ["name", "country", "lat", "lon", "geonameid"]
    ends["strict"] = rows[C.SOURCE].eq("user").to_numpy()
    return ends


def resolve_ends(resolver: Resolver, rows: pd.DataFrame, progress=None) -> list[pd.DataFrame]:
    """Per side ('1', '2'), a frame aligned with rows: END_COLUMNS (index -1 when unresolved)."""
    ends = [_end_queries(rows, side) for side in ("1", "2")]
    stacked = pd.concat(ends, ignore_index=True)
    keys = stacked.astype({"geonameid": "float64"}).fillna({"lat": np.inf, "lon": np.inf,
                                                             "geonameid": -1.0})
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys))
    results = []
    items = list(uniques)
    for name, country, lat, lon, gid, strict in (progress(items) if progress else items):
        query = EndQuery(name, country, float(lat) if np.isfinite(lat) else np.nan,
                         float(lon) if np.isfinite(lon) else np.nan,
                         int(gid) if gid >= 0 else None, bool(strict))
        results.append(resolver.resolve(query))
    table = pd.DataFrame(results, columns=END_COLUMNS)
    resolved = table.iloc[codes].reset_index(drop=True)
    return [resolved.iloc[: len(rows)].reset_index(drop=True),
            resolved.iloc[len(rows):].reset_index(drop=True)]


# An edge listed by several sources takes its outcome from the most informative one.
SOURCE_PRIORITY = {"snapshot": 1, "wikidata": 2, "user": 3}
STATUS_WEIGHT = {"active": 1.0, "dormant": 0.5, "ended": 0.25}
ACTIVE_FLOOR = 0.25
PARTNERSHIP_COLUMNS = [C.CITY_A, C.CITY_B, C.WEIGHT, C.STATUS, C.STRENGTH, C.SINCE, C.SOURCES,
                       C.LISTINGS]


def partnership_weight(status: str | None, strength: float) -> float:
    """Training weight (docs/CONTRACTS.md): listed 1; active 1 (x strength, floor 0.25);
    dormant 0.5; ended 0.25."""
    if status is None or (isinstance(status, float) and np.isnan(status)):
        return 1.0
    if status == "active" and np.isfinite(strength):
        return max(ACTIVE_FLOOR, float(strength))
    return STATUS_WEIGHT[status]


def merge_partnerships(listings: pd.DataFrame) -> pd.DataFrame:
    """One undirected edge per (city_a < city_b) from resolved listings in input order.

    listings: CITY_A, CITY_B (already ordered), SOURCE, STATUS, STRENGTH, SINCE. Merge rule:
    status and strength come from the highest-priority source that gives them (user > wikidata >
    snapshot), the later listing winning within a source (a correction appended later); since is
    the earliest year given; sources are joined sorted; listings counts the merged rows.
    """
    frame = listings.reset_index(drop=True).assign(
        _priority=listings[C.SOURCE].map(SOURCE_PRIORITY).fillna(0).to_numpy(),
        _order=np.arange(len(listings)))
    frame = frame.sort_values([C.CITY_A, C.CITY_B, "_priority", "_order"], kind="stable")
    groups = frame.groupby([C.CITY_A, C.CITY_B], sort=True)
    edges = pd.DataFrame({
        C.STATUS: groups[C.STATUS].last(),
        C.STRENGTH: groups[C.STRENGTH].last().astype("float64"),
        C.SINCE: groups[C.SINCE].min().astype("Int64"),
        C.SOURCES: groups[C.SOURCE].agg(lambda s: ";".join(sorted(set(s)))),
        C.LISTINGS: groups.size().astype("int64"),
    }).reset_index()
    edges[C.STATUS] = edges[C.STATUS].astype(object).where(edges[C.STATUS].notna(), None)
    edges[C.WEIGHT] = [partnership_weight(s, w)
                       for s, w in zip(edges[C.STATUS], edges[C.STRENGTH], strict=True)]
    edges = edges.astype({C.CITY_A: "int64", C.CITY_B: "int64", C.WEIGHT: "float64"})
    return edges[PARTNERSHIP_COLUMNS].reset_index(drop=True)
