"""What a recommendation returns: the matches (`Match`, one row of `twin with`) and what is
printed around them (`Recommendation`); `to_dict()` gives the JSON of `twin with --json` and
the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from matcher.places.lookup import CityRecord


@dataclass(frozen=True)
class Match:
    """One recommended partner; `to_dict()` gives the JSON/CSV row."""

    rank: int
    geonameid: int
    name: str
    country_code: str
    admin1: str
    lat: float
    lon: float
    population: int
    distance_km: float
    score: float  # the ranking score, 0..1 (mutual: geometric mean of both percentiles)
    compatibility: float  # 0-100, matcher.ranking.compatibility of `score`
    performance: float | None  # 0-100 (matcher.explained.dimensions); None: no data on either side
    appetite: float | None
    synergies: float | None
    query_ranks_partner: float  # percentile of the partner in the query's list, 0..1
    partner_ranks_query: float  # percentile of the query in the partner's list, 0..1
    reasons: tuple[str, ...]
    probability: float = 0.0  # the re-ranker's calibrated partnership probability, 0..1

    @property
    def reason(self) -> str:
        """The reasons as one line."""
        return "; ".join(self.reasons)

    def to_dict(self) -> dict:
        row = asdict(self)
        row["reasons"] = list(self.reasons)
        return row


@dataclass(frozen=True)
class Recommendation:
    """Matches for one query city plus what the output prints around them."""

    query: CityRecord
    has_partnerships: bool
    mutual: bool
    per_country: int | None
    matches: tuple[Match, ...]
    existing_partners: tuple[CityRecord, ...]
    thin_precedent: tuple[tuple[str, int], ...] = ()  # (country, partnerships): said once
    precedent: tuple[tuple[str, int], ...] = ()  # the same, for a history on most rows
    ranked_by_others: bool = True  # False: not a candidate, so no list holds it (one-sided)
    # a place outside the model's index: the index city whose LightFM view it borrows
    stand_in: CityRecord | None = None
    said_once: tuple[str, ...] = ()  # reasons that stand on most rows, said once above them
    themes: tuple[str, ...] = ()  # the query's themes: its own from the data, then the asked
    themes_unmatched: tuple[str, ...] = ()  # asked themes no city has in the data
    weights: tuple[tuple[str, float], ...] = ()  # the shortlist was re-ranked by these

    def to_dict(self) -> dict:
        return {
            "query": {**asdict(self.query), "region": self.query.region,
                      "has_partnerships": self.has_partnerships},
            "ranking": "mutual" if self.mutual else "one-sided",
            "ranked_by_others": self.ranked_by_others,
            "stand_in": asdict(self.stand_in) if self.stand_in else None,
            "per_country": self.per_country,
            "matches": [m.to_dict() for m in self.matches],
            "existing_partners": [asdict(p) for p in self.existing_partners],
            "thin_precedent": [{"country_code": c, "partnerships": n}
                               for c, n in self.thin_precedent],
            "precedent": [{"country_code": c, "partnerships": n} for c, n in self.precedent],
            "said_once": list(self.said_once),
            "themes": list(self.themes), "themes_unmatched": list(self.themes_unmatched),
            "weights": dict(self.weights),
        }
